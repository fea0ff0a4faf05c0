// src/engine/sampling/generation_defaults.h — a model's generation_config.json defaults.
//
// The loader parses the file into loader::GenerationDefaults (fields the file does not set stay
// empty); default_sampling_params() puts them over LightLLM's built-in defaults. The server
// then overwrites the fields the client sent, and calls validate().
#pragma once

#include "lightllm/sampling_params.h"
#include "models/loader/model_config.h"

namespace lightllm::sampling {

// Built-in SamplingParams with the model's generation_config.json defaults applied.
// HF rule kept: a top_k of 0 in the file means "disabled" (our -1/0 both mean that).
SamplingParams default_sampling_params(const loader::GenerationDefaults& defaults);

}  // namespace lightllm::sampling
