// tests/tokenizer/test_util.h — helpers shared by the tokenizer tests (data paths, JSON files).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace lightllm::tokenizer::testing {

inline std::string data_dir() {
  return std::string(LIGHTLLM_TEST_DATA_DIR) + "/tokenizer";
}
inline std::string shared_dir() {
  return std::string(LIGHTLLM_SHARED_TESTDATA);
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::json load_json(const std::string& path) {
  return nlohmann::json::parse(slurp(path));
}

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace lightllm::tokenizer::testing
