// src/tokenizer/tokenizer_tiktoken.cpp — tiktoken rank files: Qwen (v1 / Qwen-VL) qwen.tiktoken
// and the Llama-3 tokenizer.model. Each line is "<base64 bytes> <rank>"; the rank is the id.
// Encoding: special tokens are matched first, then the text is split by the model's regex and
// each piece is byte-pair merged, always merging the adjacent pair whose concatenation has the
// lowest rank (tiktoken's algorithm). Decoding joins the bytes and repairs invalid UTF-8.
#include <unordered_map>

#include "tokenizer/added_vocab.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;

const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool b64_decode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = b64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

class TiktokenTokenizer final : public Tokenizer {
 public:
  Vocab ranks_;  // token bytes <-> rank (= id)
  AddedVocab specials_;
  std::optional<Regex> re_;
  bool nfc_ = false;
  std::vector<int32_t> bos_prefix_;
  size_t n_ranks_ = 0;

  void bpe(std::string_view piece, std::vector<int32_t>& out) const {
    if (auto id = ranks_.find(piece)) {
      out.push_back(*id);
      return;
    }
    // parts[i] = start offset of symbol i; merge the lowest-ranked adjacent pair each round.
    std::vector<size_t> parts(piece.size() + 1);
    for (size_t i = 0; i <= piece.size(); ++i) parts[i] = i;
    auto rank_of = [&](size_t i) -> int64_t {  // rank of symbols i and i+1 merged
      if (i + 2 >= parts.size()) return INT64_MAX;
      auto id = ranks_.find(piece.substr(parts[i], parts[i + 2] - parts[i]));
      return id ? *id : INT64_MAX;
    };
    while (parts.size() > 2) {
      int64_t best = INT64_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 2 < parts.size(); ++i) {
        const int64_t r = rank_of(i);
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (best == INT64_MAX) break;
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto id = ranks_.find(piece.substr(parts[i], parts[i + 1] - parts[i]));
      if (id) out.push_back(*id);
    }
  }

  std::vector<int32_t> encode(std::string_view input, bool add_special_tokens) const override {
    std::string text = sanitize_utf8(input);
    if (nfc_) text = normalize(text, NormalForm::nfc);  // Python's unicodedata, not HF's tables
    std::vector<int32_t> ids;
    if (add_special_tokens) ids = bos_prefix_;
    for (const Segment& seg : specials_.split(text, false)) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      std::string_view s(text.data() + seg.begin, seg.end - seg.begin);
      for (auto [b, e] : re_->find_all(s)) bpe(s.substr(b, e - b), ids);
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::string bytes;
    for (int32_t id : ids) {
      if (const std::string* t = ranks_.token(id)) {
        if (skip_special_tokens && static_cast<size_t>(id) >= n_ranks_) continue;
        bytes += *t;
      }
    }
    return sanitize_utf8(bytes);
  }

  size_t vocab_size() const override { return ranks_.id_bound(); }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (const std::string* t = ranks_.token(id)) return *t;
    return std::nullopt;
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return ranks_.find(token);
  }
  bool is_special(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) >= n_ranks_ && ranks_.token(id) != nullptr;
  }
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_tiktoken(const std::string& path, const std::string& kind) {
  LLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto t = std::make_unique<TiktokenTokenizer>();
  size_t line_no = 0;
  std::string bytes;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || !b64_decode(line.substr(0, sp), bytes))
      return core::data_loss("{}:{}: expected '<base64> <rank>'", path, line_no);
    int32_t rank = 0;
    for (char c : line.substr(sp + 1)) {
      if (c < '0' || c > '9') return core::data_loss("{}:{}: bad rank", path, line_no);
      rank = rank * 10 + (c - '0');
    }
    t->ranks_.add(bytes, rank);
  }
  t->n_ranks_ = t->ranks_.id_bound();
  std::vector<std::string> specials;
  if (kind == "qwen") {
    specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 205; ++i) specials.push_back("<|extra_" + std::to_string(i) + "|>");
    t->nfc_ = true;
    LLM_ASSIGN_OR_RETURN(Regex re, Regex::compile(kQwenPattern));
    t->re_ = std::move(re);
  } else if (kind == "llama3") {
    specials = {"<|begin_of_text|>",
                "<|end_of_text|>",
                "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>",
                "<|reserved_special_token_2|>",
                "<|reserved_special_token_3|>",
                "<|start_header_id|>",
                "<|end_header_id|>",
                "<|reserved_special_token_4|>",
                "<|eot_id|>"};
    for (int i = 5; i < 251; ++i)
      specials.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
    LLM_ASSIGN_OR_RETURN(Regex re, Regex::compile(kLlama3Pattern));
    t->re_ = std::move(re);
    t->bos_prefix_ = {static_cast<int32_t>(t->n_ranks_)};
  } else {
    return core::invalid_argument("unknown tiktoken kind '{}'", kind);
  }
  std::vector<AddedToken> added;
  for (size_t i = 0; i < specials.size(); ++i) {
    const auto id = static_cast<int32_t>(t->n_ranks_ + i);
    t->ranks_.add(specials[i], id);
    added.push_back({id, specials[i], false, false, false, false, true});
  }
  t->specials_.build(std::move(added));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace lightllm::tokenizer
