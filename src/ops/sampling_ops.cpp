// src/ops/sampling_ops.cpp — ops::sample: host checks of the packed batch, then the CUDA
// dispatch (cuda_sampling_ops.cpp). Without LIGHTLLM_CUDA, or for host tensors, unimplemented.
#include "ops/sampling_ops.h"

#include <cmath>

#include "ops/cuda_ops.h"
#include "ops/op_checks.h"

namespace lightllm::ops {

using core::DType;

core::Status check_sample_batch(const kernels::SampleBatch& b, int64_t n_rows, int64_t vocab) {
  if (static_cast<int64_t>(b.rows.size()) != n_rows)
    return core::invalid_argument("sample: batch has {} rows, logits have {}", b.rows.size(),
                                  n_rows);
  if (b.pen_tokens.size() != b.pen_counts.size())
    return core::invalid_argument("sample: {} pen_tokens but {} pen_counts", b.pen_tokens.size(),
                                  b.pen_counts.size());
  const auto n_pen = static_cast<int64_t>(b.pen_tokens.size());
  const auto n_mask = static_cast<int64_t>(b.mask_tokens.size());
  int64_t pen_end = 0, mask_end = 0;
  for (size_t r = 0; r < b.rows.size(); ++r) {
    const kernels::SampleRow& row = b.rows[r];
    if (row.pen_begin < pen_end || row.pen_end < row.pen_begin || row.pen_end > n_pen)
      return core::invalid_argument("sample: row {} pen range [{}, {}) is not inside [{}, {})", r,
                                    row.pen_begin, row.pen_end, pen_end, n_pen);
    if (row.mask_begin < mask_end || row.mask_end < row.mask_begin || row.mask_end > n_mask)
      return core::invalid_argument("sample: row {} mask range [{}, {}) is not inside [{}, {})", r,
                                    row.mask_begin, row.mask_end, mask_end, n_mask);
    pen_end = row.pen_end;
    mask_end = row.mask_end;
    if (row.do_sample != 0) {
      if (!std::isfinite(row.temperature) || row.temperature <= 0.0f)
        return core::invalid_argument("sample: row {} temperature must be > 0, got {}", r,
                                      row.temperature);
      if (!(row.top_p > 0.0f && row.top_p <= 1.0f))
        return core::invalid_argument("sample: row {} top_p must be in (0, 1], got {}", r,
                                      row.top_p);
    }
    if (!(row.repetition_penalty > 0.0f) || !std::isfinite(row.repetition_penalty))
      return core::invalid_argument("sample: row {} repetition_penalty must be > 0, got {}", r,
                                    row.repetition_penalty);
  }
  for (size_t i = 0; i < b.pen_tokens.size(); ++i) {
    if (b.pen_tokens[i] < 0 || b.pen_tokens[i] >= vocab || b.pen_counts[i] < 0)
      return core::invalid_argument(
          "sample: pen entry {} (token {}, count {}) is invalid for "
          "vocab {}",
          i, b.pen_tokens[i], b.pen_counts[i], vocab);
  }
  for (size_t i = 0; i < b.mask_tokens.size(); ++i) {
    if (b.mask_tokens[i] < 0 || b.mask_tokens[i] >= vocab)
      return core::invalid_argument("sample: mask token {} is {}, outside [0, {})", i,
                                    b.mask_tokens[i], vocab);
  }
  return {};
}

core::Status sample(core::Tensor& logits, const kernels::SampleBatch& batch, core::Tensor& out_ids,
                    core::Tensor* out_logprobs, core::Tensor* out_ids_copy) {
  constexpr std::string_view op = "sample";
  using detail::Arg;
  LLM_RETURN_IF_ERROR(detail::check_tensor(op, {"logits", logits}, 2));
  LLM_RETURN_IF_ERROR(detail::check_dtype(op, {"logits", logits}, {DType::f32}));
  LLM_RETURN_IF_ERROR(detail::check_tensor(op, {"out_ids", out_ids}, 1));
  LLM_RETURN_IF_ERROR(detail::check_dtype(op, {"out_ids", out_ids}, {DType::i32}));
  LLM_RETURN_IF_ERROR(detail::check_dim(op, {"out_ids", out_ids}, 0, logits.dim(0), "n_rows"));
  if (out_logprobs != nullptr) {
    LLM_RETURN_IF_ERROR(detail::check_tensor(op, {"out_logprobs", *out_logprobs}, 1));
    LLM_RETURN_IF_ERROR(detail::check_dtype(op, {"out_logprobs", *out_logprobs}, {DType::f32}));
    LLM_RETURN_IF_ERROR(
        detail::check_dim(op, {"out_logprobs", *out_logprobs}, 0, logits.dim(0), "n_rows"));
  }
  if (out_ids_copy != nullptr) {
    LLM_RETURN_IF_ERROR(detail::check_tensor(op, {"out_ids_copy", *out_ids_copy}, 1));
    LLM_RETURN_IF_ERROR(detail::check_dtype(op, {"out_ids_copy", *out_ids_copy}, {DType::i32}));
    LLM_RETURN_IF_ERROR(
        detail::check_dim(op, {"out_ids_copy", *out_ids_copy}, 0, logits.dim(0), "n_rows"));
  }
  LLM_RETURN_IF_ERROR(check_sample_batch(batch, logits.dim(0), logits.dim(1)));
  LLM_OPS_CUDA_DISPATCH(logits, sample(logits, batch, out_ids, out_logprobs, out_ids_copy));
  return core::unimplemented(
      "sample: device sampling needs CUDA tensors and the CUDA backend (logits {}); the CPU "
      "samples with sampling::Sampler",
      logits.describe());
}

}  // namespace lightllm::ops
