// tests/engine/sampling_params_test.cpp — SamplingParams::validate: one bad field at a time,
// the message names it.
#include <functional>
#include <limits>

#include <gtest/gtest.h>

#include "lightllm/sampling_params.h"

namespace lightllm {
namespace {

TEST(SamplingParamsValidate, DefaultsAreValid) {
  EXPECT_FALSE(SamplingParams{}.validate(100));
}

TEST(SamplingParamsValidate, EachBadFieldIsNamed) {
  struct Bad {
    std::function<void(SamplingParams&)> set;
    std::string message;
  };
  const std::vector<Bad> cases{
      {[](SamplingParams& p) { p.temperature = 0; }, "temperature must be > 0, got 0"},
      {[](SamplingParams& p) { p.temperature = -1; }, "temperature must be > 0, got -1"},
      {[](SamplingParams& p) { p.top_p = 0; }, "top_p must be in (0, 1], got 0"},
      {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p must be in (0, 1], got 1.5"},
      {[](SamplingParams& p) { p.top_k = -2; }, "top_k must be -1, 0 (disabled) or >= 1, got -2"},
      {[](SamplingParams& p) { p.repetition_penalty = 0; },
       "repetition_penalty must be > 0, got 0"},
      {[](SamplingParams& p) { p.presence_penalty = 2.5f; },
       "presence_penalty must be in [-2, 2], got 2.5"},
      {[](SamplingParams& p) { p.frequency_penalty = -3; },
       "frequency_penalty must be in [-2, 2], got -3"},
      {[](SamplingParams& p) { p.max_new_tokens = 0; }, "max_new_tokens must be >= 1, got 0"},
      {[](SamplingParams& p) { p.min_new_tokens = 17; },
       "min_new_tokens must be in [0, max_new_tokens=16], got 17"},
      {[](SamplingParams& p) {
         p.stop_sequences = {"a", ""};
       },
       "stop_sequences[1] must not be empty"},
      {[](SamplingParams& p) {
         p.stop_token_ids = {5, 100};
       },
       "stop_token_ids[1] must be in [0, vocab_size=100), got 100"},
      {[](SamplingParams& p) { p.n = 0; }, "n must be >= 1, got 0"},
      {[](SamplingParams& p) {
         p.n = 3;
         p.best_of = 2;
       },
       "best_of must be >= n=3, got 2"},
      {[](SamplingParams& p) { p.best_of = 2; },
       "best_of must be 1 when do_sample is false (greedy), got 2"},
      {[](SamplingParams& p) { p.top_logprobs = 21; }, "top_logprobs must be in [0, 20], got 21"},
      {[](SamplingParams& p) {
         p.logit_bias = {{100, 1.0f}};
       },
       "logit_bias token 100 must be in [0, vocab_size=100)"},
      {[](SamplingParams& p) {
         p.logit_bias = {{5, 100.5f}};
       },
       "logit_bias of token 5 must be in [-100, 100], got 100.5"},
      {[](SamplingParams& p) {
         p.logit_bias = {{5, 1.0f}, {5, 2.0f}};
       },
       "logit_bias names token 5 twice"},
  };
  for (const Bad& b : cases) {
    SamplingParams p;
    b.set(p);
    const auto err = p.validate(100);
    ASSERT_TRUE(err.has_value()) << b.message;
    EXPECT_EQ(*err, b.message);
  }
}

TEST(SamplingParamsValidate, NanIsRejected) {
  SamplingParams p;
  p.top_p = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(p.validate(10).has_value());
}

}  // namespace
}  // namespace lightllm
