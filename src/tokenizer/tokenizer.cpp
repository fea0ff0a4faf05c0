// src/tokenizer/tokenizer.cpp — model-folder loading: picks the backend file and reads
// tokenizer_config.json / generation_config.json (see tokenizer.h).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "tokenizer/json_util.h"

namespace lightllm::tokenizer {

namespace {

namespace fs = std::filesystem;
using core::Result;

// bos_token / eos_token: a string, an AddedToken dict {"content": ...}, or null.
Result<std::optional<std::string>> token_field(const nlohmann::json& cfg, const char* key,
                                               const std::string& file) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::optional<std::string>();
  const auto& v = cfg[key];
  if (v.is_string()) return std::optional<std::string>(v.get<std::string>());
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return std::optional<std::string>(v["content"].get<std::string>());
  return core::invalid_argument("{}: field '{}' must be a string or an AddedToken object", file,
                                key);
}

}  // namespace

Result<TokenizerConfig> load_tokenizer_config(const std::string& dir) {
  TokenizerConfig c;
  const std::string path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(path)) {
    LLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
    LLM_ASSIGN_OR_RETURN(c.raw, parse_json(text, path));
    if (!c.raw.is_object()) return core::invalid_argument("{}: top level must be an object", path);
    LLM_ASSIGN_OR_RETURN(c.bos_token, token_field(c.raw, "bos_token", path));
    LLM_ASSIGN_OR_RETURN(c.eos_token, token_field(c.raw, "eos_token", path));
    if (c.raw.contains("chat_template") && !c.raw["chat_template"].is_null()) {
      const auto& ct = c.raw["chat_template"];
      if (ct.is_string()) {
        c.chat_template = ct.get<std::string>();
      } else if (ct.is_array()) {
        for (const auto& e : ct) {
          if (e.is_object() && e.value("name", std::string()) == "default" &&
              e.contains("template") && e["template"].is_string())
            c.chat_template = e["template"].get<std::string>();
        }
        if (!c.chat_template)
          return core::invalid_argument("{}: 'chat_template' list has no entry named 'default'",
                                        path);
      } else {
        return core::invalid_argument("{}: 'chat_template' must be a string or a list", path);
      }
    }
    if (c.raw.contains("added_tokens_decoder")) {
      const auto& atd = c.raw["added_tokens_decoder"];
      if (!atd.is_object())
        return core::invalid_argument("{}: field 'added_tokens_decoder' must be an object", path);
      for (const auto& [key, a] : atd.items()) {
        int32_t id = 0;
        try {
          id = std::stoi(key);
        } catch (...) {
          return core::invalid_argument("{}: added_tokens_decoder key '{}' is not an id", path,
                                        key);
        }
        if (!a.is_object() || !a.contains("content") || !a["content"].is_string())
          return core::invalid_argument("{}: added_tokens_decoder['{}'] needs string 'content'",
                                        path, key);
        const bool special = a.value("special", false);
        c.added_tokens.push_back({.id = id,
                                  .content = a["content"].get<std::string>(),
                                  .single_word = a.value("single_word", false),
                                  .lstrip = a.value("lstrip", false),
                                  .rstrip = a.value("rstrip", false),
                                  .normalized = a.value("normalized", !special),
                                  .special = special});
      }
    }
    for (const char* key : {"add_bos_token", "add_eos_token"}) {
      if (!c.raw.contains(key) || c.raw[key].is_null()) continue;
      if (!c.raw[key].is_boolean())
        return core::invalid_argument("{}: field '{}' must be a boolean", path, key);
      (std::string(key) == "add_bos_token" ? c.add_bos_token : c.add_eos_token) =
          c.raw[key].get<bool>();
    }
  }
  const std::string gen = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(gen)) {
    LLM_ASSIGN_OR_RETURN(std::string text, read_file(gen));
    LLM_ASSIGN_OR_RETURN(nlohmann::json g, parse_json(text, gen));
    if (g.is_object() && g.contains("eos_token_id")) {
      const auto& e = g["eos_token_id"];
      if (e.is_number_integer()) {
        c.generation_eos_ids.push_back(e.get<int32_t>());
      } else if (e.is_array()) {
        for (const auto& x : e) {
          if (!x.is_number_integer())
            return core::invalid_argument("{}: 'eos_token_id' list must hold integers", gen);
          c.generation_eos_ids.push_back(x.get<int32_t>());
        }
      } else if (!e.is_null()) {
        return core::invalid_argument("{}: 'eos_token_id' must be an integer or a list", gen);
      }
    }
  }
  return c;
}

void Tokenizer::set_config(TokenizerConfig config) {
  config_ = std::move(config);
  bos_id_.reset();
  eos_ids_.clear();
  if (config_.bos_token) bos_id_ = token_to_id(*config_.bos_token);
  if (config_.eos_token) {
    if (auto id = token_to_id(*config_.eos_token)) eos_ids_.push_back(*id);
  }
  for (int32_t id : config_.generation_eos_ids)
    if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_dir(const std::string& model_dir) {
  if (!fs::is_directory(model_dir))
    return core::not_found("tokenizer folder '{}' does not exist", model_dir);
  LLM_ASSIGN_OR_RETURN(TokenizerConfig config, load_tokenizer_config(model_dir));
  const fs::path dir(model_dir);
  std::unique_ptr<Tokenizer> tok;
  if (fs::exists(dir / "tokenizer.json")) {
    LLM_ASSIGN_OR_RETURN(tok, from_tokenizer_json((dir / "tokenizer.json").string()));
  } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    LLM_ASSIGN_OR_RETURN(tok, load_vocab_merges(model_dir, config));
  } else if (fs::exists(dir / "tokenizer.model")) {
    const std::string path = (dir / "tokenizer.model").string();
    // Llama-3 ships a tiktoken rank file under this name: text lines "<base64> <rank>".
    LLM_ASSIGN_OR_RETURN(std::string head, read_file(path));
    const bool tiktoken = head.size() > 4 && head.find('\n') != std::string::npos &&
                          head.substr(0, head.find('\n')).find(' ') != std::string::npos &&
                          head[0] != '\n' && static_cast<unsigned char>(head[0]) >= 0x20;
    if (tiktoken) {
      LLM_ASSIGN_OR_RETURN(tok, load_tiktoken(path, "llama3"));
    } else {
      LLM_ASSIGN_OR_RETURN(tok, load_sentencepiece(path, config));
    }
  } else if (fs::exists(dir / "qwen.tiktoken")) {
    LLM_ASSIGN_OR_RETURN(tok, load_tiktoken((dir / "qwen.tiktoken").string(), "qwen"));
  } else {
    return core::not_found(
        "'{}' has no tokenizer.json, vocab.json+merges.txt, tokenizer.model or qwen.tiktoken",
        model_dir);
  }
  tok->set_config(std::move(config));
  return tok;
}

}  // namespace lightllm::tokenizer
