// src/engine/step.h — the contract between the router (what to run) and the runner (running it).
//
// One step = one flat, padding-free forward pass over the tokens of many sequences: prefill
// chunks and single decode tokens concatenated (DESIGN.md §2, §5). The router produces a
// StepPlan; a StepExecutor (the model runner, or FakeRunner in tests) runs it, samples, and
// returns a StepResult; the router commits it.
//
// The loop and its overlap ("the router plans step N+1 while step N runs"):
//
//     plan N  = router.plan();        executor runs N (another thread / the GPU)
//     plan N+1 = router.plan();       // allowed while N is in flight (max_inflight_steps = 2)
//     router.commit(result N);  ...   // commits arrive in plan order
//
// A decode token whose value is the sample of a step still in flight is written as
// kPendingToken in input_ids; the executor substitutes `entry.sampling->last_token` (the
// sampler records every token it picks into the sequence's SamplingState, in step order), or,
// when it started this step before the previous one finished (can_start_before_finish), the
// previous step's sample where it still is (the device).
// The router never frees or reuses a slot or req_to_token row that an in-flight plan uses:
// a sequence that finishes or is aborted while it is in a later in-flight plan is released
// only when that plan is committed (its extra sample is discarded).
//
// Memory layout the executor relies on: for entry e, the fed tokens are
// input_ids[e.token_offset, e.token_offset + e.n_tokens) at positions
// [e.cached_len, e.cached_len + e.n_tokens) of the sequence; their K/V go to
// slots[e.token_offset + i] == req_to_token.row(e.req_row)[e.cached_len + i]; attention for
// them reads positions [0, e.cached_len + i] through req_to_token.row(e.req_row).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/status.h"
#include "kv/req_to_token.h"

namespace lightllm::sampling {
struct SamplingState;
}

namespace lightllm::engine {

// input_ids value meaning "the token this sequence sampled in the previous step".
inline constexpr int32_t kPendingToken = -1;

struct StepEntry {
  uint64_t seq_id = 0;
  int32_t req_row = -1;      // row of req_to_token
  int64_t token_offset = 0;  // first of this entry's tokens in StepPlan::input_ids / slots
  int32_t n_tokens = 0;      // tokens fed this step: a prefill chunk, or 1 for decode
  int64_t cached_len = 0;    // positions [0, cached_len) already hold K/V before this step
  bool is_prefill = false;   // false: a decode token
  bool sample = false;       // sample a token from the logits of the last fed token
  sampling::SamplingState* sampling = nullptr;  // the sequence's sampler state (always set)
};

struct StepPlan {
  uint64_t step_id = 0;
  std::vector<StepEntry> entries;
  std::vector<int32_t> input_ids;  // [n_tokens] token ids, or kPendingToken
  std::vector<int32_t> slots;      // [n_tokens] KV slot each fed token is written to
  const kv::ReqToTokenTable* req_to_token = nullptr;
  int64_t n_prefill_tokens = 0;
  int64_t n_decode_tokens = 0;
  // Planned while the previous step ran (set by the step loop): the device should go from that
  // step to this one without idling, and the runner measures how long it did.
  bool back_to_back = false;

  int64_t n_tokens() const { return static_cast<int64_t>(input_ids.size()); }
  bool empty() const { return entries.empty(); }
};

struct SampledToken {
  uint64_t seq_id = 0;
  int32_t token = -1;
  float logprob = 0.0f;  // raw log_softmax (see sampler.h)
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

struct StepResult {
  uint64_t step_id = 0;
  std::vector<SampledToken> sampled;  // one per entry with sample == true, in entry order
  // Device time spent waiting for the host between the end of the previous step and the start
  // of this one, for a back_to_back plan on a device that measures it (0 when this step was
  // queued before the previous one ended); -1 otherwise.
  double device_idle_us = -1.0;
};

// Runs one step. Implemented by the model runner (src/engine/runner) and by FakeRunner.
class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual core::Result<StepResult> execute(const StepPlan& plan) = 0;
  // The same in two halves, so the caller can plan step N+1 between them: start() queues the
  // step where the executor can (the device), finish() waits for it and samples. Executors
  // without an asynchronous path run the whole step in finish().
  virtual core::Status start(const StepPlan&) { return {}; }
  virtual core::Result<StepResult> finish(const StepPlan& plan) { return execute(plan); }
  // True when start(next) may be called while the one started step is not finished yet: the
  // executor then resolves next's pending tokens from that step's samples itself (on the
  // device), so the two steps run back to back. finish() still comes in start order.
  virtual bool can_start_before_finish(const StepPlan& /*next*/) const { return false; }
};

}  // namespace lightllm::engine
