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
// SentencePieceProcessor is thread-safe for concurrent const calls.
#include <sentencepiece_processor.h>

#include <algorithm>

#include "tokenizer/added_vocab.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";  // U+2581, SentencePiece's space

class SpTokenizer final : public Tokenizer {
 public:
  sentencepiece::SentencePieceProcessor sp_;
  bool add_bos_ = true, add_eos_ = false;
  AddedVocab specials_;              // matched in the text before SentencePiece runs
  std::vector<bool> added_special_;  // ids of added_tokens_decoder marked special

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    const std::string clean = sanitize_utf8(text);
    std::vector<int32_t> out;
    if (add_special_tokens && add_bos_ && sp_.bos_id() >= 0) out.push_back(sp_.bos_id());
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
      if (!out.empty() && sp_.IdToPiece(run[b]).starts_with(kSpaceMarker)) out += ' ';
      out += s;
    };
    // A run of byte pieces that is not valid UTF-8 becomes one U+FFFD per byte, as HF's
    // ByteFallback decoder makes it (SentencePiece would replace only the invalid bytes).
    auto flush = [&] {
      size_t done = 0;
      for (size_t i = 0; i < run.size();) {
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
    const int n = sp_.GetPieceSize();
    for (int32_t id : ids) {
      if (id < 0 || id >= n) continue;
      if (is_special(id)) {
        if (skip_special_tokens) continue;
        flush();
        out += sp_.IdToPiece(id);
        continue;
      }
      run.push_back(id);
    }
    flush();
    return sanitize_utf8(out);
  }

  size_t vocab_size() const override { return static_cast<size_t>(sp_.GetPieceSize()); }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) return std::nullopt;
    return sp_.IdToPiece(id);
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    const int id = sp_.PieceToId(token);
    if (id == sp_.unk_id() && token != sp_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  bool is_special(int32_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) return false;
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
  t->add_bos_ = config.add_bos_token.value_or(true);
  t->add_eos_ = config.add_eos_token.value_or(false);
  // The special tokens matched in text: added_tokens_decoder's (ids inside the model), then the
  // model's control and unknown pieces ("<s>", "</s>", "<unk>").
  std::vector<AddedToken> specials;
  const int n = t->sp_.GetPieceSize();
  t->added_special_.assign(static_cast<size_t>(n), false);
  for (AddedToken a : config.added_tokens) {
    if (a.id < 0 || a.id >= n) continue;  // not in this model: nothing to map it to
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
