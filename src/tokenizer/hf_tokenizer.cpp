// src/tokenizer/hf_tokenizer.cpp — the HF tokenizer.json pipeline:
//   repair UTF-8 -> split on non-normalized added tokens -> normalizer -> split on normalized
//   added tokens -> pre-tokenizer -> model -> post-processor (when add_special_tokens);
//   decode: ids -> token strings (skipping specials on request) -> decoder chain -> concat.
// Mirrors HF `tokenizers` (Rust) so that ids and text are identical; see the differential
// tests in tests/tokenizer/hf_differential_test.cpp.
#include <unordered_map>

#include "tokenizer/added_vocab.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;

// For a single sequence every supported post-processor is "prefix ids + A + suffix ids".
struct PostProcessor {
  std::vector<int32_t> prefix, suffix;
};

Result<PostProcessor> make_post_processor(const nlohmann::json& j) {
  PostProcessor pp;
  if (j.is_null()) return pp;
  LLM_ASSIGN_OR_RETURN(const std::string type, json_string(j, "type", "post_processor"));
  if (type == "ByteLevel") return pp;
  if (type == "Sequence") {
    if (!j.contains("processors") || !j["processors"].is_array())
      return core::invalid_argument("post_processor Sequence: missing array 'processors'");
    for (const auto& sub : j["processors"]) {
      LLM_ASSIGN_OR_RETURN(PostProcessor p, make_post_processor(sub));
      pp.prefix.insert(pp.prefix.end(), p.prefix.begin(), p.prefix.end());
      pp.suffix.insert(pp.suffix.begin(), p.suffix.begin(), p.suffix.end());
    }
    return pp;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    if (!j.contains("cls") || !j.contains("sep") || !j["cls"].is_array() || !j["sep"].is_array())
      return core::invalid_argument("post_processor {}: 'cls' and 'sep' must be [token, id]", type);
    pp.prefix.push_back(j["cls"][1].get<int32_t>());
    pp.suffix.push_back(j["sep"][1].get<int32_t>());
    return pp;
  }
  if (type == "TemplateProcessing") {
    if (!j.contains("single") || !j["single"].is_array())
      return core::invalid_argument("post_processor TemplateProcessing: 'single' must be an array");
    bool seen_a = false;
    for (const auto& item : j["single"]) {
      if (item.contains("Sequence")) {
        seen_a = true;
        continue;
      }
      if (!item.contains("SpecialToken"))
        return core::invalid_argument("post_processor TemplateProcessing: unknown item {}",
                                      item.dump());
      const std::string name = item["SpecialToken"].value("id", std::string());
      const auto& specials = j.value("special_tokens", nlohmann::json::object());
      if (!specials.contains(name) || !specials[name].contains("ids"))
        return core::invalid_argument(
            "post_processor TemplateProcessing: special token '{}' missing from special_tokens",
            name);
      auto& dst = seen_a ? pp.suffix : pp.prefix;
      for (const auto& id : specials[name]["ids"]) dst.push_back(id.get<int32_t>());
    }
    return pp;
  }
  return core::unimplemented("post_processor type '{}' is not supported", type);
}

class HfTokenizer final : public Tokenizer {
 public:
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Decoder> decoder_;
  PostProcessor post_;
  AddedVocab added_;
  std::unordered_map<int32_t, size_t> added_by_id_;  // id -> index in added_.tokens()
  size_t vocab_size_ = 0;

