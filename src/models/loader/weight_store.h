// src/models/loader/weight_store.h — all the weights of one HF model folder, by tensor name.
// Opens model.safetensors.index.json (sharded: each shard mapped once), else
// model.safetensors, else every *.safetensors in the folder (names must be unique).
// Tensors come back as read-only views into the mappings; each view keeps its file
// mapped, so a WeightStore may be destroyed while its tensors live on.
// Errors name the file and the tensor (see safetensors.h for per-file checks).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "models/loader/model_config.h"
#include "models/loader/safetensors.h"

namespace lightllm::loader {

class WeightStore {
 public:
  // not_found: no folder, no weights, a shard or an indexed tensor missing;
  // data_loss: malformed files; unimplemented: only PyTorch .bin weights present.
  static core::Result<WeightStore> open(const std::string& model_dir);

  bool contains(std::string_view name) const;
  // The header entry (dtype, shape) of `name`, or nullptr.
  const TensorEntry* info(std::string_view name) const;
  // The file that holds `name` ("" when absent).
  std::string file_of(std::string_view name) const;

  // A weight: dtype must be F32, F16 or BF16 (invalid_argument otherwise) and its shape
  // must equal `expected_shape` (invalid_argument naming both shapes).
  core::Result<core::Tensor> get(const std::string& name, const core::Shape& expected_shape) const;
  // Any tensor with a core::DType (also I8/I32/I64), no shape check.
  core::Result<core::Tensor> get_any(const std::string& name) const;

  std::vector<std::string> names() const;  // sorted
  int64_t total_bytes() const;             // sum of all tensors' data sizes
  const std::string& dir() const { return dir_; }

 private:
  struct Location {
    size_t file = 0;   // index into files_
    size_t entry = 0;  // index into files_[file].entries() (indices survive moves)
  };
  const TensorEntry& entry(const Location& loc) const {
    return files_[loc.file].entries()[loc.entry];
  }
  core::Status add_file_tensors(size_t file_index);

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Location, std::less<>> by_name_;
};

// What a model folder holds: its config, generation defaults and weights.
struct ModelFiles {
  ModelConfig config;
  GenerationDefaults generation;
  WeightStore weights;
};
// not_found "<dir>: no config.json" for folders that are not HF model folders.
core::Result<ModelFiles> open_model_folder(const std::string& model_dir);

}  // namespace lightllm::loader
