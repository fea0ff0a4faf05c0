// src/ops/norm_ops.cpp — embedding, rms_norm, add_rms_norm, layer_norm, head_layer_norm:
// checks + dispatch.
// Row-wise ops accept any rank: rows = numel / hidden where hidden = the last dim.
#include "kernels/cpu/cpu_kernels.h"
#include "ops/cuda_ops.h"
#include "ops/op_checks.h"
#include "ops/ops.h"

namespace lightllm::ops {

using namespace detail;
using core::DType;

Status embedding(const Tensor& table, const Tensor& ids, Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(out, embedding(table, ids, out));
  constexpr std::string_view op = "embedding";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"table", table}, 2));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"table", table}, {DType::f32, DType::bf16, DType::f16}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"ids", ids}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"ids", ids}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"out", out}, 2));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"out", out}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 0, ids.dim(0), "n_tokens of ids"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"out", out}, 1, table.dim(1), "hidden of table"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&table, &ids, &out}));
  const int32_t* id = ids.data<int32_t>();
  const int64_t vocab = table.dim(0);
  for (int64_t t = 0; t < ids.dim(0); ++t)
    if (id[t] < 0 || id[t] >= vocab)
      return core::invalid_argument("embedding: ids[{}] = {} is out of range [0, {}) of table", t,
                                    id[t], vocab);
  kernels::cpu::embedding({.table = table.raw(),
                           .table_dtype = table.dtype(),
                           .ids = id,
                           .out = out.data<float>(),
                           .n_tokens = ids.dim(0),
                           .hidden = table.dim(1)});
  return {};
}

namespace {

// Shared checks of rms_norm / add_rms_norm / layer_norm: x and out are f32 with the same
// shape, weight (and bias) are f32 [hidden].
Status check_norm(std::string_view op, const Tensor& x, const Tensor& weight, const Tensor* bias,
                  const Tensor& out) {
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"x", x}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"out", out}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"out", out}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"x", x}, {"out", out}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"weight", weight}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"weight", weight}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 0, x.dim(-1), "hidden of x"));
  if (bias != nullptr && bias->defined()) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"bias", *bias}, 1));
    LLM_RETURN_IF_ERROR(check_dtype(op, {"bias", *bias}, {DType::f32}));
    LLM_RETURN_IF_ERROR(check_dim(op, {"bias", *bias}, 0, x.dim(-1), "hidden of x"));
  }
  return check_cpu(op, {&x, &weight, &out});
}

}  // namespace

Status rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(x, rms_norm(x, weight, eps, out));
  LLM_RETURN_IF_ERROR(check_norm("rms_norm", x, weight, nullptr, out));
  const int64_t hidden = x.dim(-1);
  kernels::cpu::rms_norm({.x = x.data<float>(),
                          .weight = weight.data<float>(),
                          .out = out.data<float>(),
                          .n_tokens = x.numel() / hidden,
                          .hidden = hidden,
                          .eps = eps});
  return {};
}

Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    Tensor& out) {
  constexpr std::string_view op = "add_rms_norm";
  LLM_OPS_CUDA_DISPATCH(x, add_rms_norm(residual, x, weight, eps, out));
  LLM_RETURN_IF_ERROR(check_norm(op, x, weight, nullptr, out));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"residual", residual}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"residual", residual}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"x", x}, {"residual", residual}));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&residual}));
  if (out.raw() == residual.raw() || x.raw() == residual.raw())
    return core::invalid_argument("add_rms_norm: out and x must not alias residual");
  const int64_t hidden = x.dim(-1);
  kernels::cpu::rms_norm({.x = x.data<float>(),
                          .residual = residual.data<float>(),
                          .weight = weight.data<float>(),
                          .out = out.data<float>(),
                          .n_tokens = x.numel() / hidden,
                          .hidden = hidden,
                          .eps = eps});
  return {};
}

Status layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Tensor& out) {
  LLM_OPS_CUDA_DISPATCH(x, layer_norm(x, weight, bias, eps, out));
  LLM_RETURN_IF_ERROR(check_norm("layer_norm", x, weight, &bias, out));
  const int64_t hidden = x.dim(-1);
  kernels::cpu::layer_norm({.x = x.data<float>(),
                            .weight = weight.data<float>(),
                            .bias = bias.defined() ? bias.data<float>() : nullptr,
                            .out = out.data<float>(),
                            .n_tokens = x.numel() / hidden,
                            .hidden = hidden,
                            .eps = eps});
  return {};
}

Status head_layer_norm(Tensor& x, const Tensor& weight, float eps) {
  constexpr std::string_view op = "head_layer_norm";
  LLM_OPS_CUDA_DISPATCH(x, head_layer_norm(x, weight, eps));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"x", x}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"x", x}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"weight", weight}, 2));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"weight", weight}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 0, x.dim(1), "heads of x"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"weight", weight}, 1, x.dim(2), "head_dim of x"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&x, &weight}));
  const int64_t n = x.dim(0), heads = x.dim(1), hd = x.dim(2);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      float* row = x.data<float>() + (t * heads + h) * hd;
      kernels::cpu::layer_norm({.x = row,
                                .weight = weight.data<float>() + h * hd,
                                .bias = nullptr,
                                .out = row,
                                .n_tokens = 1,
                                .hidden = hd,
                                .eps = eps});
    }
  }
  return {};
}

}  // namespace lightllm::ops
