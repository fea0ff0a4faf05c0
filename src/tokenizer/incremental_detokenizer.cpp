// src/tokenizer/incremental_detokenizer.cpp — see incremental_detokenizer.h.
#include "tokenizer/incremental_detokenizer.h"

namespace lightllm::tokenizer {

namespace {
constexpr size_t kPromptSeed = 5;  // prompt ids kept in the first window
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && std::string_view(s).substr(s.size() - 3) == kReplacement;
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
  const std::string prefix_text = decode_range(prefix_offset_, read_offset_);
  const std::string new_text = decode_range(prefix_offset_, ids_.size());
  if (new_text.size() <= prefix_text.size() || ends_with_replacement(new_text)) return {};
  // The window's text only grows at the end, except when a decoder rewrites its start; then
  // fall back to emitting from the first differing byte of the part not yet emitted.
  std::string out = new_text.compare(0, prefix_text.size(), prefix_text) == 0
                        ? new_text.substr(prefix_text.size())
                        : new_text.substr(std::min(prefix_text.size(), new_text.size()));
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
  return new_text.substr(prefix_text.size());
}

}  // namespace lightllm::tokenizer
