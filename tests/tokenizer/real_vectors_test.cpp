// tests/tokenizer/real_vectors_test.cpp — real tokenizer files from ../shared/testdata against
// the llama.cpp vocab vectors (ids = AutoTokenizer(repo).encode(text, add_special_tokens=False)):
// Llama-2 through tokenizer.json (HF pipeline) and tokenizer.model (libsentencepiece), Llama-3
// through its tiktoken tokenizer.model, GPT-2 and Qwen2 through their vocab.json + merges.txt
// folders (slow->fast conversion), also against swift-transformers' transformers-4.57.1 baselines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
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

// Special tokens in the text and in the ids of a tokenizer.model folder, against HF tokenizers on
// the same vocabulary's tokenizer.json (what AutoTokenizer converts the folder to):
//   t = Tokenizer.from_file("llama2/tokenizer.json")
//   t.encode(text, add_special_tokens=False).ids; t.decode(ids, skip_special_tokens=...)
TEST(RealVectors, Llama2SentencePieceSpecialTokensMatchHf) {
  auto tok = load_sentencepiece(shared_dir() + "/tokenizers/llama2/tokenizer.model", {});
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const std::vector<Case> encoded = {
      {"<s>", {1}},
      {"a</s>b", {263, 2, 289}},
      {"Hello <unk> world</s>", {15043, 29871, 0, 29871, 3186, 2}},
      {"x<s>y", {921, 1, 343}},
      {"<s>[INST] hi [/INST]", {1, 518, 25580, 29962, 7251, 518, 29914, 25580, 29962}},
  };
  for (const auto& c : encoded) EXPECT_EQ((*tok)->encode(c.text, false), c.ids) << c.text;
  struct Decoded {
    std::vector<int32_t> ids;
    std::string kept, skipped;
  };
  const std::vector<Decoded> decoded = {
      {{4572, 2, 13253}, "filter</s> Website", "filter Website"},
      {{1, 15043, 2}, "<s> Hello</s>", "Hello"},
      {{0, 29871, 921}, "<unk>  x", " x"},
      {{1, 22172, 2, 3186}, "<s> hello</s> world", "hello world"},
  };
  for (const auto& d : decoded) {
    EXPECT_EQ((*tok)->decode(d.ids, false), d.kept) << d.kept;
    EXPECT_EQ((*tok)->decode(d.ids, true), d.skipped) << d.kept;
  }
}

// Byte pieces that do not form valid UTF-8: one U+FFFD per byte of the run, as HF's
// ByteFallback decoder (tokenizers 0.23.3 on the same vocabulary's tokenizer.json).
TEST(RealVectors, Llama2SentencePieceByteFallbackMatchesHf) {
  auto tok = load_sentencepiece(shared_dir() + "/tokenizers/llama2/tokenizer.model", {});
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  struct Decoded {
    std::vector<int32_t> ids;
    std::string kept, skipped;
  };
  const std::vector<Decoded> decoded = {
      {{172, 229, 160, 167}, r + r + r + r, r + r + r + r},  // <0xA9> then a valid ❤
      {{229, 160, 167}, "\xE2\x9D\xA4", "\xE2\x9D\xA4"},
      {{15043, 172, 229, 160, 167, 3186},
       "Hello" + r + r + r + r + " world",
       "Hello" + r + r + r + r + " world"},
      {{172, 29871, 921}, r + "  x", r + "  x"},
      {{232, 161, 3186}, r + r + " world", r + r + " world"},
      {{1, 172, 2, 15043}, "<s>" + r + "</s> Hello", r + " Hello"},
      {{15043, 232, 161, 166, 1, 3186}, "Hello\xE5\x9E\xA3<s> world", "Hello\xE5\x9E\xA3 world"},
      {{29871, 172}, r, r},
  };
  for (const auto& d : decoded) {
    EXPECT_EQ((*tok)->decode(d.ids, false), d.kept) << d.kept;
    EXPECT_EQ((*tok)->decode(d.ids, true), d.skipped) << d.kept;
  }
}

// ChatGLM3 (tokenizer_class ChatGLMTokenizer, remote code): its 9 special tokens follow the
// 64789 pieces, encode prefixes [gMASK] sop, and of them only tokenizer_config's added tokens
// (<|user|>, <|observation|>) are matched in text, as the remote tokenizer does through
// transformers' added-token split; the rest is the SentencePiece encoding (ids from the
// sentencepiece package on the same file).
TEST(RealVectors, ChatGlm3SpecialTokens) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/chatglm3");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.vocab_size(), 64798u);
  EXPECT_EQ(t.token_to_id("[gMASK]"), 64790);
  EXPECT_EQ(t.token_to_id("<|assistant|>"), 64796);
  EXPECT_EQ(t.id_to_token(64797), "<|observation|>");
  EXPECT_TRUE(t.is_special(64792));
  EXPECT_EQ(t.encode("Hello world", true), (std::vector<int32_t>{64790, 64792, 13755, 993}));
  EXPECT_EQ(t.encode("<|user|>\nHello world", false),
            (std::vector<int32_t>{64795, 30910, 13, 24218, 993}));
  EXPECT_EQ(t.encode("<|assistant|>", false),
            (std::vector<int32_t>{906, 31007, 530, 18971, 31007, 30994}));
  const std::vector<int32_t> ids = {64790, 64792, 64795, 30910, 13, 24218, 993, 64796};
  EXPECT_EQ(t.decode(ids, true), "\nHello world");
  EXPECT_EQ(t.decode(ids, false), "[gMASK]sop<|user|>\nHello world<|assistant|>");
  // ChatGLM2: the first five only.
  auto v2 = load_sentencepiece(shared_dir() + "/tokenizers/chatglm3/tokenizer.model",
                               {.raw = {{"tokenizer_class", "ChatGLMTokenizer"}}});
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ((*v2)->vocab_size(), 64794u);
  EXPECT_EQ((*v2)->encode("hi", true), (std::vector<int32_t>{64790, 64792, 14980}));
}

