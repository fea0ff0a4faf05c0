// src/ops/cuda_linear_ops.cpp — CUDA dispatch of the projections (see cuda_ops.h): matmul
// (our GEMV for m <= kGemvMaxBatch, cuBLASLt above), and the fused forms of the decode path:
// one stacked weight into several outputs (matmul_split), gate/up with the activation
// (gated_matmul), the RMSNorm prologue and the residual-add epilogue (matmul_add). Each try_*
// returns false when the GEMV cannot take the shapes, and the caller falls back to the unfused
// ops; so does try_qkv_rope_store_kv (the QKV projection with the rotary + KV store epilogue).
// Built only with LIGHTLLM_CUDA.
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/rotary.h"
#include "ops/cuda_context.h"
#include "ops/cuda_ops.h"
#include "ops/op_checks.h"

namespace lightllm::ops::cuda_impl {

using namespace detail;
using core::DType;

namespace {

// kGemvMaxBatch (ops.h) = 8: the GEMV's own defaults pick the CUDA-core kernel for m <= 2 and
// the tensor-core kernel above (kernels/cuda/gemv.cu). Measured with bench/cuda/gemv_tune.cpp's
// layer chain (CUDA graph, 8 layers; docs/PERFORMANCE.md run 8, H100): weights read at 90–96% of
// the copy bandwidth at m = 1–2 and 88–89% at m = 4 and 8 (tensor cores), against 77–81% for
// cuBLASLt at every m; the CUDA-core kernel alone fell to 82% at m = 4 and 51–52% at m = 8
// (issue-bound: 8·m FMAs per 16-byte weight chunk), hence the switch of kernel at m = 3.

// The GEMV parameters common to every variant (segments and epilogue left to the caller).
kernels::cuda::GemvParams gemv_params(const Tensor& x, const Tensor& w, const Tensor& bias) {
  kernels::cuda::GemvParams p;
  p.dtype = x.dtype();
  p.x = x.raw();
  p.w = w.raw();
  p.bias = bias.defined() ? bias.raw() : nullptr;
  p.m = x.dim(0);
  p.n = w.dim(0);
  p.k = x.dim(1);
  return p;
}

}  // namespace

Status matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) {
  constexpr std::string_view op = "matmul";
  LLM_RETURN_IF_ERROR(check_projection(op, x, w, bias, {"out", out}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 1, w.dim(0), "n = w.dim(0)"));
  LLM_RETURN_IF_ERROR(check_act(op, {"w", w}, x.dtype()));
  const bool out_f32 = out.dtype() == DType::f32;
  if (!out_f32) LLM_RETURN_IF_ERROR(check_act(op, {"out", out}, x.dtype()));
  if (bias.defined()) {
    if (out_f32) return core::unimplemented("matmul: f32 output with a bias on CUDA");
    LLM_RETURN_IF_ERROR(check_act(op, {"bias", bias}, x.dtype()));
  }
  LLM_RETURN_IF_ERROR(check_device(op, {{"x", x}, {"w", w}, {"bias", bias}, {"out", out}}));
  const cudaStream_t stream = cuda_detail::current_stream();
  if (x.dim(0) <= kGemvMaxBatch) {
    kernels::cuda::GemvParams p = gemv_params(x, w, bias);
    p.seg[0] = {.out = out.raw(), .cols = w.dim(0), .ld = w.dim(0)};
    p.out_f32 = out_f32;
    if (kernels::cuda::gemv_supported(p)) return kernels::cuda::gemv(p, stream);
  }
  LLM_ASSIGN_OR_RETURN(kernels::cuda::GemmLt * gemm, cuda_detail::thread_gemm());
  return gemm->gemm({.dtype = x.dtype(),
                     .x = x.raw(),
                     .w = w.raw(),
                     .bias = bias.defined() ? bias.raw() : nullptr,
                     .out = out.raw(),
                     .m = x.dim(0),
                     .n = w.dim(0),
                     .k = x.dim(1),
                     .out_f32 = out_f32},
                    stream);
}

