// tests/engine/fake_runner.h — a deterministic stand-in for the model runner (StepExecutor).
//
// Its "model": logits over a small vocab are a hash of the sequence's whole token history.
// It keeps its own "KV memory" (the token id and position written to each pool slot) and reads
// a sequence's history ONLY through req_to_token and those slots, exactly as attention would:
// a slot-handling bug in the router (wrong slot, freed slot reused, stale row) changes the
// history it sees, hence the output, or trips the position check (an error).
// reference_generate() runs the same model on a plain token vector, with no router, pool or
// cache: the "uninterrupted run" every router output must equal.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "engine/sampling/sampler.h"
#include "engine/sampling/sampling_state.h"
#include "engine/step.h"
#include "lightllm/engine.h"

namespace lightllm::engine::testing {

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The fake model: logits[v] in [-4, 4) from a hash of (history, v).
inline void fake_logits(std::span<const int32_t> history, std::span<float> logits) {
  uint64_t h = 0x12345678ULL;
  for (const int32_t t : history) h = mix64(h ^ static_cast<uint64_t>(t + 7));
  for (size_t v = 0; v < logits.size(); ++v) {
    const uint64_t r = mix64(h + 0x9e3779b97f4a7c15ULL * (v + 1));
    logits[v] = static_cast<float>(static_cast<double>(r >> 11) / 9007199254740992.0 * 8.0 - 4.0);
  }
}

class FakeRunner : public StepExecutor {
 public:
  FakeRunner(int64_t pool_capacity, int32_t vocab)
      : vocab_(vocab),
        slot_token_(static_cast<size_t>(pool_capacity), -1),
        slot_pos_(static_cast<size_t>(pool_capacity), -1) {}

  core::Result<StepResult> execute(const StepPlan& plan) override {
    StepResult res;
    res.step_id = plan.step_id;
    std::vector<float> logits(static_cast<size_t>(vocab_));
    std::vector<int32_t> history;
    for (const StepEntry& e : plan.entries) {
      const auto row = plan.req_to_token->row(e.req_row);
      // Write this step's K/V.
      for (int32_t i = 0; i < e.n_tokens; ++i) {
        const int64_t pos = e.cached_len + i;
        int32_t tok = plan.input_ids[static_cast<size_t>(e.token_offset + i)];
        if (tok == kPendingToken) tok = e.sampling->last_token;
        if (tok < 0) return core::internal_error("fake runner: unresolved pending token");
        const int32_t slot = plan.slots[static_cast<size_t>(e.token_offset + i)];
        if (slot != row[static_cast<size_t>(pos)]) {
          return core::internal_error("fake runner: plan slot {} != req_to_token {}", slot,
                                      row[static_cast<size_t>(pos)]);
        }
        slot_token_[static_cast<size_t>(slot)] = tok;
        slot_pos_[static_cast<size_t>(slot)] = pos;
        ++tokens_written_;
      }
      if (!e.sample) continue;
      // "Attention": read the whole history through req_to_token.
      history.clear();
      const int64_t len = e.cached_len + e.n_tokens;
      for (int64_t p = 0; p < len; ++p) {
        const int32_t slot = row[static_cast<size_t>(p)];
        if (slot_pos_[static_cast<size_t>(slot)] != p) {
          return core::internal_error(
              "fake runner: seq {} position {} reads slot {} holding "
              "position {}",
              e.seq_id, p, slot, slot_pos_[static_cast<size_t>(slot)]);
        }
        history.push_back(slot_token_[static_cast<size_t>(slot)]);
      }
      fake_logits(history, logits);
      const sampling::SampleOutput out = sampler_.sample(logits, *e.sampling);
      res.sampled.push_back({e.seq_id, out.token, out.logprob, out.top_logprobs});
    }
    return res;
  }

  // Overlap mode (StepLoop tests): start() runs the step at once and keeps its result for
  // finish(), and the next step may start before the previous one finished, as on the GPU.
  void set_overlap(bool on) { overlap_ = on; }
  core::Status start(const StepPlan& plan) override {
    if (!overlap_) return {};
    if (started_.size() >= 2) return core::internal_error("fake runner: a third started step");
    core::Result<StepResult> r = execute(plan);
    if (!r.ok()) return r.status();
    started_.push_back(std::move(r).value());
    max_started_ = std::max(max_started_, static_cast<int>(started_.size()));
    return {};
  }
  core::Result<StepResult> finish(const StepPlan& plan) override {
    if (!overlap_) return execute(plan);
    if (started_.empty() || started_.front().step_id != plan.step_id)
      return core::internal_error("fake runner: step {} finished out of order", plan.step_id);
    StepResult r = std::move(started_.front());
    started_.pop_front();
    return r;
  }
  bool can_start_before_finish(const StepPlan&) const override {
    return overlap_ && started_.size() == 1;
  }
  // Most steps started and not finished at once (overlap mode).
  int max_started() const { return max_started_; }

  int64_t tokens_written() const { return tokens_written_; }

 private:
  bool overlap_ = false;
  std::deque<StepResult> started_;
  int max_started_ = 0;
  int32_t vocab_;
  std::vector<int32_t> slot_token_;  // [capacity] token whose K/V the slot holds
  std::vector<int64_t> slot_pos_;    // [capacity] its position
  sampling::Sampler sampler_;
  int64_t tokens_written_ = 0;
};

struct ReferenceOutput {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::none;
};

// The uninterrupted run of one sequence (the finish rules written out independently).
inline ReferenceOutput reference_generate(const std::vector<int32_t>& prompt,
                                          const SamplingParams& params,
                                          const std::vector<int32_t>& eos_ids, int32_t vocab,
                                          int index = 0) {
  sampling::SamplingState st =
      sampling::make_sampling_state(params, prompt, eos_ids, static_cast<uint64_t>(index));
  sampling::Sampler sampler;
  std::vector<int32_t> history = prompt;
  std::vector<float> logits(static_cast<size_t>(vocab));
  ReferenceOutput out;
  while (true) {
    fake_logits(history, logits);
    const int32_t tok = sampler.sample(logits, st).token;
    history.push_back(tok);
    out.tokens.push_back(tok);
    const bool min_ok = static_cast<int>(out.tokens.size()) >= params.min_new_tokens;
    bool is_eos = false;
    for (const int32_t e : eos_ids) is_eos |= (e == tok);
    bool is_stop = false;
    for (const int32_t e : params.stop_token_ids) is_stop |= (e == tok);
    if (min_ok && is_eos && !params.ignore_eos) {
      out.reason = FinishReason::eos;
      break;
    }
    if (min_ok && is_stop) {
      out.reason = FinishReason::stop;
      break;
    }
    if (static_cast<int>(out.tokens.size()) >= params.max_new_tokens) {
      out.reason = FinishReason::length;
      break;
    }
  }
  return out;
}

}  // namespace lightllm::engine::testing
