// The start-up memory check (src/engine/memory_check.h, issue #7) on the CPU: the dummy step
// shapes respect the router's limits and the pool; the retry loop shrinks the pool on
// out-of-memory only, a bounded number of times, with a clear final error; the dummy steps
// run through a real model, give every slot back, and leave no trace in what the engine then
// generates (same greedy tokens as an engine without the check).
#include <gtest/gtest.h>

#include <numeric>

#include "engine/memory_check.h"
#include "engine_harness.h"
#include "models/model.h"

using namespace lightllm;
using namespace lightllm::engine;
using namespace lightllm::test_util;

namespace {

struct ShapeStats {
  int64_t fed = 0, kv = 0, longest = 0;
};

ShapeStats stats_of(const std::vector<DummyRequest>& reqs) {
  ShapeStats s;
  for (const DummyRequest& r : reqs) {
    EXPECT_GE(r.n_tokens, 1);
    EXPECT_GE(r.cached_len, 0);
    s.fed += r.n_tokens;
    s.kv += int64_t{r.cached_len} + r.n_tokens;
    s.longest = std::max<int64_t>(s.longest, int64_t{r.cached_len} + r.n_tokens);
  }
  return s;
}

TEST(MemoryCheckShapes, MaxStepIsTheFullPrefillBudgetPlusADecodeForEveryOtherRequest) {
  struct Case {
    StepLimits lim;
    int64_t capacity;
  };
  const Case cases[] = {
      {{.batch_max_tokens = 4096, .running_max_req_size = 1000, .max_req_total_len = 4096}, 500000},
      {{.batch_max_tokens = 16384, .running_max_req_size = 8, .max_req_total_len = 4096}, 100000},
      {{.batch_max_tokens = 16384, .running_max_req_size = 2, .max_req_total_len = 4096}, 100000},
      {{.batch_max_tokens = 512, .running_max_req_size = 1000, .max_req_total_len = 512}, 700},
      {{.batch_max_tokens = 83, .running_max_req_size = 7, .max_req_total_len = 40}, 769},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "B=" << c.lim.batch_max_tokens << " R=" << c.lim.running_max_req_size
                 << " L=" << c.lim.max_req_total_len << " C=" << c.capacity);
    const auto reqs = max_step_shape(c.lim, c.capacity);
    const ShapeStats s = stats_of(reqs);
    EXPECT_LE(static_cast<int64_t>(reqs.size()), c.lim.running_max_req_size);
    EXPECT_LE(s.kv, c.capacity);
    EXPECT_LE(s.longest, c.lim.max_req_total_len);
    int64_t prefill = 0, decode = 0;  // (no case here has a 1-token prefill request)
    for (const DummyRequest& r : reqs)
      (r.cached_len == 0 && r.n_tokens > 1 ? prefill : decode) += r.n_tokens;
    // The whole prefill budget when the requests (prompts of at most L - 1 tokens) and the pool
    // can hold it.
    const int64_t holdable = std::min<int64_t>(
        int64_t{c.lim.running_max_req_size} * (c.lim.max_req_total_len - 1), c.capacity);
    EXPECT_EQ(prefill, std::min(c.lim.batch_max_tokens, holdable));
    // Every request slot left over decodes, unless the pool runs out of positions first.
    const int64_t n_prefill = static_cast<int64_t>(reqs.size()) - decode;
    EXPECT_EQ(decode,
              std::min<int64_t>(c.lim.running_max_req_size - n_prefill, c.capacity - prefill));
  }
}

TEST(MemoryCheckShapes, MaxDecodeFillsThePoolWithOneMaxLengthRequest) {
  const StepLimits lim{
      .batch_max_tokens = 4096, .running_max_req_size = 100, .max_req_total_len = 4096};
  for (const int64_t capacity : {int64_t{50}, int64_t{4096}, int64_t{10000}, int64_t{1000000}}) {
    SCOPED_TRACE(capacity);
    const auto reqs = max_decode_shape(lim, capacity);
    const ShapeStats s = stats_of(reqs);
    EXPECT_EQ(static_cast<int64_t>(reqs.size()), std::min<int64_t>(100, capacity));
    EXPECT_EQ(s.fed, static_cast<int64_t>(reqs.size()));  // one token each
    EXPECT_LE(s.kv, capacity);
    const int64_t n = std::min<int64_t>(100, capacity);
    EXPECT_EQ(s.longest, std::min<int64_t>(4096, capacity - (n - 1)));
    if (capacity >= 100 * 4096)
      EXPECT_EQ(s.kv, 100 * 4096);  // every request at max length
    else
      EXPECT_GE(s.kv, capacity - 100);  // the pool is (nearly) full
  }
}

models::KvStorage fake_pool(int64_t capacity) {
  models::KvStorage kv;
  kv.capacity = capacity;
  return kv;
}

TEST(MemoryCheckFit, ShrinksOnOutOfMemoryUntilTheStepsFit) {
  std::vector<int64_t> tried;
  FitHooks hooks;
  hooks.allocate = [&](int64_t cap) -> core::Result<models::KvStorage> {
    tried.push_back(cap);
    if (cap > 9000) return core::error(core::StatusCode::out_of_memory, "pool does not fit");
    return fake_pool(cap);
  };
  hooks.run_steps = [&](models::KvStorage& kv) -> core::Status {
    if (kv.capacity > 8000)
      return core::error(core::StatusCode::out_of_memory, "step does not fit");
    return {};
  };
  auto fit = fit_kv_pool(10000, {.max_attempts = 4, .shrink = 0.9}, hooks);
  ASSERT_TRUE(fit.ok()) << fit.status().to_string();
  EXPECT_EQ(tried, (std::vector<int64_t>{10000, 9000, 8100, 7290}));
  EXPECT_EQ(fit->capacity, 7290);
  EXPECT_EQ(fit->kv.capacity, 7290);
  EXPECT_EQ(fit->attempts, 4);
  ASSERT_EQ(fit->events.size(), 3u);
  EXPECT_NE(fit->events[0].find("pool does not fit"), std::string::npos);
  EXPECT_NE(fit->events[2].find("step does not fit"), std::string::npos);
}

