// The start-up memory check on the GPU (ctest label `cuda`; src/engine/memory_check.h): an
// engine asked for a KV pool of all the free device memory (--mem-fraction 1.0) cannot keep it
// beside the largest steps, so the check must shrink the pool (logged as warnings) until the
// dummy max step and max decode step run, and the engine then serves normally. Its greedy output
// equals that of an engine with a small pool and no check (the dummy steps leave no trace), and
// every slot is free again at the end.
#include <gtest/gtest.h>

#include "engine/engine_harness.h"
#include "lightllm/engine.h"
#include "ops/ops.h"

using namespace lightllm;
using namespace lightllm::test_util;

namespace {

TEST(MemoryCheckCuda, PoolOfAllFreeMemoryShrinksUntilTheLargestStepsFit) {
  int64_t free_before = 0, total = 0;
  ASSERT_TRUE(ops::cuda_mem_info(&free_before, &total).ok());
  const auto reqs = random_requests(6, 8192, 40, 24, 11);  // the bundled model's vocab: 8192

  std::vector<Completion> checked_out;
  int64_t kv_checked = 0;
  {
    EngineConfig cfg{.model_dir = kBundledModel, .device = "cuda", .mem_fraction = 1.0};
    cfg.memory_check = "on";
    std::string error;
    auto engine = Engine::create(cfg, &error);
    ASSERT_NE(engine, nullptr) << error;
    kv_checked = engine->stats().kv_total;
    // 3072 bytes per bf16 token (6 layers x 2 kv heads x 64 x 2 x K,V): all the free memory
    // (the 24 MiB of weights are noise) would be ~free_before / 3072 tokens. That cannot be
    // allocated beside the steps' activations, so the check must have shrunk it by 15% at
    // least once (and at most three times: 0.85^3 = 0.61).
    const double all_free = static_cast<double>(free_before) / 3072.0;
    EXPECT_LE(static_cast<double>(kv_checked), 0.86 * all_free);
    EXPECT_GE(static_cast<double>(kv_checked), 0.6 * all_free);
    checked_out = run_batch(*engine, reqs);
    const EngineStats st = wait_idle(*engine);
    EXPECT_EQ(st.kv_used, 0);
  }
  EngineConfig cfg{.model_dir = kBundledModel, .device = "cuda", .max_total_token_num = 4096};
  cfg.memory_check = "off";
  std::string error;
  auto plain = Engine::create(cfg, &error);
  ASSERT_NE(plain, nullptr) << error;
  const auto plain_out = run_batch(*plain, reqs);
  ASSERT_EQ(checked_out.size(), plain_out.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(checked_out[i].error, "");
    EXPECT_EQ(checked_out[i].ids, plain_out[i].ids) << "request " << i;
  }
  std::printf("pool after the memory check: %lld tokens (free before start %.2f GiB)\n",
              static_cast<long long>(kv_checked), static_cast<double>(free_before) / (1 << 30));
}

}  // namespace
