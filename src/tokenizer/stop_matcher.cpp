// src/tokenizer/stop_matcher.cpp — see stop_matcher.h.
#include "tokenizer/stop_matcher.h"

#include <algorithm>

namespace lightllm::tokenizer {

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop_in_output)
    : include_stop_(include_stop_in_output) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

StopMatcher::Result StopMatcher::push(std::string_view text) {
  Result r;
  if (stopped_) return r;
  held_.append(text);
  // Earliest occurrence of any stop string (ties: the longest).
  size_t best_pos = std::string::npos, best_len = 0, best_idx = 0;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t pos = held_.find(stops_[i]);
    if (pos == std::string::npos) continue;
    if (pos < best_pos || (pos == best_pos && stops_[i].size() > best_len)) {
      best_pos = pos;
      best_len = stops_[i].size();
      best_idx = i;
    }
  }
  if (best_pos != std::string::npos) {
    r.text = held_.substr(0, best_pos + (include_stop_ ? best_len : 0));
    r.stopped = true;
    r.stop_index = best_idx;
    stopped_ = true;
    held_.clear();
    return r;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    const size_t max_k = std::min(s.size() - 1, held_.size());
    for (size_t k = max_k; k > keep; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  r.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopMatcher::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace lightllm::tokenizer
