// src/models/loader/safetensors.cpp — safetensors header parsing, validation and views.
#include "models/loader/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace lightllm::loader {

using core::DType;
using core::Result;
using core::Status;
using json = nlohmann::json;

namespace {

// Headers larger than this are rejected as corrupt (the reference implementation caps at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DTypeInfo {
  const char* name;
  size_t size;
  std::optional<DType> dtype;
};

// Every dtype string the safetensors format defines.
constexpr DTypeInfo kDTypes[] = {
    {"F32", 4, DType::f32}, {"F16", 2, DType::f16}, {"BF16", 2, DType::bf16}, {"I8", 1, DType::i8},
    {"I32", 4, DType::i32}, {"I64", 8, DType::i64}, {"F64", 8, {}},           {"U8", 1, {}},
    {"BOOL", 1, {}},        {"I16", 2, {}},         {"U16", 2, {}},           {"U32", 4, {}},
    {"U64", 8, {}},         {"F8_E4M3", 1, {}},     {"F8_E5M2", 1, {}},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// Reads a JSON value as a non-negative integer that fits in int64.
std::optional<uint64_t> as_index(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return u;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return std::nullopt;
    return static_cast<uint64_t>(i);
  }
  return std::nullopt;
}

// Parses one header entry; `data_size` is the size of the data section.
Result<TensorEntry> parse_entry(const std::string& path, const std::string& name, const json& v,
                                uint64_t data_size) {
  if (!v.is_object())
    return core::data_loss("{}: tensor '{}': header entry is not a JSON object", path, name);
  TensorEntry e;
  e.name = name;

  const auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string())
    return core::data_loss("{}: tensor '{}': missing or non-string \"dtype\"", path, name);
  e.dtype_name = dt->get<std::string>();
  const DTypeInfo* info = find_dtype(e.dtype_name);
  if (info == nullptr)
    return core::data_loss("{}: tensor '{}': unknown dtype '{}'", path, name, e.dtype_name);
  e.dtype = info->dtype;

  const auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array())
    return core::data_loss("{}: tensor '{}': missing or non-array \"shape\"", path, name);
  // numel * element size, overflow-checked (a product above 2^63 cannot fit any file).
  uint64_t bytes = info->size;
  bool overflow = false;
  for (const json& d : *sh) {
    const auto dim = as_index(d);
    if (!dim)
      return core::data_loss("{}: tensor '{}': shape has a non-integer or negative dimension", path,
                             name);
    e.shape.push_back(static_cast<int64_t>(*dim));
    if (*dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / 2 / *dim) overflow = true;
    bytes *= *dim;
  }
  if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) {
    bytes = 0;
    overflow = false;
  }

  const auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2)
    return core::data_loss("{}: tensor '{}': \"data_offsets\" must be [begin, end]", path, name);
  const auto b = as_index((*off)[0]);
  const auto en = as_index((*off)[1]);
  if (!b || !en)
    return core::data_loss("{}: tensor '{}': data_offsets must be non-negative integers", path,
                           name);
  e.begin = *b;
  e.end = *en;
  if (e.begin > e.end || e.end > data_size)
    return core::data_loss(
        "{}: tensor '{}': data_offsets [{}, {}] out of bounds of the {}-byte data section", path,
        name, e.begin, e.end, data_size);
  if (overflow || e.end - e.begin != bytes)
    return core::data_loss(
        "{}: tensor '{}': data_offsets span {} bytes but {} with shape of {} dims needs {}", path,
        name, e.end - e.begin, e.dtype_name, e.shape.size(),
        overflow ? std::string("more than 2^63") : std::to_string(bytes));
  return e;
}

}  // namespace

Result<SafetensorsHeader> parse_safetensors(const uint8_t* data, size_t size,
                                            const std::string& path) {
  if (size < 8)
    return core::data_loss("{}: file is {} bytes, shorter than the 8-byte header length", path,
                           size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian
  if (n > size - 8)
    return core::data_loss("{}: header length {} goes beyond the end of the {}-byte file", path, n,
                           size);
  if (n > kMaxHeaderBytes)
    return core::data_loss("{}: header length {} exceeds the {}-byte limit", path, n,
                           kMaxHeaderBytes);

  const char* begin = reinterpret_cast<const char*>(data + 8);
  const json header = json::parse(begin, begin + n, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return core::data_loss("{}: header is not valid JSON", path);
  if (!header.is_object()) return core::data_loss("{}: header is not a JSON object", path);

  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = size - 8 - n;
  out.entries.reserve(header.size());
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") continue;
    LLM_ASSIGN_OR_RETURN(TensorEntry e, parse_entry(path, name, value, data_size));
    out.entries.push_back(std::move(e));
  }

  // No two tensors may share bytes (empty tensors occupy nothing).
  std::vector<const TensorEntry*> order;
  for (const TensorEntry& e : out.entries)
    if (e.end > e.begin) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->begin < order[i - 1]->end)
      return core::data_loss("{}: tensors '{}' and '{}' overlap (bytes [{}, {}) and [{}, {}))",
                             path, order[i - 1]->name, order[i]->name, order[i - 1]->begin,
                             order[i - 1]->end, order[i]->begin, order[i]->end);
  }
  return out;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  LLM_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::open(path));
  LLM_ASSIGN_OR_RETURN(SafetensorsHeader header,
                       parse_safetensors(file->data(), file->size(), path));
  SafetensorsFile out;
  out.file_ = std::move(file);
  out.header_ = std::move(header);
  for (size_t i = 0; i < out.header_.entries.size(); ++i)
    out.by_name_.emplace(out.header_.entries[i].name, i);  // JSON object keys are unique
  return out;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &header_.entries[it->second];
}

Result<core::Tensor> SafetensorsFile::tensor(const TensorEntry& e) const {
  if (!e.dtype)
    return core::unimplemented("{}: tensor '{}': dtype {} is not supported", path(), e.name,
                               e.dtype_name);
  if (e.shape.size() > static_cast<size_t>(core::kMaxDims))
    return core::unimplemented("{}: tensor '{}': rank {} exceeds the supported {}", path(), e.name,
                               e.shape.size(), core::kMaxDims);
  const core::Shape shape(e.shape);
  const uint8_t* p = file_->data() + header_.data_start + e.begin;
  const size_t elem = core::dtype_size(*e.dtype);
  if (e.end == e.begin) {
    return core::Tensor::empty(shape, *e.dtype);  // zero elements: nothing to map
  }
  if (reinterpret_cast<uintptr_t>(p) % elem != 0) {
    core::Tensor copy = core::Tensor::empty(shape, *e.dtype);
    std::memcpy(copy.raw(), p, e.end - e.begin);
    return copy;
  }
  // Views are read-only in practice: the mapping is PROT_READ.
  return core::Tensor::view(const_cast<uint8_t*>(p), shape, *e.dtype, core::Device::cpu,
                            std::shared_ptr<const void>(file_, file_.get()));
}

}  // namespace lightllm::loader
