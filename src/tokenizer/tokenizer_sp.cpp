// src/tokenizer/tokenizer_sp.cpp — SentencePiece tokenizer.model backend (libsentencepiece),
// used for folders without tokenizer.json (ChatGLM2/3, InternLM, older LLaMA). encode = the text
// split on the special tokens (the model's control and unknown pieces and tokenizer_config's
// added_tokens_decoder, leftmost-longest as HF's added-token matching), the SentencePiece
// encoding of each text piece, plus BOS / EOS when add_special_tokens and tokenizer_config asks
// for them (add_bos_token defaults to true, add_eos_token to false, as LlamaTokenizer does).
// decode: skip_special_tokens drops the special ids first and decodes the rest at once; kept,
// a special token ends a run of pieces, and the run after it keeps the space of its leading
// "▁" (SentencePiece drops that space only at the start of the text), as HF's tokenizers do;
// byte pieces that do not form valid UTF-8 decode as HF's ByteFallback decodes them.
// ChatGLM2 / ChatGLM3 (tokenizer_class ChatGLMTokenizer, whose tokenizer is remote code): 5 / 9
// special tokens follow the pieces ([MASK] [gMASK] [sMASK] sop eop, then <|system|> <|user|>
// <|assistant|> <|observation|>), encode prefixes [gMASK] sop instead of BOS, the
// added_tokens_decoder entries among them (<|user|>, <|observation|>) are matched in text, and
// decode is its SPTokenizer.decode: SentencePiece's decode of each run between specials (no
// space restored after a special, invalid bytes as SentencePiece replaces them). (HF's decode of
// that remote tokenizer would spell special tokens as SentencePiece's unknown piece.)
// SentencePieceProcessor is thread-safe for concurrent const calls.
#include <sentencepiece_processor.h>

#include <algorithm>
#include <iterator>
#include <string>

#include "tokenizer/added_vocab.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";  // U+2581, SentencePiece's space
constexpr std::string_view kChatGlmSpecials[] = {"[MASK]",   "[gMASK]",       "[sMASK]",
                                                 "sop",      "eop",           "<|system|>",
                                                 "<|user|>", "<|assistant|>", "<|observation|>"};
constexpr size_t kChatGlm2Specials = 5;  // ChatGLM2 has the first five

class SpTokenizer final : public Tokenizer {
 public:
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<int32_t> prefix_;  // ids encode(add_special_tokens) starts with (BOS)
  bool add_eos_ = false;
  std::vector<std::string> extra_;   // special tokens after the pieces (ChatGLM), ids n, n + 1, ..
  bool chatglm_ = false;             // ChatGLMTokenizer: extra_, prefix and decode as below
  AddedVocab specials_;              // matched in the text before SentencePiece runs
  std::vector<bool> added_special_;  // ids of added_tokens_decoder marked special

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    const std::string clean = sanitize_utf8(text);
    std::vector<int32_t> out;
    if (add_special_tokens) out = prefix_;
    for (const Segment& seg : specials_.split(clean, /*normalized=*/false)) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
        continue;
      }
      std::vector<int> ids;
      if (!sp_.Encode(std::string_view(clean).substr(seg.begin, seg.end - seg.begin), &ids).ok())
        return {};
      out.insert(out.end(), ids.begin(), ids.end());
    }
    if (add_special_tokens && add_eos_ && sp_.eos_id() >= 0) out.push_back(sp_.eos_id());
    return out;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::string out;
    std::vector<int> run;
    // Pieces [b, e) of run through SentencePiece. After text already decoded, the leading "▁"
    // is a space SentencePiece dropped (it drops one only at the start of the text).
    auto emit = [&](size_t b, size_t e) {
      if (b == e) return;
      std::string s;
      if (!sp_.Decode(std::vector<int>(run.begin() + b, run.begin() + e), &s).ok()) return;
      if (!out.empty() && !chatglm_ && sp_.IdToPiece(run[b]).starts_with(kSpaceMarker)) out += ' ';
      out += s;
    };
    // A run of byte pieces that is not valid UTF-8 becomes one U+FFFD per byte, as HF's
    // ByteFallback decoder makes it (SentencePiece would replace only the invalid bytes).
    // ChatGLM's own decode is SentencePiece's, run by run.
    auto flush = [&] {
      size_t done = 0;
      for (size_t i = 0; i < run.size() && !chatglm_;) {
        if (!sp_.IsByte(run[i])) {
          ++i;
          continue;
        }
        std::string bytes;
        size_t j = i;
        for (; j < run.size() && sp_.IsByte(run[j]); ++j)
          bytes += static_cast<char>(std::stoi(sp_.IdToPiece(run[j]).substr(3, 2), nullptr, 16));
        if (!is_valid_utf8(bytes)) {
          emit(done, i);
          for (size_t k = i; k < j; ++k) out += "\xEF\xBF\xBD";
          done = j;
        }
        i = j;
      }
      emit(done, run.size());
      run.clear();
    };
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= vocab_size()) continue;
      if (is_special(id)) {
        if (skip_special_tokens) continue;
        flush();
        out += *id_to_token(id);
        continue;
      }
      run.push_back(id);
    }
    flush();
    return sanitize_utf8(out);
  }

  size_t vocab_size() const override {
    return static_cast<size_t>(sp_.GetPieceSize()) + extra_.size();
  }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size()) return std::nullopt;
    if (id >= sp_.GetPieceSize()) return extra_[static_cast<size_t>(id - sp_.GetPieceSize())];
    return sp_.IdToPiece(id);
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    for (size_t i = 0; i < extra_.size(); ++i)
      if (extra_[i] == token) return sp_.GetPieceSize() + static_cast<int32_t>(i);
    const int id = sp_.PieceToId(token);
    if (id == sp_.unk_id() && token != sp_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  bool is_special(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size()) return false;
    if (id >= sp_.GetPieceSize()) return true;  // ChatGLM's
    return sp_.IsControl(id) || sp_.IsUnknown(id) ||
           (static_cast<size_t>(id) < added_special_.size() && added_special_[id]);
  }
};

}  // namespace

