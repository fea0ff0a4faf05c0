// tests/engine/admission_test.cpp — LightLLM's future-token rule on hand-computed examples.
#include <gtest/gtest.h>

#include "engine/router/admission.h"

namespace lightllm::engine::router {
namespace {

TEST(Admission, PeakOfHandExample) {
  // (a, b) = (10, 5), (20, 1), (5, 8). Sorted by b desc: (5,8), (10,5), (20,1).
  // i=0: 8*1 + 5 = 13;  i=1: 5*2 + 15 = 25;  i=2: 1*3 + 35 = 38  -> peak 38.
  std::vector<TokenTuple> l{{10, 5}, {20, 1}, {5, 8}};
  EXPECT_EQ(peak_token_need(l), 38);
  EXPECT_EQ(l[0].b, 8);
  // One long-running small request dominates: (2, 100), (50, 0): 100 + 2 = 102 vs 0*2 + 52.
  std::vector<TokenTuple> m{{50, 0}, {2, 100}};
  EXPECT_EQ(peak_token_need(m), 102);
  std::vector<TokenTuple> empty;
  EXPECT_EQ(peak_token_need(empty), 0);
}

TEST(Admission, EstimatesFollowLightllm) {
  EstimateInput in;
  in.prompt_len = 100;
  in.max_new_tokens = 500;
  // Busy (conservative): from max_new_tokens.
  in.phase = Phase::waiting;
  EXPECT_EQ(estimate_tokens(in, true, 64).a, 101);
  EXPECT_EQ(estimate_tokens(in, true, 64).b, 498);
  // Not busy: min(500, max(int(1.1*0), 64)) = 64 -> b = 62.
  EXPECT_EQ(estimate_tokens(in, false, 64).b, 62);
  // ignore_eos is always conservative.
  in.ignore_eos = true;
  EXPECT_EQ(estimate_tokens(in, false, 64).b, 498);
  in.ignore_eos = false;
  // Running with 100 generated: cur_max = min(500, max(110, 64)) = 110 -> (200, 9).
  in.phase = Phase::running;
  in.out_len = 100;
  EXPECT_EQ(estimate_tokens(in, false, 64).a, 200);
  EXPECT_EQ(estimate_tokens(in, false, 64).b, 9);
  // Paused: (prompt + out + 1, cur_max - out - 2) = (201, 8).
  in.phase = Phase::paused;
  EXPECT_EQ(estimate_tokens(in, false, 64).a, 201);
  EXPECT_EQ(estimate_tokens(in, false, 64).b, 8);
  // a + b == prompt + cur_max - 1 in every phase (busy: cur_max = 500).
  for (Phase ph : {Phase::waiting, Phase::running, Phase::paused}) {
    in.phase = ph;
    const TokenTuple t = estimate_tokens(in, true, 64);
    EXPECT_EQ(t.a + t.b, 100 + 500 - 1);
  }
}

TEST(Admission, BusyThreshold) {
  EXPECT_TRUE(is_busy(0, 100, 0.0));  // LightLLM default ratio 0: always conservative
  EXPECT_FALSE(is_busy(49, 100, 0.5));
  EXPECT_TRUE(is_busy(50, 100, 0.5));
}

}  // namespace
}  // namespace lightllm::engine::router
