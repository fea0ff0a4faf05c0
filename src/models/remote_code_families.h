// src/models/remote_code_families.h — entry points for the registry of the families whose HF
// code lives only in model repositories: ChatGLM2/3 (chatglm.cpp) and Qwen v1 (qwen1.cpp).
// (MiniCPM is a LLaMA variant: llama.cpp.) Each also lists the tensors (name, shape) it loads
// for a config, so parameter counts come from config + tensor table without any weights.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers/rms_decoder.h"
#include "models/model.h"

namespace lightllm::loader {
struct ModelConfig;
class WeightStore;
}  // namespace lightllm::loader

namespace lightllm::models {

Result<std::unique_ptr<Model>> load_chatglm(const loader::ModelConfig& cfg,
                                            loader::WeightStore& store);
std::vector<std::string> chatglm_architectures();
Result<std::vector<TensorSpec>> chatglm_tensors(const loader::ModelConfig& cfg);

Result<std::unique_ptr<Model>> load_qwen1(const loader::ModelConfig& cfg,
                                          loader::WeightStore& store);
std::vector<std::string> qwen1_architectures();
Result<std::vector<TensorSpec>> qwen1_tensors(const loader::ModelConfig& cfg);

}  // namespace lightllm::models
