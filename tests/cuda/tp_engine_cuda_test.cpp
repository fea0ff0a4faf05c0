// tests/cuda/tp_engine_cuda_test.cpp — tensor parallelism through the Engine on CUDA: TP = 2
// greedy continuations of a batch of requests equal TP = 1's on the f32 LLaMA golden model
// (4 heads, 2 kv heads: one kv head per rank), and the bundled model gives PyTorch's
// continuation at TP = 2. Skipped (with the reason) when fewer than 2 GPUs are visible.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "engine/engine_harness.h"
#include "ops/ops.h"

namespace lightllm {
namespace {

using test_util::Completion;

std::vector<Completion> greedy(const std::string& dir, int tp,
                               const std::vector<GenerateRequest>& reqs) {
  EngineConfig cfg;
  cfg.model_dir = dir;
  cfg.device = "cuda";
  cfg.tp = tp;
  cfg.max_total_token_num = 4096;
  std::string error;
  auto engine = Engine::create(cfg, &error);
  EXPECT_NE(engine, nullptr) << "tp " << tp << ": " << error;
  if (!engine) return {};
  auto out = test_util::run_batch(*engine, reqs);
  engine->shutdown();
  return out;
}

class TpEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    const int n = ops::cuda_device_count();
    if (n < 2) GTEST_SKIP() << "TP = 2 needs 2 GPUs; " << n << " visible";
  }
};

TEST_F(TpEngine, Tp2GreedyEqualsTp1OnTheF32Golden) {
  const std::string dir = test_util::kGoldenModels + "/llama-f32";
  auto reqs = test_util::random_requests(12, /*vocab=*/200, /*max_prompt=*/40, /*max_new=*/16,
                                         /*seed=*/5);
  for (auto& r : reqs) r.params.ignore_eos = true;
  const auto one = greedy(dir, 1, reqs);
  const auto two = greedy(dir, 2, reqs);
  ASSERT_EQ(one.size(), reqs.size());
  ASSERT_EQ(two.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(two[i].error, "");
    EXPECT_EQ(two[i].finished_events, 1);
    EXPECT_EQ(two[i].ids, one[i].ids) << "request " << i;
  }
}

TEST_F(TpEngine, BundledModelAtTp2MatchesPyTorch) {
  const std::string dir = test_util::kBundledModel;
  std::ifstream f(dir + "/reference.json");
  const auto ref = nlohmann::json::parse(f)["greedy"];
  GenerateRequest req;
  req.prompt = ref["prompt"].get<std::string>();
  req.params.max_new_tokens = static_cast<int>(ref["output_ids"].size());
  req.params.ignore_eos = true;
  const auto two = greedy(dir, 2, {req});
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].ids, ref["output_ids"].get<std::vector<int32_t>>());
}

}  // namespace
}  // namespace lightllm
