// src/models/registry.cpp — config.json `architectures` → the family that loads it: LLaMA's own
// model class (llama.cpp) or one of the plan-based families (families.h), all loaded and
// counted the same way. Adding a plan-based family is one line here plus its file.
#include <string_view>

#include "core/log.h"
#include "models/families.h"
#include "models/llama_family.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"
#include "models/model.h"

namespace lightllm::models {
namespace {

constexpr const PlannedFamily* kPlannedFamilies[] = {
    &kBloomFamily,  &kGptBigcodeFamily, &kPhi3Family,  &kStablelmFamily,
    &kCohereFamily, &kChatglmFamily,    &kQwen1Family,
};

// The plan-based family that loads `architecture`, or null (LLaMA family or unknown).
const PlannedFamily* planned_family_of(const std::string& architecture) {
  for (const PlannedFamily* f : kPlannedFamilies)
    for (std::string_view arch : f->architectures)
      if (arch == architecture) return f;
  return nullptr;
}

bool is_llama_family(const std::string& architecture) {
  for (const auto& arch : llama_family_architectures())
    if (arch == architecture) return true;
  return false;
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> all = llama_family_architectures();
  for (const PlannedFamily* f : kPlannedFamilies)
    for (std::string_view arch : f->architectures) all.emplace_back(arch);
  return all;
}

Result<std::string> resolve_architecture(const loader::ModelConfig& config) {
  if (is_llama_family(config.architecture) || planned_family_of(config.architecture) != nullptr)
    return config.architecture;
  std::string known;
  for (const auto& a : supported_architectures()) known += (known.empty() ? "" : ", ") + a;
  return core::unimplemented("{}: architecture '{}' is not supported (supported: {})", config.path,
                             config.architecture, known);
}

Result<TensorTable> tensor_table(const loader::ModelConfig& config) {
  LLM_RETURN_IF_ERROR(resolve_architecture(config).status());
  const PlannedFamily* f = planned_family_of(config.architecture);
  if (f == nullptr)
    return core::unimplemented("parameter_count: no tensor table for family 'llama'");
  LLM_ASSIGN_OR_RETURN(layers::DecoderPlan plan, f->plan(config));
  return std::move(plan.table);
}

Result<int64_t> parameter_count(const loader::ModelConfig& config) {
  LLM_ASSIGN_OR_RETURN(TensorTable table, tensor_table(config));
  return layers::count_parameters(table);
}

Result<std::unique_ptr<Model>> load_model(const std::string& model_dir, core::Device device,
                                          const dist::ShardSpec& shard) {
  LLM_ASSIGN_OR_RETURN(loader::ModelFiles files, loader::open_model_folder(model_dir));
  const loader::ModelConfig& cfg = files.config;
  LLM_RETURN_IF_ERROR(resolve_architecture(cfg).status());
  const PlannedFamily* f = planned_family_of(cfg.architecture);
  auto model = f == nullptr ? load_llama_family(cfg, files.weights, shard)
                            : layers::load_planned(f->plan(cfg), f->assemble, files.weights, shard,
                                                   std::string(f->alt_prefix));
  if (!model.ok()) return model.status().with_context("loading " + model_dir);
  LLM_RETURN_IF_ERROR((*model)->to_device(device).with_context("placing " + model_dir));
  return model;
}

}  // namespace lightllm::models
