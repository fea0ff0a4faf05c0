// src/tokenizer/decoder.h — tokenizer.json "decoder" section: ByteLevel, Metaspace, ByteFallback,
// Fuse, Strip, Replace, WordPiece, BPEDecoder and Sequence. A decoder maps the list of token
// strings to a new list (HF decode_chain); the tokenizer concatenates the final list.
// Invariants: output strings are valid UTF-8 (invalid bytes become U+FFFD); thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

core::Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j);

}  // namespace lightllm::tokenizer
