// src/ops/linear_ops.cpp — matmul (nn.Linear), the fused projections (matmul_split,
// gated_matmul, their RMSNorm-prologue forms, matmul_add), gated activations, gelu, softmax,
// the residual add: checks + dispatch to the CPU kernels. The fused projections run one CUDA
// launch where the GEMV takes them, else the composed ops (per-part matmuls on row views of the
// stacked weight, rms_norm before, add after).
#include "kernels/cpu/cpu_kernels.h"
#include "ops/cuda_ops.h"
#include "ops/op_checks.h"
#include "ops/ops.h"

namespace lightllm::ops {

using namespace detail;
using core::DType;

Status matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(x, matmul(x, w, bias, out));
  constexpr std::string_view op = "matmul";
  LLM_RETURN_IF_ERROR(check_projection(op, x, w, bias, {"out", out}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 1, w.dim(0), "n = w.dim(0)"));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"w", w}, {DType::f32, DType::bf16, DType::f16}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"out", out}, {DType::f32}));
  if (bias.defined()) LLM_RETURN_IF_ERROR(check_dtype(op, {"bias", bias}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&x, &w, &bias, &out}));
  if (out.raw() == x.raw()) return core::invalid_argument("matmul: out must not alias x");
  kernels::cpu::matmul({.x = x.data<float>(),
                        .w = w.raw(),
                        .w_dtype = w.dtype(),
                        .bias = bias.defined() ? bias.data<float>() : nullptr,
                        .out = out.data<float>(),
                        .m = x.dim(0),
                        .n = w.dim(0),
                        .k = x.dim(1)});
  return {};
}

bool fused_decode_path(const Tensor& x) {
  return x.defined() && x.device() == core::Device::cuda && x.ndim() == 2 &&
         x.dim(0) <= kFusedDecodeMaxBatch;
}

namespace {

// matmul_split of x, or with norm: of rms_norm(norm->x) (x is then norm->normed).
Status matmul_split_impl(const Tensor& x, const Tensor& w, const Tensor& bias,
                         std::initializer_list<Tensor*> outs, const NormedInput* norm) {
  constexpr std::string_view op = "matmul_split";
  if (outs.size() == 0 || outs.size() > kMaxSplitParts)
    return core::invalid_argument("{}: {} outputs (1 to {})", op, outs.size(), kMaxSplitParts);
  LLM_RETURN_IF_ERROR(check_tensor(op, {"x", x}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"w", w}, 2));
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", w}, 1, x.dim(1), "k = x.dim(1)"));
  int64_t rows = 0;
  for (Tensor* o : outs) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"out", *o}, 2));
    LLM_RETURN_IF_ERROR(check_dim(op, {"out", *o}, 0, x.dim(0), "m = x.dim(0)"));
    rows += o->dim(1);
  }
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", w}, 0, rows, "the outputs' columns together"));
  if (bias.defined()) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"bias", bias}, 1));
    LLM_RETURN_IF_ERROR(check_dim(op, {"bias", bias}, 0, rows, "w.dim(0)"));
  }
#if LIGHTLLM_CUDA
  if (x.device() == core::Device::cuda) {
    LLM_ASSIGN_OR_RETURN(const bool done, cuda_impl::try_matmul_split(x, w, bias, outs, norm));
    if (done) return {};
  }
#endif
  if (norm != nullptr)
    LLM_RETURN_IF_ERROR(rms_norm(norm->x, norm->weight, norm->eps, norm->normed));
  int64_t row0 = 0;
  for (Tensor* o : outs) {
    const int64_t n = o->dim(1);
    LLM_RETURN_IF_ERROR(
        matmul(x, w.rows(row0, n), bias.defined() ? bias.rows(row0, n) : Tensor(), *o));
    row0 += n;
  }
  return {};
}

// gated_matmul of x, or with norm: of rms_norm(norm->x) (x is then norm->normed).
Status gated_matmul_impl(const Tensor& x, const Tensor& w, const Tensor& bias, GatedAct act,
                         Tensor& up_scratch, Tensor& out, const NormedInput* norm) {
  constexpr std::string_view op = "gated_matmul";
  LLM_RETURN_IF_ERROR(check_projection(op, x, w, bias, {"out", out}));
  const int64_t inter = out.dim(1);
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", w}, 0, 2 * inter, "2 * inter = 2 * out.dim(1)"));
#if LIGHTLLM_CUDA
  if (x.device() == core::Device::cuda) {
    LLM_ASSIGN_OR_RETURN(const bool done, cuda_impl::try_gated_matmul(x, w, bias, act, out, norm));
    if (done) return {};
  }
#endif
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"out", out}, {"up_scratch", up_scratch}));
  if (norm != nullptr)
    LLM_RETURN_IF_ERROR(rms_norm(norm->x, norm->weight, norm->eps, norm->normed));
  LLM_RETURN_IF_ERROR(
      matmul(x, w.rows(0, inter), bias.defined() ? bias.rows(0, inter) : Tensor(), out));
  LLM_RETURN_IF_ERROR(matmul(x, w.rows(inter, inter),
                             bias.defined() ? bias.rows(inter, inter) : Tensor(), up_scratch));
  if (act == GatedAct::silu) return silu_mul(out, up_scratch, out);
  return gelu_mul(out, up_scratch, act == GatedAct::gelu_tanh, out);
}

