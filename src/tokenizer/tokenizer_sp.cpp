// src/tokenizer/tokenizer_sp.cpp — SentencePiece tokenizer.model backend (libsentencepiece),
// used for folders without tokenizer.json (ChatGLM2/3, older LLaMA). encode = the SentencePiece
// encoding of the text, plus BOS / EOS when add_special_tokens and tokenizer_config asks for
// them (add_bos_token defaults to true, add_eos_token to false, as LlamaTokenizer does).
// Control / unknown pieces are the special tokens. SentencePieceProcessor is thread-safe for
// concurrent const calls.
#include <sentencepiece_processor.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

class SpTokenizer final : public Tokenizer {
 public:
  sentencepiece::SentencePieceProcessor sp_;
  bool add_bos_ = true, add_eos_ = false;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int> ids;
    const auto st = sp_.Encode(sanitize_utf8(text), &ids);
    std::vector<int32_t> out;
    if (!st.ok()) return out;
    if (add_special_tokens && add_bos_ && sp_.bos_id() >= 0) out.push_back(sp_.bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    if (add_special_tokens && add_eos_ && sp_.eos_id() >= 0) out.push_back(sp_.eos_id());
    return out;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string s;
      if (sp_.Decode(run, &s).ok()) out += s;
      run.clear();
    };
    const int n = sp_.GetPieceSize();
    for (int32_t id : ids) {
      if (id < 0 || id >= n) continue;
      if (sp_.IsControl(id)) {
        flush();
        if (!skip_special_tokens) out += sp_.IdToPiece(id);
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
    return id >= 0 && id < sp_.GetPieceSize() && (sp_.IsControl(id) || sp_.IsUnknown(id));
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
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace lightllm::tokenizer
