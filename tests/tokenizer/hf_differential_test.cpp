// tests/tokenizer/hf_differential_test.cpp — ids and decoded text must equal HF `tokenizers`
// for every corpus entry (tests/data/tokenizer/corpus.json) and every tokenizer built by
// tools/tokenizer/gen_tokenizers.py (plus the real llama2 / starcoder tokenizer.json files).
// Also checks that streaming detokenization reproduces the full decode.
#include <gtest/gtest.h>

#include <filesystem>

#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/test_util.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::tokenizer {
namespace {

using testing::data_dir;
using testing::from_hex;
using testing::load_json;
using testing::shared_dir;

std::vector<int32_t> ids_of(const nlohmann::json& j) {
  return j.get<std::vector<int32_t>>();
}

class HfDifferential : public ::testing::TestWithParam<std::string> {};

TEST_P(HfDifferential, IdsAndDecodeMatchHf) {
  const auto expected = load_json(data_dir() + "/expected/" + GetParam() + ".json");
  std::string tok_path = expected["tokenizer"].get<std::string>();
  if (tok_path.rfind("shared:", 0) == 0) {
    tok_path = shared_dir() + "/" + tok_path.substr(7);
  } else {
    tok_path = data_dir() + "/" + tok_path;
  }
  ASSERT_TRUE(std::filesystem::exists(tok_path)) << tok_path;
  auto tok = Tokenizer::from_tokenizer_json(tok_path);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const auto corpus = load_json(data_dir() + "/corpus.json");
  ASSERT_EQ(corpus.size(), expected["rows"].size());
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto& row = expected["rows"][i];
    const std::string name = row["name"];
    const std::string text = from_hex(corpus[i]["hex"]);
    const auto ids = (*tok)->encode(text, false);
    EXPECT_EQ(ids, ids_of(row["ids"])) << GetParam() << " / " << name;
    const auto ids_sp = (*tok)->encode(text, true);
    EXPECT_EQ(ids_sp, ids_of(row["ids_special"])) << GetParam() << " / " << name;
    const auto ref = ids_of(row["ids"]);
    const auto ref_sp = ids_of(row["ids_special"]);
    EXPECT_EQ((*tok)->decode(ref, false), row["decode"].get<std::string>())
        << GetParam() << " / " << name;
    EXPECT_EQ((*tok)->decode(ref_sp, true), row["decode_special_skip"].get<std::string>())
        << GetParam() << " / " << name;
    EXPECT_EQ((*tok)->decode(ref_sp, false), row["decode_special_keep"].get<std::string>())
        << GetParam() << " / " << name;
    // Streaming: joined pushes == full decode, with and without special tokens.
    for (bool skip : {false, true}) {
      IncrementalDetokenizer detok(**tok, skip);
      std::string joined;
      for (int32_t id : ref_sp) joined += detok.push(id);
      joined += detok.finish();
      EXPECT_EQ(joined, (*tok)->decode(ref_sp, skip))
          << GetParam() << " / " << name << " streaming skip=" << skip;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, HfDifferential,
                         ::testing::Values("gpt2", "gpt2_prefix", "llama3", "qwen2", "bloom",
                                           "starcoder", "llama2", "mistral", "phi3", "misc_bpe",
                                           "real_llama2", "real_starcoder", "gpt2_single_word"));

}  // namespace
}  // namespace lightllm::tokenizer
