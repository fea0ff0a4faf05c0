// src/tokenizer/pre_tokenizer.h — tokenizer.json "pre_tokenizer" section: ByteLevel (with and
// without its regex), Split (regex or string, all five behaviours, invert), Digits, Metaspace,
// Punctuation, Whitespace, WhitespaceSplit, CharDelimiterSplit, BertPreTokenizer and Sequence.
// A pre-tokenizer turns each Piece into zero or more Pieces; the model then encodes every piece
// on its own. Invariants: piece texts are valid UTF-8 except after ByteLevel (which maps every
// byte to a printable code point, so its output is valid UTF-8 too); thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer {

struct Piece {
  std::string text;
  // Offset of the piece's first byte in the normalized input (HF offsets_original().0); only
  // compared with 0 (Metaspace prepend_scheme "first").
  size_t offset = 0;
};

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their pre-tokenization (in order).
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

core::Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j);

// GPT-2's byte -> printable code point table: byte_to_unicode()[b] is the UTF-8 of its char.
const std::vector<std::string>& byte_to_unicode();
// Inverse: code point -> byte, -1 when the code point is not in the table.
int unicode_to_byte(uint32_t cp);

}  // namespace lightllm::tokenizer
