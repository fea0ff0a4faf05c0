// The engine's pipelined loop (max_inflight_steps = 2: step N+1 is planned while step N runs,
// its decode tokens filled in from step N's samples when it starts), on the CPU where both
// loops run the same model code: every output equals the one-step-at-a-time engine's — with
// EOS endings (a sequence that ends in step N has already been planned into N+1), chunked
// prefill, and a pool small enough to pause requests — and the pool drains completely.
// On CUDA the pipelined loop is the default (tests/cuda/model_cuda_test.cpp runs it there).
#include <gtest/gtest.h>

#include "engine_harness.h"

using namespace lightllm;
using namespace lightllm::test_util;

namespace {

struct Case {
  const char* name;
  int64_t chunked_prefill_size;
  int64_t max_total_token_num;
};

class PipelinedEngine : public ::testing::TestWithParam<Case> {};

TEST_P(PipelinedEngine, OutputsEqualTheOneStepAtATimeEngineAndThePoolDrains) {
  const Case c = GetParam();
  const std::string dir = kGoldenModels + "/llama-f32";
  auto reqs = random_requests(16, 512, 60, 60, 777);
  for (size_t i = 0; i < reqs.size(); ++i) reqs[i].params.ignore_eos = i % 2 == 0;
  EngineConfig base{.model_dir = dir,
                    .max_total_token_num = c.max_total_token_num,
                    .chunked_prefill_size = c.chunked_prefill_size};
  if (c.max_total_token_num > 0) {  // admit optimistically so that decode must pause requests
    base.router_token_ratio = 1.0;
    base.router_max_new_token_len = 1;
  }
  std::vector<Completion> want;
  {
    EngineConfig cfg = base;
    cfg.max_inflight_steps = 1;
    auto engine = make_engine(cfg);
    ASSERT_NE(engine, nullptr);
    want = run_batch(*engine, reqs);
  }
  EngineConfig cfg = base;
  cfg.max_inflight_steps = 2;
  auto engine = make_engine(cfg);
  ASSERT_NE(engine, nullptr);
  const auto got = run_batch(*engine, reqs);
  ASSERT_EQ(got.size(), want.size());
  int64_t generated = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ids, want[i].ids) << c.name << ": request " << i;
    EXPECT_EQ(got[i].reason, want[i].reason) << c.name << ": request " << i;
    EXPECT_EQ(got[i].finished_events, 1) << c.name << ": request " << i;
    EXPECT_TRUE(got[i].error.empty()) << c.name << ": request " << i << ": " << got[i].error;
    generated += static_cast<int64_t>(got[i].ids.size());
  }
  EXPECT_GT(generated, 16 * 10);
  const EngineStats s = wait_idle(*engine);
  EXPECT_EQ(s.kv_used, 0) << c.name;
  EXPECT_EQ(s.running + s.waiting + s.paused, 0) << c.name;
  if (c.max_total_token_num > 0) {
    EXPECT_GT(s.pauses, 0u) << c.name << ": the pool never ran out";
  }
}

INSTANTIATE_TEST_SUITE_P(Engine, PipelinedEngine,
                         ::testing::Values(Case{"plain", 0, 0}, Case{"chunked7", 7, 0},
                                           Case{"tight_pool", 0, 150}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PipelinedEngine, MoreThanTwoInflightStepsIsRejected) {
  std::string error;
  EngineConfig cfg{.model_dir = kGoldenModels + "/llama-f32", .max_total_token_num = 1024};
  cfg.max_inflight_steps = 3;
  EXPECT_EQ(Engine::create(cfg, &error), nullptr);
  EXPECT_NE(error.find("max_inflight_steps"), std::string::npos) << error;
}

}  // namespace
