// src/engine/sampling/sampling_params.cpp — SamplingParams::validate (declared in
// include/lightllm/sampling_params.h). Every rule's message names the field and the bad value.
#include <cmath>

#include <fmt/format.h>

#include "lightllm/sampling_params.h"

namespace lightllm {

std::optional<std::string> SamplingParams::validate(int64_t vocab_size) const {
  if (!std::isfinite(temperature) || temperature <= 0.0f) {
    return fmt::format("temperature must be > 0, got {}", temperature);
  }
  if (!std::isfinite(top_p) || top_p <= 0.0f || top_p > 1.0f) {
    return fmt::format("top_p must be in (0, 1], got {}", top_p);
  }
  if (top_k < -1) return fmt::format("top_k must be -1, 0 (disabled) or >= 1, got {}", top_k);
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0.0f) {
    return fmt::format("repetition_penalty must be > 0, got {}", repetition_penalty);
  }
  if (!std::isfinite(presence_penalty) || presence_penalty < -2.0f || presence_penalty > 2.0f) {
    return fmt::format("presence_penalty must be in [-2, 2], got {}", presence_penalty);
  }
  if (!std::isfinite(frequency_penalty) || frequency_penalty < -2.0f || frequency_penalty > 2.0f) {
    return fmt::format("frequency_penalty must be in [-2, 2], got {}", frequency_penalty);
  }
  if (max_new_tokens < 1) return fmt::format("max_new_tokens must be >= 1, got {}", max_new_tokens);
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens) {
    return fmt::format("min_new_tokens must be in [0, max_new_tokens={}], got {}", max_new_tokens,
                       min_new_tokens);
  }
  for (size_t i = 0; i < stop_sequences.size(); ++i) {
    if (stop_sequences[i].empty()) return fmt::format("stop_sequences[{}] must not be empty", i);
  }
  for (size_t i = 0; i < stop_token_ids.size(); ++i) {
    if (stop_token_ids[i] < 0 || stop_token_ids[i] >= vocab_size) {
      return fmt::format("stop_token_ids[{}] must be in [0, vocab_size={}), got {}", i, vocab_size,
                         stop_token_ids[i]);
    }
  }
  if (n < 1) return fmt::format("n must be >= 1, got {}", n);
  if (best_of < n) return fmt::format("best_of must be >= n={}, got {}", n, best_of);
  if (!do_sample && best_of > 1) {
    return fmt::format("best_of must be 1 when do_sample is false (greedy), got {}", best_of);
  }
  for (size_t i = 0; i < logit_bias.size(); ++i) {
    const auto [id, bias] = logit_bias[i];
    if (id < 0 || id >= vocab_size) {
      return fmt::format("logit_bias token {} must be in [0, vocab_size={})", id, vocab_size);
    }
    if (!std::isfinite(bias) || bias < -100.0f || bias > 100.0f) {
      return fmt::format("logit_bias of token {} must be in [-100, 100], got {}", id, bias);
    }
    for (size_t j = 0; j < i; ++j) {
      if (logit_bias[j].first == id) return fmt::format("logit_bias names token {} twice", id);
    }
  }
  if (top_logprobs < 0 || top_logprobs > 20) {
    return fmt::format("top_logprobs must be in [0, 20], got {}", top_logprobs);
  }
  return std::nullopt;
}

}  // namespace lightllm
