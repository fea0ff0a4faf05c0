// src/engine/router/admission.h — LightLLM's future-token admission rule (DESIGN.md §4), as pure
// functions so they can be tested against hand-computed examples.
//
// Each sequence is summarized by a TokenTuple (a, b):
//   a = KV tokens it holds once its next step ran,  b = tokens it is still expected to add.
// Sorted by b descending, the pool need peaks at one of the moments a sequence finishes:
//   peak = max_i ( b_i·(i+1) + Σ_{j≤i} a_j )
// and a candidate is admitted only when the peak with it is < the pool capacity
// (LightLLM: `need_max_token_num < max_total_tokens`).
//
// Output-length estimate (LightLLM NormalReq.get_tuple_tokens):
//   cur_max = max_new_tokens                                     if ignore_eos or busy
//           = min(max_new_tokens, max(int(1.1·out_len), router_max_new_token_len)) otherwise
//   running: (prompt + out,      max(0, cur_max - out - 1))
//   waiting: (prompt + 1,        max(0, cur_max - 2))
//   paused:  (prompt + out + 1,  max(0, cur_max - out - 2))
// (a + b = prompt + cur_max - 1 in every phase: the last sampled token never needs a slot.)
// busy = (tokens held by requests) / capacity >= router_token_ratio; LightLLM's default
// router_token_ratio 0 makes the router always "busy", i.e. always conservative (b from
// max_new_tokens), which is what guarantees that the pool never overflows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lightllm::engine::router {

struct TokenTuple {
  int64_t a = 0;  // tokens held after the next step
  int64_t b = 0;  // estimated tokens still to come
};

enum class Phase { waiting, running, paused };

struct EstimateInput {
  Phase phase = Phase::waiting;
  int64_t prompt_len = 0;
  int64_t out_len = 0;  // generated so far (including samples of in-flight steps)
  int64_t max_new_tokens = 0;
  bool ignore_eos = false;
};

TokenTuple estimate_tokens(const EstimateInput& in, bool busy, int64_t router_max_new_token_len);

bool is_busy(int64_t tokens_held_by_requests, int64_t capacity, double router_token_ratio);

// Sorts `list` by b descending (in place) and returns max_i(b_i·(i+1) + Σ_{j≤i} a_j); 0 if empty.
int64_t peak_token_need(std::vector<TokenTuple>& list);

}  // namespace lightllm::engine::router
