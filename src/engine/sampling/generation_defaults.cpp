// src/engine/sampling/generation_defaults.cpp — generation_config.json defaults over ours.
#include "engine/sampling/generation_defaults.h"

namespace lightllm::sampling {

SamplingParams default_sampling_params(const GenerationDefaults& d) {
  SamplingParams p;
  if (d.do_sample) p.do_sample = *d.do_sample;
  if (d.temperature) p.temperature = *d.temperature;
  if (d.top_p) p.top_p = *d.top_p;
  if (d.top_k) p.top_k = *d.top_k;
  if (d.repetition_penalty) p.repetition_penalty = *d.repetition_penalty;
  if (d.max_new_tokens) p.max_new_tokens = *d.max_new_tokens;
  return p;
}

}  // namespace lightllm::sampling
