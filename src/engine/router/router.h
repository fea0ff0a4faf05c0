// src/engine/router/router.h — the scheduler (DESIGN.md §4): owns every sequence's state, the
// token pool bookkeeping, the req_to_token table and the prefix cache, and turns them into one
// StepPlan per step. No device code, no threads: the engine's router thread drives it.
//
// Sequence life: waiting ──admit──> running (prefill chunks → decode) ──> finished (released)
//                  ^                     │ pool exhausted at decode: pause the newest
//                  └──── front of queue ─┘ (its computed tokens go into the prefix cache)
// A resumed sequence re-prefills what is no longer cached and continues; its SamplingState
// (RNG, counts) lives on, so its output equals an uninterrupted run. abort() works in any state.
//
// n / best_of: every completion is its own sequence (its own seq_id, same group_id, index
// 0..best_of-1). Siblings share the prompt through the prefix cache: while one sibling's prompt
// is not yet cached, later siblings wait in the queue; then each prefills only the last prompt
// token. Ranking best_of completions is the engine's job.
//
// Slot ownership (checked by check_invariants()): for a sequence with a req_to_token row,
// positions [0, n_shared) are slots owned by the prefix cache (the sequence holds a reference on
// that path) and [n_shared, kv_len) are slots owned by the sequence, so
//     pool.used == Σ_seq (kv_len - n_shared) + prefix_cache.size().
//
// Events: every sampled token of a live sequence, and exactly one final event per sequence
// (finish by length / eos / stop id, by finish() from the detokenizer, or by abort()), are queued
// and handed out by take_events().
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/router/admission.h"
#include "engine/sampling/sampling_state.h"
#include "engine/step.h"
#include "kv/prefix_cache.h"
#include "kv/req_to_token.h"
#include "kv/token_pool.h"
#include "lightllm/engine.h"

namespace lightllm::engine::router {

struct RouterConfig {
  int64_t max_total_tokens = 0;      // KV pool slots (--max-total-token-num)
  int running_max_req_size = 1000;   // concurrent running sequences; also req_to_token rows
  int64_t max_req_total_len = 0;     // prompt + max_new_tokens limit; also req_to_token row length
  int64_t batch_max_tokens = 0;      // prefill tokens per step (0 = max_req_total_len)
  int64_t chunked_prefill_size = 0;  // > 0: prompts are fed in chunks of at most this size
  double router_token_ratio = 0.0;   // see admission.h ("busy" threshold)
  int64_t router_max_new_token_len = 1024;
  bool enable_prefix_cache = true;
  std::vector<int32_t> eos_token_ids;
  int max_inflight_steps = 1;  // 2: plan step N+1 while step N runs (see step.h)
};

// `config` with its 0 = auto fields resolved as the Router uses them: max_req_total_len 0 =
// max_total_tokens, batch_max_tokens 0 = max_req_total_len, max_inflight_steps at least 1.
RouterConfig resolve_router_config(RouterConfig config);

struct SequenceSpec {
  uint64_t seq_id = 0;    // unique, != 0
  uint64_t group_id = 0;  // the user request (n / best_of siblings share it); 0 = seq_id
  int index = 0;          // which completion of the group
  int group_size = 1;     // best_of
  std::vector<int32_t> prompt;
  SamplingParams params;  // validated by the caller
};

struct SeqEvent {
  uint64_t seq_id = 0;
  uint64_t group_id = 0;
  int index = 0;
  bool has_token = false;
  SampledToken token;  // when has_token
  bool finished = false;
  FinishReason reason = FinishReason::none;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;     // generated so far
  int64_t cached_prompt_tokens = 0;  // prompt tokens served by the prefix cache at admission
};

struct RouterStats {
  int running = 0;
  int waiting = 0;  // includes paused
  int paused = 0;   // waiting sequences that had been running
  int64_t kv_total = 0;
  int64_t kv_used = 0;       // pool slots in use (requests + prefix cache)
  int64_t kv_cached = 0;     // slots held by the prefix cache
  int64_t kv_evictable = 0;  // cached slots no running sequence references
  uint64_t steps = 0;
  uint64_t pauses = 0;
  uint64_t prefill_tokens = 0;  // tokens fed as prefill (computed)
  uint64_t decode_tokens = 0;
  uint64_t prefix_hit_tokens = 0;  // tokens not recomputed thanks to the prefix cache
  uint64_t finished = 0;
  int64_t peak_estimate = 0;  // last admission peak estimate
};

class Router {
 public:
  explicit Router(RouterConfig config);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Queues a sequence (FCFS). Rejects an empty prompt, a duplicate id, prompt + max_new_tokens
  // over max_req_total_len or over the pool, or (without chunked prefill) a prompt longer than
  // batch_max_tokens. Nothing is queued on error.
  core::Status submit(SequenceSpec spec);

