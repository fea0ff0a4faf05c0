// src/models/loader/architectures.cpp — the supported-architecture table.
#include "models/loader/architectures.h"

#include <algorithm>

#include <fmt/ranges.h>

namespace lightllm::loader {

const std::vector<std::string>& supported_architectures() {
  // Extend when a model family lands in src/models/.
  static const std::vector<std::string> kSupported = {
      "LlamaForCausalLM",
      "MistralForCausalLM",
      "Qwen2ForCausalLM",
      "InternLMForCausalLM",
  };
  return kSupported;
}

core::Result<std::string> resolve_architecture(const ModelConfig& config) {
  const auto& s = supported_architectures();
  if (std::find(s.begin(), s.end(), config.architecture) != s.end()) return config.architecture;
  return core::unimplemented("{}: architecture '{}' is not supported; supported: {}", config.path,
                             config.architecture, fmt::join(s, ", "));
}

}  // namespace lightllm::loader