TEST(MemoryCheckFit, GivesUpAfterMaxAttemptsNamingTheFlags) {
  int calls = 0;
  FitHooks hooks;
  hooks.allocate = [&](int64_t cap) -> core::Result<models::KvStorage> {
    ++calls;
    return fake_pool(cap);
  };
  hooks.run_steps = [](models::KvStorage&) {
    return core::error(core::StatusCode::out_of_memory, "activations do not fit");
  };
  auto fit = fit_kv_pool(1000, {.max_attempts = 3, .shrink = 0.5}, hooks);
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(fit.status().code(), core::StatusCode::out_of_memory);
  const std::string m = fit.status().message();
  EXPECT_NE(m.find("250 tokens"), std::string::npos) << m;  // the last pool tried
  EXPECT_NE(m.find("--mem-fraction"), std::string::npos) << m;
  EXPECT_NE(m.find("--batch-max-tokens"), std::string::npos) << m;
  EXPECT_NE(m.find("activations do not fit"), std::string::npos) << m;
}

TEST(MemoryCheckFit, OtherErrorsAreNotRetried) {
  int calls = 0;
  FitHooks hooks;
  hooks.allocate = [&](int64_t cap) -> core::Result<models::KvStorage> {
    ++calls;
    return fake_pool(cap);
  };
  hooks.run_steps = [](models::KvStorage&) { return core::internal_error("a bug"); };
  auto fit = fit_kv_pool(1000, {}, hooks);
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(fit.status().code(), core::StatusCode::internal);
}

TEST(MemoryCheckFit, WithoutCheckTheFirstPoolIsKept) {
  FitHooks hooks;
  hooks.allocate = [](int64_t cap) -> core::Result<models::KvStorage> { return fake_pool(cap); };
  auto fit = fit_kv_pool(1234, {}, hooks);
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(fit->capacity, 1234);
  EXPECT_EQ(fit->attempts, 1);
}

TEST(MemoryCheckDummyStep, RunsOnARealModelWritesThePoolAndFreesEverySlot) {
  auto model = models::load_model(kGoldenModels + "/llama-f32");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const models::ModelShape& s = (*model)->shape();
  const int64_t capacity = 300;
  models::KvStorage kv =
      models::KvStorage::allocate(s.n_layers, capacity, s.n_kv_heads, s.head_dim, core::DType::f32);
  for (auto& layer : kv.layers) std::fill_n(layer.k.data<float>(), layer.k.numel(), 0.0f);
  const StepLimits lim{.batch_max_tokens = 83, .running_max_req_size = 7, .max_req_total_len = 64};
  const auto step = max_step_shape(lim, capacity);
  ASSERT_TRUE(run_dummy_step(**model, kv, step, lim.max_req_total_len).ok());
  ASSERT_TRUE(run_dummy_step(**model, kv, max_decode_shape(lim, capacity), 64).ok());
  // The fed tokens' K went to pool slots.
  const auto& k = kv.layers[0].k;
  int64_t nonzero_rows = 0;
  const int64_t row = int64_t{s.n_kv_heads} * s.head_dim;
  for (int64_t slot = 0; slot < capacity; ++slot) {
    const float* p = k.data<float>() + slot * row;
    nonzero_rows += std::any_of(p, p + row, [](float x) { return x != 0.0f; }) ? 1 : 0;
  }
  EXPECT_GE(nonzero_rows, stats_of(step).fed);
  // A request longer than a req_to_token row is a bug, not an out-of-memory.
  const std::vector<DummyRequest> too_long{{.cached_len = 64, .n_tokens = 1}};
  EXPECT_EQ(run_dummy_step(**model, kv, too_long, 64).code(), core::StatusCode::internal);
}

TEST(MemoryCheckEngine, CheckedEngineGeneratesWhatAnUncheckedOneDoes) {
  EngineConfig cfg{.model_dir = kGoldenModels + "/llama-f32",
                   .max_total_token_num = 1500,
                   .batch_max_tokens = 96,
                   .running_max_req_size = 12,
                   .max_req_total_len = 128};
  cfg.memory_check = "on";
  auto checked = make_engine(cfg);
  cfg.memory_check = "off";
  auto plain = make_engine(cfg);
  ASSERT_NE(checked, nullptr);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(checked->stats().kv_total, 1500);  // nothing shrank on the CPU
  const auto reqs = random_requests(10, 512, 60, 40, 7);
  const auto a = run_batch(*checked, reqs);
  const auto b = run_batch(*plain, reqs);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << "request " << i;
    EXPECT_EQ(a[i].error, "");
  }
  const EngineStats st = wait_idle(*checked);
  EXPECT_EQ(st.kv_used, 0);
}

TEST(MemoryCheckEngine, BadModeIsRejected) {
  EngineConfig cfg{.model_dir = kGoldenModels + "/llama-f32", .max_total_token_num = 500};
  cfg.memory_check = "sometimes";
  std::string error;
  EXPECT_EQ(Engine::create(cfg, &error), nullptr);
  EXPECT_NE(error.find("--memory-check"), std::string::npos) << error;
}

}  // namespace
