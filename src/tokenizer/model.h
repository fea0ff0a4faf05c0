// src/tokenizer/model.h — tokenizer.json "model" section. BPE (merge ranks, byte_fallback,
// ignore_merges, unk / fuse_unk, continuing_subword_prefix, end_of_word_suffix) and WordPiece.
// A model turns one pre-tokenized piece into ids. Invariants: immutable after construction
// except for an internal, mutex-sharded word cache; tokenize() is safe from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `piece` to `out`.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // Empty optional when the id is not in the model's vocabulary.
  virtual const std::string* id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
};

core::Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j);

}  // namespace lightllm::tokenizer
