// src/models/registry.cpp — config.json `architectures` → the family that loads it.
// One table; adding a family is one line here plus its file.
#include <string_view>

#include "core/log.h"
#include "models/families.h"
#include "models/llama_family.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"
#include "models/model.h"

namespace lightllm::models {
namespace {

using Loader = Result<std::unique_ptr<Model>> (*)(const loader::ModelConfig&, loader::WeightStore&,
                                                  const dist::ShardSpec&);
using ArchList = std::vector<std::string> (*)();
using Tensors = Result<TensorTable> (*)(const loader::ModelConfig&);

struct Family {
  std::string_view name;
  ArchList architectures;
  Loader load;
  Tensors tensors = nullptr;  // the checkpoint's tensor table (parameter_count)
};

constexpr Family kFamilies[] = {
    {"llama", llama_family_architectures, load_llama_family},
    {"bloom", bloom_architectures, load_bloom, bloom_tensors},
    {"gpt_bigcode", gpt_bigcode_architectures, load_gpt_bigcode, gpt_bigcode_tensors},
    {"phi3", phi3_architectures, load_phi3, phi3_tensors},
    {"stablelm", stablelm_architectures, load_stablelm, stablelm_tensors},
    {"cohere", cohere_architectures, load_cohere, cohere_tensors},
    {"chatglm", chatglm_architectures, load_chatglm, chatglm_tensors},
    {"qwen1", qwen1_architectures, load_qwen1, qwen1_tensors},
};

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> all;
  for (const Family& f : kFamilies)
    for (auto& a : f.architectures()) all.push_back(a);
  return all;
}

namespace {
const Family* family_of(const std::string& architecture) {
  for (const Family& f : kFamilies)
    for (const auto& arch : f.architectures())
      if (arch == architecture) return &f;
  return nullptr;
}
}  // namespace

Result<std::string> resolve_architecture(const loader::ModelConfig& config) {
  if (family_of(config.architecture) != nullptr) return config.architecture;
  std::string known;
  for (const auto& a : supported_architectures()) known += (known.empty() ? "" : ", ") + a;
  return core::unimplemented("{}: architecture '{}' is not supported (supported: {})", config.path,
                             config.architecture, known);
}

Result<int64_t> parameter_count(const loader::ModelConfig& config) {
  LLM_RETURN_IF_ERROR(resolve_architecture(config).status());
  const Family* f = family_of(config.architecture);
  if (f->tensors == nullptr)
    return core::unimplemented("parameter_count: no tensor table for family '{}'", f->name);
  LLM_ASSIGN_OR_RETURN(TensorTable table, f->tensors(config));
  return layers::count_parameters(table);
}

Result<std::unique_ptr<Model>> load_model(const std::string& model_dir, core::Device device,
                                          const dist::ShardSpec& shard) {
  LLM_ASSIGN_OR_RETURN(loader::ModelFiles files, loader::open_model_folder(model_dir));
  LLM_RETURN_IF_ERROR(resolve_architecture(files.config).status());
  auto model = family_of(files.config.architecture)->load(files.config, files.weights, shard);
  if (!model.ok()) return model.status().with_context("loading " + model_dir);
  LLM_RETURN_IF_ERROR((*model)->to_device(device).with_context("placing " + model_dir));
  return model;
}

}  // namespace lightllm::models
