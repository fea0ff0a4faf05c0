// src/ops/op_checks.cpp — shared argument checks for the ops (see op_checks.h).
#include "ops/op_checks.h"

#include <string>

namespace lightllm::ops::detail {

Status check_tensor_any_rank(std::string_view op, const Arg& a) {
  if (!a.t.defined()) return core::invalid_argument("{}: {} is undefined (null data)", op, a.name);
  if (a.t.ndim() < 1)
    return core::invalid_argument("{}: {} must have at least one dim", op, a.name);
  if (!a.t.is_contiguous())
    return core::invalid_argument("{}: {} ({}) must be contiguous", op, a.name, a.t.describe());
  return {};
}

Status check_tensor(std::string_view op, const Arg& a, int ndim) {
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, a));
  if (a.t.ndim() != ndim)
    return core::invalid_argument("{}: {} has shape {}, expected {} dims", op, a.name,
                                  a.t.shape().to_string(), ndim);
  return {};
}

Status check_dtype(std::string_view op, const Arg& a, std::initializer_list<DType> allowed) {
  std::string names;
  for (DType d : allowed) {
    if (a.t.dtype() == d) return {};
    if (!names.empty()) names += "|";
    names += core::dtype_name(d);
  }
  return core::invalid_argument("{}: {} has dtype {}, expected {}", op, a.name,
                                core::dtype_name(a.t.dtype()), names);
}

Status check_dim(std::string_view op, const Arg& a, int d, int64_t expected,
                 std::string_view what) {
  if (a.t.dim(d) != expected)
    return core::invalid_argument("{}: {} has shape {}, dim {} must be {} ({})", op, a.name,
                                  a.t.shape().to_string(), d, expected, what);
  return {};
}

Status check_same_shape(std::string_view op, const Arg& a, const Arg& b) {
  if (!(a.t.shape() == b.t.shape()))
    return core::invalid_argument("{}: {} has shape {} but {} has shape {}", op, b.name,
                                  b.t.shape().to_string(), a.name, a.t.shape().to_string());
  return {};
}

Status check_cpu(std::string_view op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined() && t->device() == core::Device::cuda)
#if LIGHTLLM_CUDA
      return core::unimplemented("{}: no CUDA path for this op (tensor {})", op, t->describe());
#else
      return core::unimplemented("{}: CUDA backend not built (tensor {})", op, t->describe());
#endif
  return {};
}

Status check_projection(std::string_view op, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Arg& out) {
  LLM_RETURN_IF_ERROR(check_tensor(op, {"x", x}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"w", w}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, out, 2));
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", w}, 1, x.dim(1), "k = x.dim(1)"));
  LLM_RETURN_IF_ERROR(check_dim(op, out, 0, x.dim(0), "m = x.dim(0)"));
  if (bias.defined()) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"bias", bias}, 1));
    LLM_RETURN_IF_ERROR(check_dim(op, {"bias", bias}, 0, w.dim(0), "w.dim(0)"));
  }
  return {};
}

Status check_device(std::string_view op, std::initializer_list<Arg> args) {
  for (const Arg& a : args)
    if (a.t.defined() && a.t.device() != core::Device::cuda)
      return core::invalid_argument("{}: {} ({}) is on the host but the op runs on CUDA", op,
                                    a.name, a.t.describe());
  return {};
}

Status check_act(std::string_view op, const Arg& a, DType act) {
  if (act != DType::bf16 && act != DType::f16)
    return core::invalid_argument("{}: CUDA activations are bf16 or f16, got {}", op,
                                  core::dtype_name(act));
  if (a.t.defined() && a.t.dtype() != act)
    return core::invalid_argument("{}: {} has dtype {}, expected the activation dtype {}", op,
                                  a.name, core::dtype_name(a.t.dtype()), core::dtype_name(act));
  return {};
}

}  // namespace lightllm::ops::detail
