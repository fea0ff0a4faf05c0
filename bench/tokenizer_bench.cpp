// bench/tokenizer_bench.cpp — encode throughput of one tokenizer on one thread.
//
//   tokenizer_bench TOKENIZER CORPUS [MIN_SECONDS]
// TOKENIZER: a tokenizer.json file or a model folder (Tokenizer::from_dir). CORPUS: a file of
// chunks separated by a line "\x1e" (record separator; bench/tokenizer_bench.py writes it).
// Encodes every chunk (add_special_tokens=false) repeatedly for at least MIN_SECONDS (default 3)
// and prints one JSON line: {"mb_per_s", "bytes", "tokens", "fnv1a"} where tokens / fnv1a are of
// one pass (the Python driver checks them against HF tokenizers' ids).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  using lightllm::tokenizer::Tokenizer;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER CORPUS [MIN_SECONDS]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  auto tok = std::filesystem::is_directory(path) ? Tokenizer::from_dir(path)
                                                 : Tokenizer::from_tokenizer_json(path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().to_string().c_str());
    return 2;
  }
  std::ifstream f(argv[2], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot open corpus '%s'\n", argv[2]);
    return 2;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string all = ss.str();
  std::vector<std::string> chunks;
  const std::string sep = "\n\x1e\n";
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find(sep, pos);
    if (end == std::string::npos) end = all.size();
    chunks.push_back(all.substr(pos, end - pos));
    pos = end + sep.size();
  }
  const double min_seconds = argc > 3 ? std::stod(argv[3]) : 3.0;
  size_t bytes = 0, tokens = 0;
  uint64_t fnv = 1469598103934665603ull;
  for (const auto& c : chunks) {
    bytes += c.size();
    for (int32_t id : (*tok)->encode(c, false)) {
      fnv = (fnv ^ static_cast<uint32_t>(id)) * 1099511628211ull;
      ++tokens;
    }
  }
  size_t passes = 0, sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < min_seconds || passes < 2) {
    for (const auto& c : chunks) sink += (*tok)->encode(c, false).size();
    ++passes;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (sink != tokens * passes) return 3;
  std::printf("{\"mb_per_s\": %.3f, \"bytes\": %zu, \"tokens\": %zu, \"fnv1a\": \"%016llx\"}\n",
              bytes * passes / elapsed / 1e6, bytes, tokens, static_cast<unsigned long long>(fnv));
  return 0;
}
