// include/lightllm/sampling_params.h — per-request generation parameters (LightLLM's names).
// Defaults come from the model's generation_config.json where it sets them; every value is
// checked by validate() before a request enters the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lightllm {

struct SamplingParams {
  bool do_sample = false;           // false: greedy (temperature/top_p/top_k ignored)
  float temperature = 1.0f;         // > 0
  float top_p = 1.0f;               // (0, 1]
  int top_k = -1;                   // -1 or 0: disabled; else >= 1
  float repetition_penalty = 1.0f;  // > 0; 1 = off (HF semantics: divide positive logits)
  float presence_penalty = 0.0f;    // [-2, 2] (OpenAI semantics)
  float frequency_penalty = 0.0f;   // [-2, 2]
  int max_new_tokens = 16;          // >= 1
  int min_new_tokens = 1;           // EOS and stop strings are suppressed before this many tokens
  bool ignore_eos = false;
  std::vector<std::string> stop_sequences;  // matched on detokenized text, across tokens
  std::vector<int32_t> stop_token_ids;      // extra ids that end the request (besides EOS)
  int n = 1;                                // completions returned
  int best_of = 1;                          // completions sampled (>= n); best by mean logprob
  std::optional<uint64_t> seed;             // reproducible sampling when set
  bool return_logprobs = false;             // logprob of each chosen token
  int top_logprobs = 0;                     // alternatives per position, [0, 20]
  bool skip_special_tokens = true;          // in the detokenized text
  // OpenAI logit_bias: (token id, bias in [-100, 100]) added to the logits before the penalties,
  // distinct ids. Sequences with a bias are sampled on the host (device_samplable).
  std::vector<std::pair<int32_t, float>> logit_bias;

  // Checks ranges; the message names the offending field, e.g. "top_p must be in (0, 1], got 0".
  // `vocab_size` bounds stop_token_ids.
  std::optional<std::string> validate(int64_t vocab_size) const;
};

}  // namespace lightllm
