// src/engine/sampling/generation_defaults.cpp — generation_config.json defaults over ours.
#include "engine/sampling/generation_defaults.h"

namespace lightllm::sampling {

SamplingParams default_sampling_params(const loader::GenerationDefaults& d) {
  SamplingParams p;
  if (d.do_sample) p.do_sample = *d.do_sample;
  if (d.temperature) p.temperature = static_cast<float>(*d.temperature);
  if (d.top_p) p.top_p = static_cast<float>(*d.top_p);
  if (d.top_k) p.top_k = static_cast<int>(*d.top_k);
  if (d.repetition_penalty) p.repetition_penalty = static_cast<float>(*d.repetition_penalty);
  if (d.max_new_tokens) p.max_new_tokens = static_cast<int>(*d.max_new_tokens);
  return p;
}

}  // namespace lightllm::sampling
