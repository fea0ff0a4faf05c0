// src/engine/router/admission.cpp — future-token estimate and peak; see admission.h.
#include "engine/router/admission.h"

#include <algorithm>

namespace lightllm::engine::router {

TokenTuple estimate_tokens(const EstimateInput& in, bool busy, int64_t router_max_new_token_len) {
  int64_t cur_max = in.max_new_tokens;
  if (!in.ignore_eos && !busy) {
    const auto grown = static_cast<int64_t>(1.1 * static_cast<double>(in.out_len));
    cur_max = std::min(in.max_new_tokens, std::max(grown, router_max_new_token_len));
  }
  switch (in.phase) {
    case Phase::running:
      return {in.prompt_len + in.out_len, std::max<int64_t>(0, cur_max - in.out_len - 1)};
    case Phase::waiting: return {in.prompt_len + 1, std::max<int64_t>(0, cur_max - 2)};
    case Phase::paused:
      return {in.prompt_len + in.out_len + 1, std::max<int64_t>(0, cur_max - in.out_len - 2)};
  }
  return {};
}

bool is_busy(int64_t tokens_held_by_requests, int64_t capacity, double router_token_ratio) {
  if (capacity <= 0) return true;
  return static_cast<double>(tokens_held_by_requests) / static_cast<double>(capacity) >=
         router_token_ratio;
}

int64_t peak_token_need(std::vector<TokenTuple>& list) {
  std::stable_sort(list.begin(), list.end(),
                   [](const TokenTuple& x, const TokenTuple& y) { return x.b > y.b; });
  int64_t cum_a = 0, peak = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    cum_a += list[i].a;
    peak = std::max(peak, list[i].b * static_cast<int64_t>(i + 1) + cum_a);
  }
  return peak;
}

}  // namespace lightllm::engine::router
