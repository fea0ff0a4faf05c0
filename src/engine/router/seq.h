// src/engine/router/seq.h — the router's private per-sequence state (used by router*.cpp only).
//
// Positions: tokens = prompt + committed outputs. A running sequence has a req_to_token row
// whose entries [0, kv_len) are assigned slots; [0, kv_committed) hold computed K/V (steps
// committed); [kv_committed, kv_len) are being computed by in-flight steps. [0, n_shared) are
// slots owned by the prefix cache (reference held on `node`), [n_shared, kv_len) are owned here.
// The tokens still to feed are positions [kv_len, tokens.size() + pending_samples); the last of
// them is fed with sampling.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/router/router.h"

namespace lightllm::engine::router {

enum class SeqState { waiting, running, finished };

struct Router::Seq {
  SequenceSpec spec;
  std::vector<int32_t> tokens;  // prompt + committed outputs
  int64_t prompt_len = 0;
  int64_t pending_samples = 0;  // sampling entries in uncommitted plans
  int inflight = 0;             // uncommitted plans that contain this sequence
  SeqState state = SeqState::waiting;
  bool was_paused = false;  // waiting again after having run
  bool in_prefill = false;  // admitted, its last prefill chunk not planned yet
  FinishReason reason = FinishReason::none;

  int32_t row = -1;
  int64_t kv_len = 0;
  int64_t kv_committed = 0;
  int64_t n_shared = 0;
  kv::PrefixCache::Node* node = nullptr;

  int64_t cached_prompt_tokens = 0;
  std::unique_ptr<sampling::SamplingState> sampling;

  int64_t out_len() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  // Tokens known or about to be known (committed + sampled by in-flight steps).
  int64_t total_len() const { return static_cast<int64_t>(tokens.size()) + pending_samples; }
  int64_t remaining_feed() const { return total_len() - kv_len; }
};

}  // namespace lightllm::engine::router