core::Result<std::unique_ptr<Tokenizer>> load_sentencepiece(const std::string& path,
                                                            const TokenizerConfig& config) {
  auto t = std::make_unique<SpTokenizer>();
  const auto st = t->sp_.Load(path);
  if (!st.ok())
    return core::data_loss("'{}' is not a SentencePiece model: {}", path, st.ToString());
  const int n = t->sp_.GetPieceSize();
  const nlohmann::json* cls = config.raw.is_object() && config.raw.contains("tokenizer_class")
                                  ? &config.raw["tokenizer_class"]
                                  : nullptr;
  const bool chatglm = cls && cls->is_string() && *cls == "ChatGLMTokenizer";
  if (chatglm) {  // ChatGLM3 when its config lists a role token (ids past the first five)
    const bool v3 = std::any_of(config.added_tokens.begin(), config.added_tokens.end(),
                                [&](const AddedToken& a) { return a.id >= n + 5; });
    const size_t count = v3 ? std::size(kChatGlmSpecials) : kChatGlm2Specials;
    for (size_t i = 0; i < count; ++i) t->extra_.emplace_back(kChatGlmSpecials[i]);
    t->prefix_ = {n + 1, n + 3};  // [gMASK] sop
    t->chatglm_ = true;
  } else if (config.add_bos_token.value_or(true) && t->sp_.bos_id() >= 0) {
    t->prefix_ = {t->sp_.bos_id()};
  }
  t->add_eos_ = config.add_eos_token.value_or(false);
  // The special tokens matched in text: added_tokens_decoder's (ids inside the model or among
  // the extra tokens), then the model's control and unknown pieces ("<s>", "</s>", "<unk>").
  std::vector<AddedToken> specials;
  const int total = static_cast<int>(t->vocab_size());
  t->added_special_.assign(static_cast<size_t>(total), false);
  for (AddedToken a : config.added_tokens) {
    if (a.id < 0 || a.id >= total) continue;  // not in this model: nothing to map it to
    t->added_special_[static_cast<size_t>(a.id)] = a.special;
    a.normalized = false;  // no normalizer runs before SentencePiece: matched in the raw text
    specials.push_back(std::move(a));
  }
  for (int id = 0; id < n; ++id) {
    if (!t->sp_.IsControl(id) && !t->sp_.IsUnknown(id)) continue;
    std::string piece = t->sp_.IdToPiece(id);
    const bool listed = std::any_of(specials.begin(), specials.end(),
                                    [&](const AddedToken& a) { return a.content == piece; });
    if (!piece.empty() && !listed)
      specials.push_back({.id = id, .content = std::move(piece), .special = true});
  }
  t->specials_.build(std::move(specials));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace lightllm::tokenizer
