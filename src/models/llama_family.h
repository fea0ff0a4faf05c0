// src/models/llama_family.h — entry points of src/models/llama.cpp for the registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace lightllm::loader {
struct ModelConfig;
class WeightStore;
}  // namespace lightllm::loader

namespace lightllm::models {
Result<std::unique_ptr<Model>> load_llama_family(const loader::ModelConfig& cfg,
                                                 loader::WeightStore& store,
                                                 const dist::ShardSpec& shard);
std::vector<std::string> llama_family_architectures();

}  // namespace lightllm::models
