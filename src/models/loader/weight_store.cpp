// src/models/loader/weight_store.cpp — finding and opening a model folder's weight files.
#include "models/loader/weight_store.h"

#include <algorithm>
#include <filesystem>

#include <fmt/ranges.h>

namespace lightllm::loader {

namespace fs = std::filesystem;
using core::Result;
using core::Status;
using nlohmann::json;

namespace {

// Shard names come from a file we do not trust: plain relative paths inside the folder only.
bool safe_relative_name(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name))
    if (part == "..") return false;
  return true;
}

// Files ending in `ext` directly inside `dir`, sorted by name.
std::vector<std::string> files_with_extension(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      out.push_back(de.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Status WeightStore::add_file_tensors(size_t file_index) {
  const SafetensorsFile& f = files_[file_index];
  for (size_t i = 0; i < f.entries().size(); ++i) {
    const TensorEntry& e = f.entries()[i];
    const auto it = by_name_.find(e.name);
    if (it != by_name_.end())
      return core::data_loss("tensor '{}' is in both {} and {}", e.name,
                             files_[it->second.file].path(), f.path());
    by_name_.emplace(e.name, Location{file_index, i});
  }
  return Status();
}

Result<WeightStore> WeightStore::open(const std::string& model_dir) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    return core::not_found("{}: model folder does not exist or is not a folder", model_dir);
  WeightStore ws;
  ws.dir_ = model_dir;
  const fs::path dir(model_dir);
  const std::string index_path = (dir / "model.safetensors.index.json").string();
  const std::string single_path = (dir / "model.safetensors").string();

  if (fs::exists(index_path, ec)) {
    auto j = read_json_file(index_path);
    if (!j.ok()) return core::data_loss("{}", j.status().message());
    const json* wm = j->is_object() && j->contains("weight_map") ? &(*j)["weight_map"] : nullptr;
    if (wm == nullptr || !wm->is_object())
      return core::data_loss("{}: missing \"weight_map\" object", index_path);
    std::map<std::string, size_t> shard_index;  // shard file name -> files_ index
    for (const auto& [tensor, shard] : wm->items()) {
      if (!shard.is_string() || !safe_relative_name(shard.get<std::string>()))
        return core::data_loss("{}: tensor '{}' maps to an invalid shard name {}", index_path,
                               tensor, shard.dump().substr(0, 80));
      const std::string shard_name = shard.get<std::string>();
      auto it = shard_index.find(shard_name);
      if (it == shard_index.end()) {
        const std::string shard_path = (dir / shard_name).string();
        if (!fs::exists(shard_path, ec))
          return core::not_found("{}: tensor '{}' is in shard {}, which does not exist", index_path,
                                 tensor, shard_path);
        LLM_ASSIGN_OR_RETURN(SafetensorsFile sf, SafetensorsFile::open(shard_path));
        ws.files_.push_back(std::move(sf));
        it = shard_index.emplace(shard_name, ws.files_.size() - 1).first;
      }
      const TensorEntry* e = ws.files_[it->second].find(tensor);
      if (e == nullptr)
        return core::not_found("{}: tensor '{}' is listed for shard {} but that file lacks it",
                               index_path, tensor, ws.files_[it->second].path());
      const size_t entry_index = static_cast<size_t>(e - ws.files_[it->second].entries().data());
      ws.by_name_.emplace(tensor, Location{it->second, entry_index});
    }
    if (ws.by_name_.empty()) return core::not_found("{}: \"weight_map\" is empty", index_path);
    return ws;
  }

  std::vector<std::string> paths;
  if (fs::exists(single_path, ec))
    paths.push_back(single_path);
  else
    paths = files_with_extension(model_dir, ".safetensors");
  if (paths.empty()) {
    if (!files_with_extension(model_dir, ".bin").empty() ||
        !files_with_extension(model_dir, ".pt").empty())
      return core::unimplemented(
          "{}: only PyTorch .bin/.pt weights found; convert them to safetensors", model_dir);
    return core::not_found(
        "{}: no weights (model.safetensors, model.safetensors.index.json or *.safetensors)",
        model_dir);
  }
  for (const std::string& p : paths) {
    LLM_ASSIGN_OR_RETURN(SafetensorsFile sf, SafetensorsFile::open(p));
    ws.files_.push_back(std::move(sf));
  }
  for (size_t i = 0; i < ws.files_.size(); ++i) LLM_RETURN_IF_ERROR(ws.add_file_tensors(i));
  return ws;
}

bool WeightStore::contains(std::string_view name) const {
  return by_name_.count(name) > 0;
}

const TensorEntry* WeightStore::info(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entry(it->second);
}

std::string WeightStore::file_of(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? std::string() : files_[it->second.file].path();
}

Result<core::Tensor> WeightStore::get_any(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end())
    return core::not_found("{}: tensor '{}' is not in the model's weights", dir_, name);
  return files_[it->second.file].tensor(entry(it->second));
}

Result<core::Tensor> WeightStore::get(const std::string& name,
                                      const core::Shape& expected_shape) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end())
    return core::not_found("{}: tensor '{}' is not in the model's weights", dir_, name);
  const TensorEntry& e = entry(it->second);
  const std::string& file = files_[it->second.file].path();
  if (!e.dtype)
    return core::unimplemented("{}: tensor '{}': dtype {} is not supported", file, name,
                               e.dtype_name);
  if (*e.dtype != core::DType::f32 && *e.dtype != core::DType::f16 && *e.dtype != core::DType::bf16)
    return core::invalid_argument("{}: tensor '{}' has dtype {}; weights must be F32, F16 or BF16",
                                  file, name, e.dtype_name);
  const std::vector<int64_t> want = expected_shape.to_vector();
  if (e.shape != want)
    return core::invalid_argument("{}: tensor '{}' has shape [{}], expected {}", file, name,
                                  fmt::join(e.shape, ", "), expected_shape.to_string());
  return files_[it->second.file].tensor(e);
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, loc] : by_name_) out.push_back(name);
  return out;
}

int64_t WeightStore::total_bytes() const {
  int64_t total = 0;
  for (const auto& [name, loc] : by_name_)
    total += static_cast<int64_t>(entry(loc).end - entry(loc).begin);
  return total;
}

Result<ModelFiles> open_model_folder(const std::string& model_dir) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    return core::not_found("{}: model folder does not exist or is not a folder", model_dir);
  const std::string config_path = (fs::path(model_dir) / "config.json").string();
  if (!fs::exists(config_path, ec))
    return core::not_found("{}: no config.json (not a HuggingFace model folder?)", model_dir);
  LLM_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(config_path));
  LLM_ASSIGN_OR_RETURN(GenerationDefaults gen, load_generation_defaults(model_dir));
  LLM_ASSIGN_OR_RETURN(WeightStore weights, WeightStore::open(model_dir));
  return ModelFiles{std::move(config), std::move(gen), std::move(weights)};
}

}  // namespace lightllm::loader
