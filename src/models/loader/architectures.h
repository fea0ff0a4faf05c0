// src/models/loader/architectures.h — which config.json architectures the engine can run.
// The table in architectures.cpp is the single list; model families add their entry there.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "models/loader/model_config.h"

namespace lightllm::loader {

// The architecture names (config.json "architectures"[0]) the engine supports.
const std::vector<std::string>& supported_architectures();

// Returns config.architecture when supported; otherwise unimplemented, naming the
// architecture, the config file and the supported list.
core::Result<std::string> resolve_architecture(const ModelConfig& config);

}  // namespace lightllm::loader
