// src/ops/sampling_ops.h — token sampling on the device (the GPU twin of the host Sampler in
// src/engine/sampling; semantics and order of operations in src/kernels/cuda/sampling.h).
// The host packs one kernels::SampleBatch per step (engine/sampling/device_sampling.h); the op
// checks it, uploads it in one copy and launches one kernel on the thread's current stream
// (no synchronization: out_ids / out_logprobs stay on the device until the caller copies them,
// so a caller may also feed out_ids to the next step's embedding without a host round trip).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/sampling_batch.h"

namespace lightllm::ops {

// logits: [n_rows, vocab] f32 on CUDA; OVERWRITTEN: the stop-id masks and penalties are applied
// in place (temperature / top-k / top-p are not written back). batch: one row per logits row.
// out_ids: [n_rows] i32 on CUDA. out_logprobs: [n_rows] f32 on CUDA (raw log_softmax of the
// chosen id) or null. out_ids_copy: [n_rows] i32 on CUDA or null, the ids written a second time
// (out_ids in mapped host memory for the host, the copy in device memory for the next step's
// feed, which reads it there without a round trip over the bus). Host tensors: unimplemented
// (the CPU samples with sampling::Sampler).
core::Status sample(core::Tensor& logits, const kernels::SampleBatch& batch, core::Tensor& out_ids,
                    core::Tensor* out_logprobs, core::Tensor* out_ids_copy = nullptr);

// The host-side checks of ops::sample on a batch for `n_rows` rows of `vocab` logits: row
// count, CSR ranges inside their lists and non-overlapping in row order, token ids in
// [0, vocab), pen_tokens / pen_counts of equal length, counts >= 0, temperature > 0 and
// top_p in (0, 1] for sampled rows. invalid_argument names the row and the field.
core::Status check_sample_batch(const kernels::SampleBatch& batch, int64_t n_rows, int64_t vocab);

}  // namespace lightllm::ops