TEST(RealVectors, Llama3Tiktoken) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/llama3");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "llama-bpe", n);
  EXPECT_GT(n, 30u);
  EXPECT_EQ((*tok)->encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
}

// swift-transformers multilingual baselines: {"entries": [{"id", "input_ids",
// "decoded_skip_special"}]} over inputs.json {"id", "text"}.
void check_multilingual(const Tokenizer& tok, const std::string& baseline, size_t& n) {
  const std::string dir = shared_dir() + "/vectors/swift-transformers/multilingual/";
  const auto inputs = nlohmann::json::parse(slurp(dir + "inputs.json"));
  const auto base = nlohmann::json::parse(slurp(dir + baseline));
  std::map<std::string, std::string> text;
  for (const auto& in : inputs) text[in["id"]] = in["text"];
  for (const auto& e : base["entries"]) {
    const std::string id = e["id"];
    ASSERT_TRUE(text.count(id)) << id;
    const auto ids = tok.encode(text[id], true);
    EXPECT_EQ(ids, e["input_ids"].get<std::vector<int32_t>>()) << baseline << ": " << id;
    EXPECT_EQ(tok.decode(ids, true), e["decoded_skip_special"].get<std::string>())
        << baseline << ": " << id;
    ++n;
  }
}

TEST(RealVectors, Gpt2VocabMerges) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/gpt2");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "gpt-2", n);
  check_multilingual(**tok, "gpt2_multilingual.json", n);
  EXPECT_GT(n, 100u);
  const auto v = nlohmann::json::parse(slurp(shared_dir() + "/vectors/gpt2/encoded_tokens.json"));
  EXPECT_EQ((*tok)->encode(v["text"].get<std::string>(), false),
            v["token_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ((*tok)->encode("a<|endoftext|>b", false), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_EQ((*tok)->vocab_size(), 50257u);
}

TEST(RealVectors, Qwen2VocabMerges) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/qwen2");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t n = 0;
  check(**tok, "qwen2", n);
  check_multilingual(**tok, "qwen2_5_multilingual.json", n);
  EXPECT_GT(n, 100u);
  EXPECT_EQ((*tok)->encode("<|im_start|>user", false), (std::vector<int32_t>{151644, 872}));
  EXPECT_EQ((*tok)->eos_ids(), (std::vector<int32_t>{151643}));
}

TEST(RealVectors, VocabMergesRejectsOtherTokenizerClasses) {
  const auto dir = std::filesystem::temp_directory_path() / "lightllm_vm_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "vocab.json") << R"({"a": 0, "b": 1, "ab": 2})";
  std::ofstream(dir / "merges.txt") << "#version: 0.2\na b\n";
  std::ofstream(dir / "tokenizer_config.json") << R"({"tokenizer_class": "BertTokenizer"})";
  auto tok = Tokenizer::from_dir(dir.string());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("BertTokenizer"), std::string::npos);
  EXPECT_NE(tok.status().message().find("tokenizer_config.json"), std::string::npos);
  std::ofstream(dir / "merges.txt") << "a b c\n";
  std::ofstream(dir / "tokenizer_config.json") << R"({"tokenizer_class": "GPT2Tokenizer"})";
  auto bad = Tokenizer::from_dir(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("merges.txt: line 1"), std::string::npos)
      << bad.status().message();
  std::filesystem::remove_all(dir);
}

// Qwen v1 qwen.tiktoken against the tiktoken package (tools/tokenizer/gen_qwen_tiktoken.py).
TEST(RealVectors, Qwen1TiktokenMatchesTiktoken) {
  auto tok = Tokenizer::from_dir(shared_dir() + "/tokenizers/qwen1");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const auto exp =
      nlohmann::json::parse(slurp(testing::data_dir() + "/expected/qwen1_tiktoken.json"));
  size_t n = 0;
  for (const auto& c : exp["cases"]) {
    const std::string text = testing::from_hex(c["hex"]);
    const auto ids = (*tok)->encode(text, false);
    EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << c["name"];
    EXPECT_EQ((*tok)->decode(ids, false), c["decoded"].get<std::string>()) << c["name"];
    ++n;
  }
  EXPECT_GE(n, 55u);
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
