// src/cli/engine_flags.h — the command-line flags shared by `serve`, `generate` and `bench`:
// engine sizing (LightLLM's flag names with dashes) and sampling parameters.
#pragma once

#include <CLI/CLI.hpp>

#include "lightllm/engine.h"

namespace lightllm::cli {

// The folder of the model that ships with the repository (served when --model is absent).
std::string default_model_dir();

void add_engine_flags(CLI::App& cmd, EngineConfig& cfg);
void add_sampling_flags(CLI::App& cmd, SamplingParams& p);

}  // namespace lightllm::cli