namespace {

// Points the GEMV at the RMSNorm prologue's input (norm->x, the residual stream; the caller's
// x is norm->normed, which only gives the shape) when norm is given.
Status set_norm_prologue(std::string_view op, const NormedInput* norm, const Tensor& x,
                         kernels::cuda::GemvParams& p) {
  if (norm == nullptr) return {};
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"in.x", norm->x}, {"in.normed", x}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"in.weight", norm->weight}, 1));
  LLM_RETURN_IF_ERROR(check_dim(op, {"in.weight", norm->weight}, 0, x.dim(1), "hidden of in.x"));
  for (const Arg& a : {Arg{"in.x", norm->x}, Arg{"in.weight", norm->weight}})
    LLM_RETURN_IF_ERROR(check_act(op, a, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"in.x", norm->x}, {"in.weight", norm->weight}}));
  p.x = norm->x.raw();
  p.norm_weight = norm->weight.raw();
  p.norm_eps = norm->eps;
  return {};
}

}  // namespace

core::Result<bool> try_matmul_split(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    std::initializer_list<Tensor*> outs, const NormedInput* norm) {
  constexpr std::string_view op = "matmul_split";
  if (x.dim(0) > kGemvMaxBatch || outs.size() > kernels::cuda::kGemvMaxSegments) return false;
  LLM_RETURN_IF_ERROR(check_act(op, {"w", w}, x.dtype()));
  LLM_RETURN_IF_ERROR(check_act(op, {"bias", bias}, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"x", x}, {"w", w}, {"bias", bias}}));
  kernels::cuda::GemvParams p = gemv_params(x, w, bias);
  LLM_RETURN_IF_ERROR(set_norm_prologue(op, norm, x, p));
  p.n_seg = static_cast<int>(outs.size());
  int s = 0;
  for (Tensor* o : outs) {
    LLM_RETURN_IF_ERROR(check_act(op, {"out", *o}, x.dtype()));
    LLM_RETURN_IF_ERROR(check_device(op, {{"out", *o}}));
    p.seg[s++] = {.out = o->raw(), .cols = o->dim(1), .ld = o->dim(1)};
  }
  if (!kernels::cuda::gemv_supported(p)) return false;
  LLM_RETURN_IF_ERROR(kernels::cuda::gemv(p, cuda_detail::current_stream()));
  return true;
}

core::Result<bool> try_gated_matmul(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    GatedAct act, Tensor& out, const NormedInput* norm) {
  constexpr std::string_view op = "gated_matmul";
  if (x.dim(0) > kGemvMaxBatch) return false;
  for (const Arg& a : {Arg{"w", w}, Arg{"bias", bias}, Arg{"out", out}})
    LLM_RETURN_IF_ERROR(check_act(op, a, x.dtype()));
  LLM_RETURN_IF_ERROR(check_device(op, {{"x", x}, {"w", w}, {"bias", bias}, {"out", out}}));
  kernels::cuda::GemvParams p = gemv_params(x, w, bias);
  LLM_RETURN_IF_ERROR(set_norm_prologue(op, norm, x, p));
  p.seg[0] = {.out = out.raw(), .cols = out.dim(1), .ld = out.dim(1)};
  p.gated = true;
  p.act = act == GatedAct::silu        ? kernels::cuda::GatedAct::silu
          : act == GatedAct::gelu_tanh ? kernels::cuda::GatedAct::gelu_tanh
                                       : kernels::cuda::GatedAct::gelu_erf;
  if (!kernels::cuda::gemv_supported(p)) return false;
  LLM_RETURN_IF_ERROR(kernels::cuda::gemv(p, cuda_detail::current_stream()));
  return true;
}

