// src/ops/op_checks.h — argument checks shared by the ops. Each returns invalid_argument
// (or unimplemented for the CUDA device, whose backend is not built yet) with a message that
// names the op and the tensor: "matmul: w has dtype i8, expected f32|bf16|f16".
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace lightllm::ops::detail {

using core::DType;
using core::Status;
using core::Tensor;

// A named tensor argument for checks: {"x", x}.
struct Arg {
  std::string_view name;
  const Tensor& t;
};

// t is defined (non-null data), contiguous, and has exactly `ndim` dims.
Status check_tensor(std::string_view op, const Arg& a, int ndim);
// Like check_tensor but any ndim >= 1 (row-wise ops: rows = numel / last dim).
Status check_tensor_any_rank(std::string_view op, const Arg& a);
Status check_dtype(std::string_view op, const Arg& a, std::initializer_list<DType> allowed);
// dim `d` of a equals `expected` (what it must match is named in `what`).
Status check_dim(std::string_view op, const Arg& a, int d, int64_t expected, std::string_view what);
Status check_same_shape(std::string_view op, const Arg& a, const Arg& b);
// All tensors on the CPU: ok. Any on CUDA: unimplemented (the op has no CUDA path, or the
// backend is not built).
Status check_cpu(std::string_view op, std::initializer_list<const Tensor*> tensors);
// A projection x[m, k] · w[rows, k]^T (+ bias[rows]) into out[m, ...]: x, w and out are 2-D,
// w's columns equal x's, out has x's rows, a defined bias is 1-D with w's rows. How out's
// columns relate to w's rows, and dtypes, are the caller's to check.
Status check_projection(std::string_view op, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Arg& out);
// For the CUDA dispatch: every defined tensor is on the device (a mix with host tensors is a
// caller bug).
Status check_device(std::string_view op, std::initializer_list<Arg> args);
// For the CUDA dispatch: `a` (if defined) has the activation dtype `act`, which is bf16 or f16.
Status check_act(std::string_view op, const Arg& a, DType act);

}  // namespace lightllm::ops::detail
