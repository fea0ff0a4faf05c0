// src/engine/sampling/device_sampling.h — packing host SamplingStates into the per-step
// kernels::SampleBatch that ops::sample runs on the GPU (plain CPU code, tested in CPU CI).
//
// The device sampler covers everything the host Sampler does except top_logprobs > 0 (the
// alternatives list) and logit_bias; a step with such a sequence falls back to the host. Penalty
// state stays host-authoritative (see kernels/sampling_batch.h): each row sends the distinct tokens
// its penalties touch — prompt ∪ output ids when repetition_penalty != 1, else the output ids when
// a presence/frequency penalty is set, else nothing — and the stop ids while fewer than
// min_new_tokens were generated. After the step the caller records the sampled tokens into
// the states exactly as the host path does (SamplingState::record).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "engine/sampling/sampling_state.h"
#include "kernels/sampling_batch.h"

namespace lightllm::sampling {

// True when ops::sample can sample this sequence (no top_logprobs, no logit_bias).
bool device_samplable(const SamplingState& st);

// Appends st's row (parameters, Philox seed/counter, penalty and mask lists) to `batch`.
// Ids outside [0, vocab) are skipped, as the host sampler skips them. `uncollected`: samples of
// this sequence already queued on the device but not yet recorded into `st` (a step started
// before the previous one finished): they count towards the Philox counter and min_new_tokens
// exactly as if recorded. Penalty lists cannot include them: the caller must not queue a row
// with penalties while its sequence has uncollected samples (checked: internal error).
core::Status append_sample_row(const SamplingState& st, int64_t vocab, kernels::SampleBatch& batch,
                               int64_t uncollected = 0);
// True when st's row sends a penalty list (its penalties need the recorded output tokens).
bool has_penalties(const SamplingState& st);

}  // namespace lightllm::sampling