core::Result<bool> try_matmul_add(const Tensor& x, const Tensor& w, const Tensor& bias,
                                  Tensor& residual) {
  constexpr std::string_view op = "matmul_add";
  if (x.dim(0) > kGemvMaxBatch) return false;
  for (const Arg& a : {Arg{"w", w}, Arg{"bias", bias}, Arg{"residual", residual}})
    LLM_RETURN_IF_ERROR(check_act(op, a, x.dtype()));
  LLM_RETURN_IF_ERROR(
      check_device(op, {{"x", x}, {"w", w}, {"bias", bias}, {"residual", residual}}));
  if (residual.raw() == x.raw()) return core::invalid_argument("matmul_add: residual aliases x");
  kernels::cuda::GemvParams p = gemv_params(x, w, bias);
  p.seg[0] = {.out = residual.raw(), .cols = w.dim(0), .ld = w.dim(0)};
  p.accumulate = true;
  if (!kernels::cuda::gemv_supported(p)) return false;
  LLM_RETURN_IF_ERROR(kernels::cuda::gemv(p, cuda_detail::current_stream()));
  return true;
}

// The rotary epilogue applies exactly where rope_store_kv would rotate every dim of each head
// in rotate_half pairs and store 16-bit K/V (the GEMV checks the rest: m, segments, shape).
core::Result<bool> try_qkv_rope_store_kv(const QkvRopeStoreKv& a) {
  constexpr std::string_view op = "qkv_rope_store_kv";
  const RopeStoreKv& r = a.rope;
  if (a.x.dim(0) > kFusedDecodeMaxBatch || r.cfg.interleaved || r.cfg.rotary_dim != r.q.dim(2) ||
      r.cache.k.dtype() == DType::i8)
    return false;
  LLM_RETURN_IF_ERROR(check_act(op, {"w", a.w}, a.x.dtype()));
  LLM_RETURN_IF_ERROR(check_act(op, {"bias", a.bias}, a.x.dtype()));
  for (const Arg& t : {Arg{"q", r.q}, Arg{"k", r.k}, Arg{"v", r.v}})
    LLM_RETURN_IF_ERROR(check_act(op, t, a.x.dtype()));
  LLM_RETURN_IF_ERROR(
      check_device(op, {{"x", a.x}, {"w", a.w}, {"bias", a.bias}, {"q", r.q}, {"v", r.v}}));
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::RotaryParams rp,
                       rotary_params(r.q, r.k, r.positions, r.inv_freq, r.cfg));
  LLM_ASSIGN_OR_RETURN(const kernels::cuda::KvScatterParams kp,
                       kv_scatter_params(r.k, r.v, r.slots, r.cache));
  kernels::cuda::GemvParams p = gemv_params(a.x, a.w, a.bias);
  LLM_RETURN_IF_ERROR(set_norm_prologue(op, a.norm, a.x, p));
  p.n_seg = 3;
  int s = 0;
  for (const Tensor* o : {&r.q, &r.k, &r.v}) {
    const int64_t cols = o->dim(1) * o->dim(2);
    p.seg[s++] = {.out = o->raw(), .cols = cols, .ld = cols};
  }
  p.rope = {.positions = rp.positions,
            .inv_freq = rp.inv_freq,
            .slots = kp.slots,
            .k_cache = kp.k_cache,
            .v_cache = kp.v_cache,
            .head_dim = rp.head_dim,
            .attention_factor = rp.attention_factor};
  // A decode step's attention comes next: with a small grid it is scheduled at the projection's
  // start, and its blocks copy the cached K/V before they wait (docs/PERFORMANCE.md run 27).
  if (const AttentionMeta* m = a.next_attention; m != nullptr && m->sliding_window == 0 &&
                                                 m->n_reqs > 0 && m->device.max_q_len == 1 &&
                                                 a.x.dim(0) == m->n_reqs) {
    kernels::cuda::DecodeAttentionParams dp;
    dp.n_reqs = m->n_reqs;
    dp.n_heads = static_cast<int>(r.q.dim(1));
    dp.n_kv_heads = static_cast<int>(r.k.dim(1));
    dp.head_dim = static_cast<int>(r.q.dim(2));
    dp.max_kv_len = m->device.max_kv_len;  // kv_int8 stays false: int8 caches return above
    p.early_dependents = kernels::cuda::decode_attention_grid_is_small(dp);
  }
  if (!kernels::cuda::gemv_supported(p)) return false;
  LLM_RETURN_IF_ERROR(kernels::cuda::gemv(p, cuda_detail::current_stream()));
  return true;
}

}  // namespace lightllm::ops::cuda_impl
