// src/models/loader/safetensors.h — reading one .safetensors file.
// Format: 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section); the key "__metadata__" is ignored.
// Invariants after a successful parse (checked, never assumed):
//   - every entry has a known safetensors dtype string, a shape of non-negative dims and
//     begin <= end <= data section size, with end - begin == numel * element size;
//   - entries do not overlap; names are unique.
// Errors name the file and the tensor: data_loss for malformed files, unimplemented for
// dtypes the engine cannot represent (reported when the tensor is read, not at open).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "models/loader/mapped_file.h"

namespace lightllm::loader {

// One tensor's entry in a safetensors header.
struct TensorEntry {
  std::string name;
  std::string dtype_name;            // as written in the file, e.g. "BF16"
  std::optional<core::DType> dtype;  // empty for dtypes core::DType lacks (F64, U8, F8_E4M3, ...)
  std::vector<int64_t> shape;        // any rank; core::Tensor supports up to core::kMaxDims
  uint64_t begin = 0;                // byte offsets into the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the data section (8 + header length)
  std::vector<TensorEntry> entries;
};

// Parses and validates the header of a safetensors file held in memory (`size` bytes at
// `data`, the whole file). `path` is used in error messages only. Never reads outside
// [data, data + size). Exposed for tests and the fuzzer.
core::Result<SafetensorsHeader> parse_safetensors(const uint8_t* data, size_t size,
                                                  const std::string& path);

class SafetensorsFile {
 public:
  // Maps and validates `path`.
  static core::Result<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::vector<TensorEntry>& entries() const { return header_.entries; }
  // nullptr when the file has no tensor called `name`.
  const TensorEntry* find(std::string_view name) const;
  // The tensor as a view into the mapping that keeps the mapping alive. When the data is
  // not aligned to its element size (odd header lengths) it is copied into an aligned
  // buffer instead. unimplemented for dtypes without a core::DType or rank > kMaxDims.
  core::Result<core::Tensor> tensor(const TensorEntry& entry) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  SafetensorsHeader header_;
  std::unordered_map<std::string, size_t> by_name_;  // name -> index in header_.entries
};

}  // namespace lightllm::loader
