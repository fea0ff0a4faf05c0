// src/models/families.h — entry points of the plan-based families (src/models/<family>.cpp)
// for the registry: the architectures each loads, its loader, and its tensor table (every
// checkpoint tensor with the shape config.json implies; the parameter count is its sum).
// Loaders take the rank's ShardSpec (load_model); families without a tensor-parallel path
// return unimplemented for a sharded one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers/decoder.h"
#include "models/model.h"

namespace lightllm::models {

using TensorTable = std::vector<layers::TensorSpec>;

#define LIGHTLLM_DECLARE_FAMILY(name)                                                            \
  Result<std::unique_ptr<Model>> load_##name(                                                    \
      const loader::ModelConfig& cfg, loader::WeightStore& store, const dist::ShardSpec& shard); \
  std::vector<std::string> name##_architectures();                                               \
  Result<TensorTable> name##_tensors(const loader::ModelConfig& cfg);

LIGHTLLM_DECLARE_FAMILY(bloom)
LIGHTLLM_DECLARE_FAMILY(gpt_bigcode)
LIGHTLLM_DECLARE_FAMILY(phi3)
LIGHTLLM_DECLARE_FAMILY(stablelm)
LIGHTLLM_DECLARE_FAMILY(cohere)
LIGHTLLM_DECLARE_FAMILY(chatglm)
LIGHTLLM_DECLARE_FAMILY(qwen1)

#undef LIGHTLLM_DECLARE_FAMILY

}  // namespace lightllm::models
