// src/engine/sampling/sampling_state.h — what the sampler keeps per sequence between steps.
//
// Created by the router when a sequence is submitted; after that it is read and mutated ONLY
// by the sampler (inside StepExecutor::execute), which records every token it picks. So the
// state always knows the latest token even when the router has not committed it yet (overlap
// of planning and execution, see step.h). The router destroys it only after the sequence is
// released, when no in-flight step refers to it.
//
// Reproducibility: draw N of a sequence is philox_uniform01(seed, N) (src/kernels/philox.h),
// counter-based, with the seed from params.seed (or a process-wide counter when unset). So the
// same seed gives the same tokens whatever else is in the batch, a paused/resumed sequence
// draws the same numbers as an uninterrupted one, and the CPU, the device sampler and its host
// fallback all draw the same numbers (equal tokens up to rounding at CDF boundaries).
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "lightllm/sampling_params.h"

namespace lightllm::sampling {

struct SamplingState {
  SamplingParams params;
  uint64_t seed = 0;                   // the Philox key of this sequence's draws
  std::vector<int32_t> stop_ids;       // EOS ids + params.stop_token_ids (masked before min_new)
  std::vector<int32_t> prompt_tokens;  // sorted unique prompt ids (repetition penalty)
  std::unordered_map<int32_t, int32_t> output_counts;  // generated token -> times
  int64_t n_generated = 0;
  int32_t last_token = -1;  // the latest sampled token (resolves kPendingToken, see step.h)

  // Called by the sampler after it picks `token`.
  void record(int32_t token) {
    ++output_counts[token];
    ++n_generated;
    last_token = token;
  }
};

// A distinct seed per call (splitmix64 over an atomic counter), for sequences without a seed.
uint64_t next_global_seed();

// Builds the state. `eos_ids` are the model's end-of-sequence ids; `seed_offset` is added to a
// user seed so the n / best_of sequences of one request (index 0, 1, ...) differ but stay
// reproducible.
SamplingState make_sampling_state(const SamplingParams& params, std::span<const int32_t> prompt,
                                  std::span<const int32_t> eos_ids, uint64_t seed_offset = 0);

}  // namespace lightllm::sampling