  std::vector<int32_t> encode(std::string_view input, bool add_special_tokens) const override {
    const std::string text = sanitize_utf8(input);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (add_special_tokens) ids = post_.prefix;
    std::vector<Piece> pieces;
    for (const Segment& seg : added_.split(text, /*normalized=*/false)) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      std::string_view raw(text.data() + seg.begin, seg.end - seg.begin);
      std::string norm = normalizer_ ? normalizer_->normalize(raw) : std::string(raw);
      for (const Segment& sub : added_.split(norm, /*normalized=*/true)) {
        if (sub.id >= 0) {
          ids.push_back(sub.id);
          continue;
        }
        pieces.clear();
        // Offset 0 only for the text at the very start of the input (Metaspace "first").
        const size_t offset = seg.begin == 0 && sub.begin == 0 ? 0 : seg.begin + sub.begin + 1;
        pieces.push_back({norm.substr(sub.begin, sub.end - sub.begin), offset});
        if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
        for (const Piece& p : pieces) model_->tokenize(p.text, ids);
      }
    }
    if (add_special_tokens) ids.insert(ids.end(), post_.suffix.begin(), post_.suffix.end());
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      auto it = added_by_id_.find(id);
      if (it != added_by_id_.end()) {
        const AddedToken& t = added_.tokens()[it->second];
        if (skip_special_tokens && t.special) continue;
        tokens.push_back(t.content);
        continue;
      }
      if (const std::string* s = model_->id_to_token(id)) tokens.push_back(*s);
    }
    if (!decoder_) {
      std::string out;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) out.push_back(' ');
        out += tokens[i];
      }
      return sanitize_utf8(out);
    }
    decoder_->decode_chain(tokens);
    std::string out;
    for (const auto& t : tokens) out += t;
    return sanitize_utf8(out);
  }

  size_t vocab_size() const override { return vocab_size_; }
  std::optional<std::string> id_to_token(int32_t id) const override {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) return added_.tokens()[it->second].content;
    if (const std::string* s = model_->id_to_token(id)) return *s;
    return std::nullopt;
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    for (const auto& t : added_.tokens())
      if (t.content == token) return t.id;
    return model_->token_to_id(token);
  }
  bool is_special(int32_t id) const override {
    auto it = added_by_id_.find(id);
    return it != added_by_id_.end() && added_.tokens()[it->second].special;
  }
};

Result<std::unique_ptr<Tokenizer>> build(const nlohmann::json& j) {
  auto t = std::make_unique<HfTokenizer>();
  if (!j.is_object()) return core::invalid_argument("top level must be an object");
  if (!j.contains("model")) return core::invalid_argument("missing field 'model'");
  LLM_ASSIGN_OR_RETURN(t->model_, make_model(j["model"]));
  LLM_ASSIGN_OR_RETURN(t->normalizer_, make_normalizer(j.value("normalizer", nlohmann::json())));
  LLM_ASSIGN_OR_RETURN(t->pre_tokenizer_,
                       make_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json())));
  LLM_ASSIGN_OR_RETURN(t->decoder_, make_decoder(j.value("decoder", nlohmann::json())));
  LLM_ASSIGN_OR_RETURN(t->post_, make_post_processor(j.value("post_processor", nlohmann::json())));
  std::vector<AddedToken> added;
  size_t max_id = t->model_->vocab_size();
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& a : j["added_tokens"]) {
      AddedToken tok;
      if (!a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        return core::invalid_argument("added_tokens entry needs integer 'id' and string 'content'");
      tok.id = a["id"].get<int32_t>();
      tok.content = a["content"].get<std::string>();
      tok.single_word = a.value("single_word", false);
      tok.lstrip = a.value("lstrip", false);
      tok.rstrip = a.value("rstrip", false);
      tok.special = a.value("special", false);
      tok.normalized = a.value("normalized", !tok.special);
      t->added_by_id_.emplace(tok.id, added.size());
      max_id = std::max(max_id, static_cast<size_t>(tok.id) + 1);
      added.push_back(std::move(tok));
    }
  }
  const Normalizer* norm = t->normalizer_.get();
  std::function<std::string(std::string_view)> normalize;
  if (norm != nullptr) normalize = [norm](std::string_view s) { return norm->normalize(s); };
  t->added_.build(std::move(added), normalize);
  t->vocab_size_ = max_id;
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_tokenizer_json_text(const std::string& text,
                                                                       const std::string& name) {
  LLM_ASSIGN_OR_RETURN(nlohmann::json j, parse_json(text, name));
  return from_tokenizer_json_value(j, name);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_tokenizer_json_value(const nlohmann::json& j,
                                                                        const std::string& name) {
  try {
    auto r = build(j);
    if (!r.ok()) return r.status().with_context(name);
    return r;
  } catch (const nlohmann::json::exception& e) {
    return core::invalid_argument("{}: unexpected field type: {}", name, e.what());
  }
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_tokenizer_json(const std::string& path) {
  LLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return from_tokenizer_json_text(text, path);
}

}  // namespace lightllm::tokenizer
