// src/cli/engine_flags.h — the command-line flags shared by `serve`, `generate` and `bench`:
// engine sizing (LightLLM's flag names with dashes) and sampling parameters.
#pragma once

#include <CLI/CLI.hpp>

#include "lightllm/engine.h"

namespace lightllm::cli {

// The folder name of the model that ships in <repo>/models/ and is served without --model.
inline constexpr const char* kBundledModelName = "lightllm-tiny-en";

// <repo>/models/<kBundledModelName>: found next to the executable (../models, ./models) or at
// the source tree's models/ (compile definition LIGHTLLM_SOURCE_MODELS_DIR). "" if none exists.
std::string default_model_dir();

void add_engine_flags(CLI::App& cmd, EngineConfig& cfg);
void add_sampling_flags(CLI::App& cmd, SamplingParams& p);

}  // namespace lightllm::cli
