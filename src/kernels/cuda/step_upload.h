// src/kernels/cuda/step_upload.h — a step's index data from page-locked host memory to the
// device in one kernel that reads the host memory in place (no copy op), and the feed of
// tokens sampled on the device into the step's token ids (ops::upload_step).
//
// Why a kernel and not cudaMemcpyAsync: at batch 1 each switch between a copy and a kernel
// leaves the device idle for microseconds, and the copies waited behind the previous step's
// sampling kernel. The kernel is launched with PDL: its bus reads may run while the previous
// kernel (the sampling) still runs, and only its writes wait. (A timed CUDA event between the
// two kernels takes that overlap away: docs/PERFORMANCE.md run 23.)
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::kernels::cuda {

struct StepUploadParams {
  const int32_t* src = nullptr;  // [n + n_rows * src_stride], page-locked host (device pointer)
  int32_t* dst = nullptr;        // [n] device: dst[i] = src[i]
  int64_t n = 0;
  int32_t* dst_rows = nullptr;  // [n_rows, dst_stride] device: row r = src[n + r * src_stride,
  int64_t n_rows = 0;           //   + src_stride), or null with n_rows == 0
  int64_t src_stride = 0;
  int64_t dst_stride = 0;
  // The feed: dst[pairs[i]] = sampled[pairs[n_feed + i]] for i < n_feed, after the copy;
  // pairs = src + feed_at ([2, n_feed]: destination rows in [0, n_ids), then source rows).
  int64_t n_ids = 0;  // dst[0, n_ids) are the token ids
  int64_t feed_at = 0;
  int64_t n_feed = 0;
  const int32_t* sampled = nullptr;  // [n_sampled] device (or mapped) memory
};

// Queues the upload on `stream`. Indices are trusted: ops::upload_step checked the shapes and
// the host planner the feed's rows.
core::Status upload_step(const StepUploadParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
