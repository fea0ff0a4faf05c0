// src/tokenizer/vocab.h — a token string <-> id table with string_view lookups, shared by the
// BPE and WordPiece models and the tiktoken loader. Invariants: ids are dense enough to index
// id_to_token_ (holes hold an empty string and are reported as absent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lightllm::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  void add(std::string token, int32_t id) {
    if (id < 0) return;
    if (static_cast<size_t>(id) >= id_to_token_.size()) {
      id_to_token_.resize(static_cast<size_t>(id) + 1);
      present_.resize(static_cast<size_t>(id) + 1, false);
    }
    id_to_token_[static_cast<size_t>(id)] = token;
    present_[static_cast<size_t>(id)] = true;
    token_to_id_.emplace(std::move(token), id);
  }
  std::optional<int32_t> find(std::string_view token) const {
    auto it = token_to_id_.find(token);
    if (it == token_to_id_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() ||
        !present_[static_cast<size_t>(id)])
      return nullptr;
    return &id_to_token_[static_cast<size_t>(id)];
  }
  size_t size() const { return token_to_id_.size(); }
  size_t id_bound() const { return id_to_token_.size(); }

 private:
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> present_;
};

}  // namespace lightllm::tokenizer
