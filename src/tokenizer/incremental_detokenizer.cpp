// src/tokenizer/incremental_detokenizer.cpp — see incremental_detokenizer.h.
#include "tokenizer/incremental_detokenizer.h"

namespace lightllm::tokenizer {

namespace {
constexpr size_t kPromptSeed = 5;  // prompt ids kept in the first window
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && std::string_view(s).substr(s.size() - 3) == kReplacement;
}

// "<0xAB>": a byte-fallback piece. HF's ByteFallback decoder decodes a whole run of them at
// once (an invalid run becomes one U+FFFD per byte), so a later byte can change how earlier
// ones read: their text is only final once the run has ended.
bool is_byte_piece(const Tokenizer& tok, int32_t id) {
  const auto piece = tok.id_to_token(id);
  return piece && piece->size() == 6 && piece->compare(0, 3, "<0x") == 0 && (*piece)[5] == '>';
}

// The longest prefix of `s` that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s) {
  size_t end = s.size();
  size_t back = 0;
  while (end > 0 && back < 4 && (static_cast<unsigned char>(s[end - 1]) & 0xC0) == 0x80) {
    --end;
    ++back;
  }
  if (end > 0) {
    const auto lead = static_cast<unsigned char>(s[end - 1]);
    const size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len != back + 1 && lead >= 0xC0) return s.substr(0, end - 1);
  }
  return s;
}

// new_text minus what was already emitted (prefix_text). Normally the window's text only grows
// at its end; if a decoder rewrote its start, emit from the first byte not yet emitted, cut to
// whole UTF-8 characters on both sides so the output stays valid.
std::string tail_after(const std::string& new_text, const std::string& prefix_text) {
  size_t from = std::min(prefix_text.size(), new_text.size());
  while (from < new_text.size() && (static_cast<unsigned char>(new_text[from]) & 0xC0) == 0x80)
    ++from;
  return std::string(utf8_prefix(std::string_view(new_text).substr(from)));
}
}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                               std::span<const int32_t> prompt_ids)
    : tok_(tokenizer), skip_special_(skip_special_tokens) {
  const size_t seed = std::min(prompt_ids.size(), kPromptSeed);
  ids_.assign(prompt_ids.end() - static_cast<std::ptrdiff_t>(seed), prompt_ids.end());
  prefix_offset_ = 0;
  read_offset_ = ids_.size();
}

std::string IncrementalDetokenizer::decode_range(size_t begin, size_t end) const {
  return tok_.decode(std::span<const int32_t>(ids_.data() + begin, end - begin), skip_special_);
}

std::string IncrementalDetokenizer::push(int32_t id) {
  ids_.push_back(id);
  // Wait for the end of a byte run; a skipped special token leaves the run open (its
  // neighbours become adjacent in the decode).
  if (is_byte_piece(tok_, id) || (skip_special_ && tok_.is_special(id))) return {};
  const std::string prefix_text = decode_range(prefix_offset_, read_offset_);
  const std::string new_text = decode_range(prefix_offset_, ids_.size());
  if (new_text.size() <= prefix_text.size() || ends_with_replacement(new_text)) return {};
  std::string out = tail_after(new_text, prefix_text);
  prefix_offset_ = read_offset_;
  read_offset_ = ids_.size();
  return out;
}

std::string IncrementalDetokenizer::finish() {
  if (read_offset_ >= ids_.size()) return {};
  const std::string prefix_text = decode_range(prefix_offset_, read_offset_);
  const std::string new_text = decode_range(prefix_offset_, ids_.size());
  prefix_offset_ = read_offset_ = ids_.size();
  if (new_text.size() <= prefix_text.size()) return {};
  return tail_after(new_text, prefix_text);
}

}  // namespace lightllm::tokenizer
