// tests/tokenizer/streaming_test.cpp — stop strings across token boundaries: held-back text is
// released only once it cannot be a stop prefix, and joined output equals the reference cut.
#include <gtest/gtest.h>

#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/stop_matcher.h"

namespace lightllm::tokenizer {
namespace {

// Feeds `text` in chunks of `step` bytes; returns the joined emitted text and whether it stopped.
std::pair<std::string, bool> feed(StopMatcher& m, const std::string& text, size_t step) {
  std::string out;
  for (size_t i = 0; i < text.size(); i += step) {
    auto r = m.push(text.substr(i, step));
    out += r.text;
    if (r.stopped) return {out, true};
  }
  out += m.flush();
  return {out, false};
}

TEST(StopMatcher, CutsAtFirstStopAcrossChunks) {
  const std::string text = "Hello there.\nUser: next question\n###";
  for (size_t step = 1; step <= text.size(); ++step) {
    StopMatcher m({"\nUser:", "###"});
    auto [out, stopped] = feed(m, text, step);
    EXPECT_TRUE(stopped);
    EXPECT_EQ(out, "Hello there.") << "step " << step;
  }
}

TEST(StopMatcher, HoldsBackOnlyPossiblePrefixes) {
  StopMatcher m({"STOP"});
  auto r = m.push("abcST");
  EXPECT_EQ(r.text, "abc");  // "ST" may start "STOP"
  r = m.push("x");
  EXPECT_EQ(r.text, "STx");  // not a stop after all
  r = m.push("ST");
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(m.flush(), "ST");
}

TEST(StopMatcher, IncludeStopAndNoStop) {
  StopMatcher m({"END"}, /*include_stop_in_output=*/true);
  auto [out, stopped] = feed(m, "one two END three", 3);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out, "one two END");
  StopMatcher none({"zzz"});
  auto [all, s2] = feed(none, "no stop here, z zz", 2);
  EXPECT_FALSE(s2);
  EXPECT_EQ(all, "no stop here, z zz");
}

TEST(StopMatcher, MultibyteStop) {
  StopMatcher m({"。\n"});
  auto [out, stopped] = feed(m, "你好。\n再见", 1);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out, "你好");
}

}  // namespace
}  // namespace lightllm::tokenizer

// Found by tests/fuzz/tokenizer_fuzz: with byte fallback, HF decodes a run of <0xXX> pieces as
// one UTF-8 sequence (an invalid run -> one U+FFFD per byte), so '>' followed by a lone lead
// byte reads as two U+FFFD. The stream must hold byte pieces until their run ends and never
// emit anything but whole UTF-8 characters.
TEST(IncrementalDetokenizer, ByteFallbackRunIsDecodedAsAWhole) {
  auto tok = lightllm::tokenizer::Tokenizer::from_tokenizer_json(
      std::string(LIGHTLLM_SOURCE_DIR) + "/tests/data/tokenizer/models/mistral/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const auto gt = (*tok)->token_to_id("<0x3E>"), lead = (*tok)->token_to_id("<0xDA>");
  const auto word = (*tok)->token_to_id("▁the");
  const auto unk = (*tok)->token_to_id("<unk>");  // special: skipping it joins the byte runs
  ASSERT_TRUE(gt && lead && word && unk);
  for (const std::vector<int32_t>& ids :
       std::vector<std::vector<int32_t>>{{*gt, *lead},
                                         {*gt, *lead, *word},
                                         {*word, *gt, *lead, *gt, *word},
                                         {*gt, *unk, *lead}}) {
    for (bool skip : {false, true}) {
      lightllm::tokenizer::IncrementalDetokenizer detok(**tok, skip, {});
      std::string streamed;
      for (int32_t id : ids) streamed += detok.push(id);
      streamed += detok.finish();
      EXPECT_EQ(streamed, (*tok)->decode(ids, skip));
    }
  }
}
