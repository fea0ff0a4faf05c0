// src/kernels/cuda/sampling.h — token sampling on the GPU, the device twin of the host
// Sampler (src/engine/sampling/sampler.h, whose order of operations it follows exactly):
//   raw log_softmax (logprob of the chosen token) → min_new_tokens stop-id mask →
//   repetition penalty (HF) → presence/frequency penalties (OpenAI) → greedy argmax (lowest id
//   on ties) or: temperature → top-k (keep x >= k-th largest) → top-p (HF: ascending order by
//   (value, id), drop while the cumulative probability <= 1 - top_p, keep the most likely) →
//   inverse-CDF draw in id order with u = philox_uniform01(seed, counter) (kernels/philox.h).
//
// One block of 1024 threads owns one row (plain greedy batches: up to kArgmaxMaxSplits blocks).
// Top-k and top-p are exact without sorting the vocabulary: a 3-pass radix select (11/11/10 bits of
// an order-preserving float key) finds the k-th largest value; a second radix select over softmax
// mass finds the top-p boundary value, and when that boundary value is shared by several tokens
// (ties: common with bf16 logits), a radix select over their ids keeps exactly the ones the host's
// (value, id) order keeps. Arithmetic that decides which logits the penalties produce uses explicit
// IEEE round-to-nearest intrinsics (no FMA contraction), so penalised logits equal the host's bit
// for bit.
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
  const SampleRow* rows = nullptr;       // [n_rows] (device); unused when plain_greedy
  const int32_t* pen_tokens = nullptr;   // [n_pen] (device), see sampling_batch.h
  const int32_t* pen_counts = nullptr;   // [n_pen]
  const int32_t* mask_tokens = nullptr;  // [n_mask]
  float* pen_raw = nullptr;              // [n_pen] scratch: raw logits of penalised tokens
  int32_t* out_ids = nullptr;            // [n_rows] sampled token ids
  int32_t* out_ids_copy = nullptr;       // [n_rows] the ids again (device memory), or null
  float* out_logprobs = nullptr;         // [n_rows] raw log_softmax of the chosen id, or null
  // Set when every row is greedy without penalties or masks and no logprobs are asked for: the
  // arg max then runs over up to kArgmaxMaxSplits blocks per row (one block per row takes ~9 us
  // for a 128k vocabulary on H100; docs/PERFORMANCE.md run 23), with this scratch (device):
  bool plain_greedy = false;
  float* part_value = nullptr;    // [n_rows, kArgmaxMaxSplits] each block's best value
  int32_t* part_index = nullptr;  // [n_rows, kArgmaxMaxSplits] ... and its id
  uint32_t* row_done = nullptr;   // [n_rows] blocks done per row: zero before and after a launch
};
inline constexpr int kArgmaxMaxSplits = 128;

// Launches the sampling kernel on `stream` (asynchronous). The pointers' contents are trusted:
// ops::sample validated the batch on the host.
core::Status sample(const SampleParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
