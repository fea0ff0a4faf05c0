// src/kernels/cuda/sampling.h — token sampling on the GPU, the device twin of the host
// Sampler (src/engine/sampling/sampler.h, whose order of operations it follows exactly):
//   raw log_softmax (logprob of the chosen token) → min_new_tokens stop-id mask →
//   repetition penalty (HF) → presence/frequency penalties (OpenAI) → greedy argmax (lowest id
//   on ties) or: temperature → top-k (keep x >= k-th largest) → top-p (HF: ascending order by
//   (value, id), drop while the cumulative probability <= 1 - top_p, keep the most likely) →
//   inverse-CDF draw in id order with u = philox_uniform01(seed, counter) (kernels/philox.h).
//
// One block of 1024 threads owns one row. Top-k and top-p are exact without sorting the
// vocabulary: a 3-pass radix select (11/11/10 bits of an order-preserving float key) finds the
// k-th largest value; a second radix select over softmax mass finds the top-p boundary value,
// and when that boundary value is shared by several tokens (ties: common with bf16 logits), a
// radix select over their ids keeps exactly the ones the host's (value, id) order keeps.
// Arithmetic that decides which logits the penalties produce uses explicit IEEE round-to-
// nearest intrinsics (no FMA contraction), so penalised logits equal the host's bit for bit.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/status.h"
#include "kernels/sampling_batch.h"

namespace lightllm::kernels::cuda {

struct SampleParams {
  float* logits = nullptr;  // [n_rows, vocab] f32 raw logits; masks/penalties are applied in place
  int64_t n_rows = 0;
  int64_t vocab = 0;
  const SampleRow* rows = nullptr;       // [n_rows] (device)
  const int32_t* pen_tokens = nullptr;   // [n_pen] (device), see sampling_batch.h
  const int32_t* pen_counts = nullptr;   // [n_pen]
  const int32_t* mask_tokens = nullptr;  // [n_mask]
  float* pen_raw = nullptr;              // [n_pen] scratch: raw logits of penalised tokens
  int32_t* out_ids = nullptr;            // [n_rows] sampled token ids
  float* out_logprobs = nullptr;         // [n_rows] raw log_softmax of the chosen id, or null
};

// Launches the sampling kernel on `stream` (asynchronous). The pointers' contents are trusted:
// ops::sample validated the batch on the host.
core::Status sample(const SampleParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
