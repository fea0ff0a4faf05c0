// src/tokenizer/json_util.h — small checked accessors for tokenizer.json / tokenizer_config.json
// fields: every error names the field and the section it belongs to.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/regex.h"

namespace lightllm::tokenizer {

// j[key] as a string; an error naming `where` and `key` when absent or not a string.
core::Result<std::string> json_string(const nlohmann::json& j, const char* key, const char* where);
// j["pattern"] = {"String": s} | {"Regex": r} as a compiled Regex.
core::Result<Regex> pattern_regex(const nlohmann::json& j, const char* where);
// Reads a whole file; not_found / data_loss naming the path.
core::Result<std::string> read_file(const std::string& path);
// Parses JSON text; data_loss naming `path` with the parser message on failure.
core::Result<nlohmann::json> parse_json(const std::string& text, const std::string& path);

}  // namespace lightllm::tokenizer
