// src/engine/sampling/generation_defaults.h — a model's generation_config.json defaults.
//
// The loader parses the file into GenerationDefaults (fields the file does not set stay
// empty); default_sampling_params() puts them over LightLLM's built-in defaults. The server
// then overwrites the fields the client sent, and calls validate().
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lightllm/sampling_params.h"

namespace lightllm::sampling {

struct GenerationDefaults {
  std::optional<bool> do_sample;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> repetition_penalty;
  std::optional<int> max_new_tokens;
  std::vector<int32_t> eos_token_ids;  // "eos_token_id": int or list (used as stop ids)
};

// Built-in SamplingParams with the model's generation_config.json defaults applied.
// HF rule kept: a top_k of 0 in the file means "disabled" (our -1/0 both mean that).
SamplingParams default_sampling_params(const GenerationDefaults& defaults);

}  // namespace lightllm::sampling
