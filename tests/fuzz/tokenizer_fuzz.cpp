// tests/fuzz/tokenizer_fuzz.cpp — libFuzzer target for encode/decode of a byte-level BPE
// tokenizer (the bundled lightllm-tiny-en tokenizer.json, GPT-2 style) and a SentencePiece-style
// BPE (tests/data/tokenizer/models/mistral: Metaspace + byte_fallback), including the
// incremental detokenizer and stop matcher. The input is (a) text to encode and (b) read as
// little-endian u16 ids (some out of range) to decode. Invariants checked (abort on violation):
// every id < vocab_size; decode output is valid UTF-8; the byte-level tokenizer round-trips
// valid UTF-8 input exactly; streaming decode joins to the full decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using lightllm::tokenizer::IncrementalDetokenizer;
using lightllm::tokenizer::Tokenizer;

std::unique_ptr<Tokenizer> load(const std::string& path) {
  auto t = Tokenizer::from_tokenizer_json(path);
  if (!t.ok()) std::abort();
  return std::move(*t);
}

const Tokenizer& byte_level() {
  static const auto t =
      load(std::string(LIGHTLLM_SOURCE_DIR) + "/models/lightllm-tiny-en/tokenizer.json");
  return *t;
}
const Tokenizer& spm_style() {
  static const auto t = load(std::string(LIGHTLLM_SOURCE_DIR) +
                             "/tests/data/tokenizer/models/mistral/tokenizer.json");
  return *t;
}

bool valid_utf8(const std::string& s) {
  return lightllm::tokenizer::sanitize_utf8(s) == s;
}

void exercise(const Tokenizer& tok, const std::string& text, const uint8_t* data, size_t size,
              bool round_trips) {
  for (bool specials : {false, true}) {
    const auto ids = tok.encode(text, specials);
    for (int32_t id : ids)
      if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) std::abort();
    const std::string back = tok.decode(ids, false);
    if (!valid_utf8(back)) std::abort();
    if (round_trips && !specials && valid_utf8(text) && back != text) std::abort();
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < size; i += 2)
    ids.push_back(static_cast<int32_t>(data[i] | (data[i + 1] << 8)) %
                  static_cast<int32_t>(tok.vocab_size() + 16));
  for (bool skip : {false, true}) {
    const std::string full = tok.decode(ids, skip);
    if (!valid_utf8(full)) std::abort();
    std::vector<int32_t> known;
    for (int32_t id : ids)
      if (static_cast<size_t>(id) < tok.vocab_size()) known.push_back(id);
    IncrementalDetokenizer detok(tok, skip, {});
    std::string streamed;
    for (int32_t id : known) streamed += detok.push(id);
    streamed += detok.finish();
    if (streamed != tok.decode(known, skip)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  exercise(byte_level(), text, data, size, /*round_trips=*/true);
  exercise(spm_style(), text, data, size, /*round_trips=*/false);
  return 0;
}
