// src/tokenizer/added_vocab.h — added / special tokens of a tokenizer.json ("added_tokens"),
// matched in the text before the normalizer / model run, like HF's AddedVocabulary:
// leftmost-longest matching, then the single_word / lstrip / rstrip rules per token.
// Invariants: immutable after build(); thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lightllm::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// A piece of the input after added-token splitting: either an added token (id >= 0) or text.
struct Segment {
  size_t begin, end;  // byte range in the string that was split
  int32_t id;         // -1: plain text
};

class AddedVocab {
 public:
  // `normalize` (may be empty) is applied to the content of `normalized` tokens: HF matches
  // them in the normalized text by their normalized form.
  void build(std::vector<AddedToken> tokens,
             const std::function<std::string(std::string_view)>& normalize = {});

  // Splits `s` on the added tokens whose `normalized` flag equals `normalized`.
  std::vector<Segment> split(std::string_view s, bool normalized) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  // A byte trie over token contents; matcher 0 holds non-normalized tokens, 1 normalized ones.
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into tokens_
  };
  struct Matcher {
    std::vector<Node> nodes{1};
    bool first_byte[256] = {};
  };
  // Longest token starting at s[pos] (index into tokens_) and its length; -1 if none.
  int32_t longest_at(const Matcher& m, std::string_view s, size_t pos, size_t& len) const;

  std::vector<AddedToken> tokens_;
  Matcher matchers_[2];
};

}  // namespace lightllm::tokenizer
