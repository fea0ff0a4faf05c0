// src/tokenizer/normalizer.h — tokenizer.json "normalizer" section: NFC/NFD/NFKC/NFKD,
// Lowercase, Prepend, Replace, Strip, StripAccents, BertNormalizer and Sequence.
// Invariants: input and output are valid UTF-8; normalizers are immutable and thread-safe.
// Alignment offsets are not tracked (the engine never needs them).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// Builds the normalizer described by `j` (a tokenizer.json "normalizer" object; null gives
// nullptr). Unknown types are an `unimplemented` error naming the type.
core::Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j);

}  // namespace lightllm::tokenizer
