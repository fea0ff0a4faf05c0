// src/tokenizer/json_util.cpp — checked JSON accessors (see json_util.h).
#include "tokenizer/json_util.h"

#include <fstream>
#include <sstream>

namespace lightllm::tokenizer {

core::Result<std::string> json_string(const nlohmann::json& j, const char* key, const char* where) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string())
    return core::invalid_argument("{}: field '{}' must be a string", where, key);
  return j[key].get<std::string>();
}

core::Result<Regex> pattern_regex(const nlohmann::json& j, const char* where) {
  if (!j.contains("pattern") || !j["pattern"].is_object())
    return core::invalid_argument("{}: field 'pattern' must be an object", where);
  const auto& p = j["pattern"];
  if (p.contains("String") && p["String"].is_string())
    return Regex::literal(p["String"].get<std::string>());
  if (p.contains("Regex") && p["Regex"].is_string())
    return Regex::compile(p["Regex"].get<std::string>());
  return core::invalid_argument("{}: 'pattern' needs a 'String' or 'Regex' key", where);
}

core::Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return core::not_found("cannot open '{}'", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return core::data_loss("error reading '{}'", path);
  return ss.str();
}

core::Result<nlohmann::json> parse_json(const std::string& text, const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return core::data_loss("'{}' is not valid JSON", path);
  return j;
}

}  // namespace lightllm::tokenizer