  // Ends a sequence in any state with reason abort; frees its KV now, or when the in-flight
  // step that uses it is committed. Unknown / already finished ids are ignored.
  void abort(uint64_t seq_id);
  // Ends a sequence with `reason` (the detokenizer matched a stop string). Same as abort otherwise.
  void finish(uint64_t seq_id, FinishReason reason = FinishReason::stop);

  // The next step. Fails (internal) when max_inflight_steps plans are already uncommitted.
  // An empty plan means there is nothing to run now.
  core::Result<StepPlan> plan();
  // Applies the result of the oldest uncommitted plan: appends tokens, finishes sequences,
  // releases what is done.
  core::Status commit(const StepResult& result);

  std::vector<SeqEvent> take_events();

  bool idle() const { return seqs_.empty() && inflight_.empty(); }
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  size_t inflight_steps() const { return inflight_.size(); }
  RouterStats stats() const;
  const RouterConfig& config() const { return cfg_; }

  const kv::TokenPool& pool() const { return pool_; }
  const kv::ReqToTokenTable& req_to_token() const { return req_to_token_; }
  const kv::PrefixCache* prefix_cache() const { return cache_.get(); }

  // Full consistency check (pool, cache, ownership sum, rows); O(total tokens). For tests.
  core::Status check_invariants() const;

 private:
  struct Seq;  // defined in seq.h
  struct InflightEntry {
    uint64_t seq_id;
    int32_t n_tokens;
    bool sample;
    bool is_prefill;
  };
  struct InflightStep {
    uint64_t step_id;
    std::vector<InflightEntry> entries;
  };

  // router.cpp
  void end(Seq& s, FinishReason reason);
  core::Status maybe_release(Seq& s);  // release a finished sequence once nothing is in flight
  core::Status release(Seq& s);        // give back row + slots (into the cache if enabled)
  core::Status free_kv(Seq& s);        // row + slots only; s stays alive
  core::Status pause(Seq& s);
  core::Status publish_prefix(Seq& s);  // cache the computed prefix of a running sequence
  void push_event(const Seq& s, const SampledToken* tok);
  bool hits_stop(const Seq& s, int32_t token, FinishReason* reason) const;

  // router_plan.cpp
  bool ensure_free(int64_t n);  // evicts from the prefix cache until n slots are free
  core::Status schedule_decode(StepPlan& plan);
  core::Status schedule_prefill_chunks(StepPlan& plan, int64_t& prefill_budget);
  core::Status admit_waiting(StepPlan& plan, int64_t& prefill_budget);
  core::Status add_entry(StepPlan& plan, Seq& s, int64_t n_tokens);
  TokenTuple tuple_of(const Seq& s, bool busy) const;
  int64_t chunk_cap() const;

  RouterConfig cfg_;
  kv::TokenPool pool_;
  kv::ReqToTokenTable req_to_token_;
  std::unique_ptr<kv::PrefixCache> cache_;

  std::unordered_map<uint64_t, std::unique_ptr<Seq>> seqs_;  // every live sequence
  std::deque<Seq*> waiting_;                                 // FCFS; paused ones at the front
  std::vector<Seq*> running_;                                // admission order, newest last
  std::deque<InflightStep> inflight_;  // planned, not committed (oldest first)
  std::vector<SeqEvent> events_;
  uint64_t next_step_id_ = 1;
  bool paused_this_step_ = false;  // no admissions in a step that had to pause
  RouterStats stats_;
};

}  // namespace lightllm::engine::router
