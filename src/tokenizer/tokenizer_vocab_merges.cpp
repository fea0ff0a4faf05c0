// src/tokenizer/tokenizer_vocab_merges.cpp — folders that ship only the "slow" byte-level BPE
// files (vocab.json + merges.txt, + tokenizer_config.json), e.g. GPT-2 and Qwen2/Qwen2.5.
//
// transformers loads such a folder by converting the slow tokenizer to a fast one
// (convert_slow_tokenizer.GPT2Converter / Qwen2Converter); we build the same tokenizer.json
// value and hand it to the HF pipeline, so ids and text are those of the converted tokenizer:
//   gpt2:  BPE + ByteLevel pre-tokenizer (GPT-2 regex) + ByteLevel post-processor/decoder;
//   qwen2: BPE + NFC + Split(Qwen2 regex, isolated) + ByteLevel(use_regex=false).
// Added tokens: tokenizer_config "added_tokens_decoder", then the bos/eos/unk/pad strings that
// are vocabulary entries (special). A GPT-2 folder without tokenizer_config gets
// "<|endoftext|>" as GPT2Tokenizer's default special token. Other tokenizer_class values are
// rejected (unimplemented), naming the file and the class.
#include <filesystem>
#include <set>
#include <sstream>

#include "tokenizer/json_util.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::tokenizer {

namespace {

namespace fs = std::filesystem;
using core::Result;

// Qwen2Converter's pre-tokenizer regex (transformers convert_slow_tokenizer.py).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// merges.txt: an optional "#version" first line, then "left right" per line.
Result<nlohmann::json> read_merges(const std::string& path) {
  LLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream in(text);
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (lineno == 1 && line.rfind("#version", 0) == 0) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() ||
        line.find(' ', sp + 1) != std::string::npos)
      return core::invalid_argument("{}: line {}: expected two space-separated symbols", path,
                                    lineno);
    merges.push_back(nlohmann::json::array({line.substr(0, sp), line.substr(sp + 1)}));
  }
  return merges;
}

nlohmann::json byte_level(bool add_prefix_space, bool use_regex, bool trim_offsets) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_vocab_merges(const std::string& dir,
                                                     const TokenizerConfig& config) {
  const std::string vocab_path = (fs::path(dir) / "vocab.json").string();
  const std::string merges_path = (fs::path(dir) / "merges.txt").string();
  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  const nlohmann::json& cfg = config.raw.is_object() ? config.raw : nlohmann::json::object();

  std::string cls = "GPT2Tokenizer";
  if (cfg.contains("tokenizer_class")) {
    if (!cfg["tokenizer_class"].is_string())
      return core::invalid_argument("{}: field 'tokenizer_class' must be a string", cfg_path);
    cls = cfg["tokenizer_class"].get<std::string>();
  }
  bool qwen2 = false;
  if (cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast") {
    qwen2 = true;
  } else if (cls != "GPT2Tokenizer" && cls != "GPT2TokenizerFast") {
    return core::unimplemented(
        "{}: tokenizer_class '{}' with vocab.json + merges.txt is not supported (GPT2Tokenizer, "
        "Qwen2Tokenizer are)",
        cfg_path, cls);
  }
  bool add_prefix_space = false;
  if (cfg.contains("add_prefix_space") && !cfg["add_prefix_space"].is_null()) {
    if (!cfg["add_prefix_space"].is_boolean())
      return core::invalid_argument("{}: field 'add_prefix_space' must be a boolean", cfg_path);
    add_prefix_space = cfg["add_prefix_space"].get<bool>();
  }

  LLM_ASSIGN_OR_RETURN(std::string vocab_text, read_file(vocab_path));
  LLM_ASSIGN_OR_RETURN(nlohmann::json vocab, parse_json(vocab_text, vocab_path));
  if (!vocab.is_object())
    return core::invalid_argument("{}: must be an object of token -> id", vocab_path);
  for (const auto& [tok, id] : vocab.items())
    if (!id.is_number_integer())
      return core::invalid_argument("{}: id of '{}' must be an integer", vocab_path, tok);
  LLM_ASSIGN_OR_RETURN(nlohmann::json merges, read_merges(merges_path));

  nlohmann::json added = nlohmann::json::array();
  std::set<std::string> added_contents;
  for (const AddedToken& t : config.added_tokens) {
    added.push_back({{"id", t.id},
                     {"content", t.content},
                     {"single_word", t.single_word},
                     {"lstrip", t.lstrip},
                     {"rstrip", t.rstrip},
                     {"normalized", t.normalized},
                     {"special", t.special}});
    added_contents.insert(t.content);
  }
  std::vector<std::string> specials;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (!cfg.contains(key) || cfg[key].is_null()) continue;
    const auto& v = cfg[key];
    if (v.is_string())
      specials.push_back(v.get<std::string>());
    else if (v.is_object() && v.contains("content") && v["content"].is_string())
      specials.push_back(v["content"].get<std::string>());
  }
  if (!qwen2 && !cfg.contains("added_tokens_decoder") && specials.empty())
    specials.push_back("<|endoftext|>");  // GPT2Tokenizer's default bos/eos/unk
  for (const std::string& s : specials) {
    if (added_contents.count(s) || !vocab.contains(s)) continue;
    added.push_back({{"id", vocab[s]},
                     {"content", s},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", true},
                     {"special", true}});
    added_contents.insert(s);
  }

  nlohmann::json j;
  j["version"] = "1.0";
  j["added_tokens"] = std::move(added);
  if (qwen2) {
    j["normalizer"] = {{"type", "NFC"}};
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", nlohmann::json::array({{{"type", "Split"},
                                                  {"pattern", {{"Regex", kQwen2Pattern}}},
                                                  {"behavior", "Isolated"},
                                                  {"invert", false}},
                                                 byte_level(add_prefix_space, false, true)})}};
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = byte_level(add_prefix_space, true, true);
  }
  j["post_processor"] = byte_level(true, true, false);
  j["decoder"] = byte_level(true, true, true);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  return Tokenizer::from_tokenizer_json_value(j, vocab_path);
}

}  // namespace lightllm::tokenizer
