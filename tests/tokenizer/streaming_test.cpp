// tests/tokenizer/streaming_test.cpp — stop strings across token boundaries: held-back text is
// released only once it cannot be a stop prefix, and joined output equals the reference cut.
#include <gtest/gtest.h>

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
