// tests/tokenizer/real_vectors_test.cpp — real tokenizer files from ../shared/testdata against
// the llama.cpp vocab vectors (ids = AutoTokenizer(repo).encode(text, add_special_tokens=False)):
// Llama-2 through tokenizer.json (HF pipeline) and tokenizer.model (libsentencepiece), Llama-3
// through its tiktoken tokenizer.model.
#include <gtest/gtest.h>

#include <sstream>

#include "tokenizer/test_util.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::tokenizer {
namespace {

using testing::shared_dir;
using testing::slurp;

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> load_llamacpp(const std::string& name) {
  const std::string base = shared_dir() + "/llamacpp-vocab/ggml-vocab-" + name + ".gguf";
  const std::string inp = slurp(base + ".inp"), out = slurp(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
  }
  return cases;
}

void check(const Tokenizer& tok, const std::string& vectors, size_t& n) {
  for (const auto& c : load_llamacpp(vectors)) {
    EXPECT_EQ(tok.encode(c.text, false), c.ids) << vectors << ": '" << c.text << "'";
    ++n;
  }
}

TEST(RealVectors, Llama2TokenizerJson) {
  auto tok = Tokenizer::from_tokenizer_json(shared_dir() + "/tokenizers/llama2/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "llama-spm", n);
  EXPECT_GT(n, 30u);
}

TEST(RealVectors, Llama2SentencePieceModel) {
  auto tok = load_sentencepiece(shared_dir() + "/tokenizers/llama2/tokenizer.model", {});
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "llama-spm", n);
  EXPECT_GT(n, 30u);
}

TEST(RealVectors, Llama3Tiktoken) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/llama3");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "llama-bpe", n);
  EXPECT_GT(n, 30u);
  EXPECT_EQ((*tok)->encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
}

TEST(RealVectors, FromDirErrorsNameTheFolder) {
  auto tok = Tokenizer::from_dir("/nonexistent-model-dir");
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("/nonexistent-model-dir"), std::string::npos);
  auto bad = Tokenizer::from_tokenizer_json_text("{\"model\": {\"type\": \"BPE\"}}", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.json"), std::string::npos);
  EXPECT_NE(bad.status().message().find("vocab"), std::string::npos);
}

}  // namespace
}  // namespace lightllm::tokenizer
