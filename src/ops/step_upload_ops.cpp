// src/ops/step_upload_ops.cpp — ops::upload_step: checks, the CPU path, CUDA dispatch (ops.h).
#include <algorithm>

#include "ops/cuda_ops.h"
#include "ops/op_checks.h"
#include "ops/ops.h"

namespace lightllm::ops {

using namespace detail;
using core::DType;

Status upload_step(const StepUpload& u) {
  constexpr std::string_view op = "upload_step";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"src", u.src}, 1));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"dst", u.dst}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"src", u.src}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"dst", u.dst}, {DType::i32}));
  const int64_t n = u.dst.numel();
  if (u.rows < 0 || u.row_len < 0 || (u.rows > 0 && u.row_len == 0))
    return core::invalid_argument("{}: {} rows of {}", op, u.rows, u.row_len);
  if (u.rows > 0) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"dst_rows", u.dst_rows}, 2));
    LLM_RETURN_IF_ERROR(check_dtype(op, {"dst_rows", u.dst_rows}, {DType::i32}));
    if (u.dst_rows.dim(0) < u.rows || u.dst_rows.dim(1) < u.row_len)
      return core::invalid_argument("{}: dst_rows {} for {} rows of {}", op, u.dst_rows.describe(),
                                    u.rows, u.row_len);
  }
  if (u.src.numel() < n + u.rows * u.row_len)
    return core::invalid_argument("{}: src {} for {} + {} x {} elements", op, u.src.describe(), n,
                                  u.rows, u.row_len);
  if (u.n_ids < 0 || u.n_ids > n || u.n_feed < 0 || u.n_feed > u.n_ids || u.feed_at < 0 ||
      u.feed_at + 2 * u.n_feed > n)
    return core::invalid_argument("{}: n_ids {}, feed of {} at {} for dst of {}", op, u.n_ids,
                                  u.n_feed, u.feed_at, n);
  if (u.n_feed > 0) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"sampled", u.sampled}, 1));
    LLM_RETURN_IF_ERROR(check_dtype(op, {"sampled", u.sampled}, {DType::i32}));
  }
  LLM_OPS_CUDA_DISPATCH(u.dst, upload_step(u));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&u.src, &u.dst, &u.dst_rows, &u.sampled}));

  const int32_t* src = u.src.data<int32_t>();
  int32_t* dst = u.dst.data<int32_t>();
  const int32_t* to = src + u.feed_at;
  const int32_t* from = to + u.n_feed;
  for (int64_t i = 0; i < u.n_feed; ++i) {
    if (to[i] < 0 || to[i] >= u.n_ids || from[i] < 0 || from[i] >= u.sampled.numel())
      return core::invalid_argument("{}: feed pair {} ({} <- {}) is outside [0, {}) x [0, {})", op,
                                    i, to[i], from[i], u.n_ids, u.sampled.numel());
  }
  std::copy_n(src, n, dst);
  for (int64_t r = 0; r < u.rows; ++r)
    std::copy_n(src + n + r * u.row_len, u.row_len,
                u.dst_rows.data<int32_t>() + r * u.dst_rows.dim(1));
  for (int64_t i = 0; i < u.n_feed; ++i) dst[to[i]] = u.sampled.data<int32_t>()[from[i]];
  return {};
}

}  // namespace lightllm::ops
