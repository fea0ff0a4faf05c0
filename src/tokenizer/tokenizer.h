// src/tokenizer/tokenizer.h — the tokenizer interface the engine uses.
//
//   auto tok = Tokenizer::from_dir("/models/Qwen2-7B");   // Result<unique_ptr<Tokenizer>>
//   std::vector<int32_t> ids = (*tok)->encode(text, /*add_special_tokens=*/true);
//   std::string text = (*tok)->decode(ids, /*skip_special_tokens=*/true);
//
// Backends: HF tokenizer.json (identical ids / text to HF `tokenizers`), SentencePiece
// tokenizer.model (libsentencepiece), tiktoken rank files (qwen.tiktoken, Llama-3
// tokenizer.model). Invariants: a loaded Tokenizer is immutable; encode/decode and every const
// method are thread-safe (the engine calls them from a pool). Input text that is not valid UTF-8
// is repaired (each invalid sequence -> U+FFFD) before encoding, as Python's
// bytes.decode("utf-8", "replace") does. decode() always returns valid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/added_vocab.h"

namespace lightllm::tokenizer {

// What tokenizer_config.json / generation_config.json say about a model folder.
struct TokenizerConfig {
  std::optional<std::string> bos_token;      // "bos_token" (string or AddedToken dict)
  std::optional<std::string> eos_token;      // "eos_token"
  std::optional<std::string> chat_template;  // "chat_template" (the "default" one of a list)
  std::optional<bool> add_bos_token;         // only used by the SentencePiece backend
  std::optional<bool> add_eos_token;
  std::vector<int32_t> generation_eos_ids;  // generation_config.json "eos_token_id"
  // "added_tokens_decoder" (tokenizer.json-less folders), in file order; `normalized` defaults
  // to !special as in HF.
  std::vector<AddedToken> added_tokens;
  nlohmann::json raw;  // the whole tokenizer_config.json (or null)
};

// Reads tokenizer_config.json and generation_config.json from `dir` (both optional). Malformed
// JSON or fields of the wrong type are an error naming the file and field.
core::Result<TokenizerConfig> load_tokenizer_config(const std::string& dir);

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Picks tokenizer.json, else vocab.json+merges.txt (byte-level BPE), else tokenizer.model
  // (SentencePiece, or tiktoken text format), else
  // qwen.tiktoken, and reads tokenizer_config.json for specials / chat template / add_bos.
  static core::Result<std::unique_ptr<Tokenizer>> from_dir(const std::string& model_dir);
  static core::Result<std::unique_ptr<Tokenizer>> from_tokenizer_json(const std::string& path);
  static core::Result<std::unique_ptr<Tokenizer>> from_tokenizer_json_text(const std::string& text,
                                                                           const std::string& name);
  static core::Result<std::unique_ptr<Tokenizer>> from_tokenizer_json_value(
      const nlohmann::json& j, const std::string& name);

  // Token ids of `text`. add_special_tokens applies the post-processor (e.g. BOS).
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const = 0;
  // Text of `ids`; unknown ids are skipped. skip_special_tokens drops special tokens.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;

  // Number of ids (model vocabulary plus added tokens); ids are < vocab_size().
  virtual size_t vocab_size() const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual bool is_special(int32_t id) const = 0;

  // Applies the model folder's configuration (bos/eos, chat template). from_dir calls it.
  void set_config(TokenizerConfig config);
  const TokenizerConfig& config() const { return config_; }
  std::optional<int32_t> bos_id() const { return bos_id_; }
  // EOS ids: tokenizer_config eos_token plus generation_config eos_token_id (deduplicated).
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  // The tokenizer_config bos_token / eos_token strings ("" when absent), for chat templates.
  std::string bos_token() const { return config_.bos_token.value_or(""); }
  std::string eos_token() const { return config_.eos_token.value_or(""); }

 protected:
  TokenizerConfig config_;
  std::optional<int32_t> bos_id_;
  std::vector<int32_t> eos_ids_;
};

// Backends (tokenizer_sp.cpp, tokenizer_tiktoken.cpp).
core::Result<std::unique_ptr<Tokenizer>> load_sentencepiece(const std::string& path,
                                                            const TokenizerConfig& config);
// A slow-tokenizer folder with vocab.json + merges.txt (no tokenizer.json): builds the
// tokenizer.json that transformers' slow->fast converter would (GPT2Converter or Qwen2Converter,
// chosen by tokenizer_config "tokenizer_class") and loads it (tokenizer_vocab_merges.cpp).
core::Result<std::unique_ptr<Tokenizer>> load_vocab_merges(const std::string& dir,
                                                           const TokenizerConfig& config);
// A tiktoken rank file ("<base64 token> <rank>" per line). `kind` selects the pre-tokenizer
// regex and special tokens: "qwen" (qwen.tiktoken) or "llama3" (Llama-3 tokenizer.model).
core::Result<std::unique_ptr<Tokenizer>> load_tiktoken(const std::string& path,
                                                       const std::string& kind);

}  // namespace lightllm::tokenizer