Status check_normed_input(std::string_view op, const NormedInput& in) {
  LLM_RETURN_IF_ERROR(check_tensor(op, {"in.x", in.x}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"in.normed", in.normed}, 2));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"in.x", in.x}, {"in.normed", in.normed}));
  if (in.x.raw() == in.normed.raw())
    return core::invalid_argument("{}: in.normed must not alias in.x", op);
  return {};
}

}  // namespace

Status matmul_split(const Tensor& x, const Tensor& w, const Tensor& bias,
                    std::initializer_list<Tensor*> outs) {
  return matmul_split_impl(x, w, bias, outs, nullptr);
}

Status gated_matmul(const Tensor& x, const Tensor& w, const Tensor& bias, GatedAct act,
                    Tensor& up_scratch, Tensor& out) {
  return gated_matmul_impl(x, w, bias, act, up_scratch, out, nullptr);
}

Status rms_norm_matmul_split(const NormedInput& in, const Tensor& w, const Tensor& bias,
                             std::initializer_list<Tensor*> outs) {
  LLM_RETURN_IF_ERROR(check_normed_input("rms_norm_matmul_split", in));
  return matmul_split_impl(in.normed, w, bias, outs, &in);
}

Status rms_norm_gated_matmul(const NormedInput& in, const Tensor& w, const Tensor& bias,
                             GatedAct act, Tensor& up_scratch, Tensor& out) {
  LLM_RETURN_IF_ERROR(check_normed_input("rms_norm_gated_matmul", in));
  return gated_matmul_impl(in.normed, w, bias, act, up_scratch, out, &in);
}

Status matmul_add(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& scratch,
                  Tensor& residual) {
  constexpr std::string_view op = "matmul_add";
  LLM_RETURN_IF_ERROR(check_projection(op, x, w, bias, {"residual", residual}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"residual", residual}, 1, w.dim(0), "n = w.dim(0)"));
#if LIGHTLLM_CUDA
  if (x.device() == core::Device::cuda) {
    LLM_ASSIGN_OR_RETURN(const bool done, cuda_impl::try_matmul_add(x, w, bias, residual));
    if (done) return {};
  }
#endif
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"residual", residual}, {"scratch", scratch}));
  LLM_RETURN_IF_ERROR(matmul(x, w, bias, scratch));
  return add(residual, scratch);
}

namespace {

Status gated(std::string_view op, const Tensor& gate, const Tensor& up, Tensor& out,
             kernels::Activation act) {
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"gate", gate}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"gate", gate}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"up", up}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"up", up}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"out", out}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"out", out}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"gate", gate}, {"up", up}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"gate", gate}, {"out", out}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&gate, &up, &out}));
  kernels::cpu::gated_act({.gate = gate.data<float>(),
                           .up = up.data<float>(),
                           .out = out.data<float>(),
                           .n = gate.numel(),
                           .act = act});
  return {};
}

}  // namespace

Status silu_mul(const Tensor& gate, const Tensor& up, Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(gate, gated(gate, up, /*silu=*/true, false, out));
  return gated("silu_mul", gate, up, out, kernels::Activation::silu);
}

Status gelu_mul(const Tensor& gate, const Tensor& up, bool tanh_approx, Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(gate, gated(gate, up, /*silu=*/false, tanh_approx, out));
  return gated("gelu_mul", gate, up, out,
               tanh_approx ? kernels::Activation::gelu_tanh : kernels::Activation::gelu_erf);
}

Status gelu(Tensor& x, bool tanh_approx) {
  constexpr std::string_view op = "gelu";
  LLM_OPS_CUDA_DISPATCH(x, gelu(x, tanh_approx));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&x}));
  kernels::cpu::gated_act(
      {.gate = x.data<float>(),
       .up = nullptr,
       .out = x.data<float>(),
       .n = x.numel(),
       .act = tanh_approx ? kernels::Activation::gelu_tanh : kernels::Activation::gelu_erf});
  return {};
}

Status softmax(Tensor& x) {
  constexpr std::string_view op = "softmax";
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&x}));
  const int64_t cols = x.dim(-1);
  if (cols == 0) return {};
  kernels::cpu::softmax({.x = x.data<float>(), .rows = x.numel() / cols, .cols = cols});
  return {};
}

Status add(Tensor& acc, const Tensor& x) {
  constexpr std::string_view op = "add";
  LLM_OPS_CUDA_DISPATCH(acc, add(acc, x));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"acc", acc}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"acc", acc}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"acc", acc}, {"x", x}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&acc, &x}));
  float* a = acc.data<float>();
  const float* b = x.data<float>();
  const int64_t n = acc.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
  return {};
}

}  // namespace lightllm::ops
