// src/tokenizer/incremental_detokenizer.h — streaming detokenization for one request.
//
//   IncrementalDetokenizer detok(tokenizer, /*skip_special_tokens=*/true, prompt_ids);
//   for each generated id: out += detok.push(id);
//   out += detok.finish();              // out == tokenizer.decode(generated ids)
//
// Keeps a small window of ids [prefix_offset_, end): every push decodes the window and the part
// of it already emitted, and emits the difference only when the text does not end in U+FFFD (an
// incomplete UTF-8 sequence or byte-fallback run). Decoding a window that starts a few tokens
// back makes decoders that strip a leading space (SentencePiece / Metaspace) behave as in the
// full decode. Invariants: every returned string is valid UTF-8; the concatenation of all
// push() results and finish() equals decode(all ids) for the supported decoders. Not thread-safe
// (one per request); the Tokenizer it points to must outlive it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lightllm::tokenizer {

class IncrementalDetokenizer {
 public:
  // `prompt_ids`: the request's prompt; its last few ids seed the window so that the first
  // generated token gets the same leading space as in a full decode of prompt + output.
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                         std::span<const int32_t> prompt_ids = {});

  // Adds one id; returns the text that became complete (possibly empty).
  std::string push(int32_t id);
  // Returns whatever is still held back (e.g. a trailing incomplete byte sequence as U+FFFD).
  std::string finish();

  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  std::string decode_range(size_t begin, size_t end) const;

  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // seed (prompt tail) + generated ids
  size_t prefix_offset_ = 0;  // window start
  size_t read_offset_ = 0;    // ids before this are emitted
};

}  // namespace lightllm::tokenizer
