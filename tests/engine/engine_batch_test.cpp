// The real CPU engine through its public API (issue #4, "How it is proven"):
//  - batch invariance in f32: each of 16 greedy requests of mixed lengths, submitted at once,
//    gives exactly the output it gives when run alone (golden models + the bundled model);
//  - the prefix cache: a request sharing a long prefix with a finished one reports the shared
//    length as cached, prefills only its suffix, and gives the output it gives without the cache;
//  - chunked prefill and a pool so small that running requests get paused: outputs identical to
//    the unconstrained run, and the pool is free at the end.
#include <gtest/gtest.h>

#include "engine_harness.h"

using namespace lightllm;
using namespace lightllm::test_util;

namespace {

void expect_same(const std::vector<Completion>& got, const std::vector<Completion>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ids, want[i].ids) << what << ": request " << i;
    EXPECT_EQ(got[i].reason, want[i].reason) << what << ": request " << i;
    EXPECT_EQ(got[i].finished_events, 1) << what << ": request " << i;
    EXPECT_TRUE(got[i].error.empty()) << what << ": request " << i << ": " << got[i].error;
  }
}

class GoldenBatchInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenBatchInvariance, SixteenMixedRequestsEqualTheirSoloRuns) {
  // The dynamic-NTK model has a 16-token context on purpose (scaling starts beyond it): allow
  // 128 tokens as for the others.
  auto engine =
      make_engine({.model_dir = kGoldenModels + "/" + GetParam(), .max_req_total_len = 128});
  ASSERT_NE(engine, nullptr);
  // Prompts 1..60 tokens, 1..60 new tokens: prompt + output stays within 128 tokens.
  const auto reqs = random_requests(16, engine->model_info().vocab_size, 60, 60, 1234);
  const auto solo = run_one_by_one(*engine, reqs);
  const auto batch = run_batch(*engine, reqs);
  expect_same(batch, solo, GetParam() + " batch vs solo");
  int64_t generated = 0;
  for (const auto& c : solo) generated += static_cast<int64_t>(c.ids.size());
  EXPECT_GT(generated, 16 * 10);  // the comparison covers real continuations
  EXPECT_EQ(wait_idle(*engine).kv_used, 0);
}

INSTANTIATE_TEST_SUITE_P(F32, GoldenBatchInvariance,
                         ::testing::Values("llama-f32", "mistral-f32", "qwen2-f32", "internlm-f32",
                                           "llama-rope-dynamic-f32"));

TEST(BundledBatchInvariance, SixteenTextPromptsEqualTheirSoloRuns) {
  auto engine = make_engine({.model_dir = kBundledModel, .kv_cache_dtype = "f32"});
  ASSERT_NE(engine, nullptr);
  const std::vector<std::string> prompts = {
      "A computer is a machine that",
      "Once",
      "The sun rises in the east and",
      "Water boils at",
      "In the year 1900, the city of London was the largest",
      "Cats and dogs",
      "The history of mathematics begins with the counting of",
      "Music",
      "A river flows from the mountains down to the sea, carrying",
      "The first",
      "Scientists believe that the universe",
      "Bread is made from flour, water and",
      "The king said",
      "Many people enjoy reading books because they",
      "Trees",
      "It was"};
  std::vector<GenerateRequest> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateRequest r;
    r.prompt = prompts[i];
    r.params.do_sample = false;
    r.params.max_new_tokens = 8 + static_cast<int>(i * 5) % 40;
    r.params.ignore_eos = i % 3 == 0;
    reqs.push_back(r);
  }
  const auto solo = run_one_by_one(*engine, reqs);
  const auto batch = run_batch(*engine, reqs);
  expect_same(batch, solo, "bundled batch vs solo");
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i].text, solo[i].text) << i;
}

// Two requests sharing `shared` prompt tokens, the second submitted after the first finished.
struct PrefixRun {
  Completion first, second;
  EngineStats before_second, after_second;
};

PrefixRun run_prefix_pair(bool disable_cache, const std::vector<int32_t>& a,
                          const std::vector<int32_t>& b) {
  PrefixRun out;
  auto engine = make_engine(
      {.model_dir = kGoldenModels + "/llama-f32", .disable_prefix_cache = disable_cache});
  if (!engine) return out;
  GenerateRequest ra, rb;
  ra.prompt_ids = a;
  rb.prompt_ids = b;
  for (auto* r : {&ra, &rb}) {
    r->params.max_new_tokens = 20;
    r->params.ignore_eos = true;
  }
  out.first = run_batch(*engine, {ra}).at(0);
  out.before_second = wait_idle(*engine);
  out.second = run_batch(*engine, {rb}).at(0);
  out.after_second = wait_idle(*engine);
  return out;
}

TEST(PrefixCache, SecondRequestPrefillsOnlyTheSuffixAndMatchesTheUncachedRun) {
  constexpr int kShared = 80, kSuffix = 10;
  std::mt19937 rng(99);
  std::vector<int32_t> a, b;
  for (int i = 0; i < kShared; ++i)
    a.push_back(std::uniform_int_distribution<int32_t>(3, 511)(rng));
  b = a;
  for (int i = 0; i < kSuffix; ++i)
    b.push_back(std::uniform_int_distribution<int32_t>(3, 511)(rng));
  a.push_back(7);  // the first request's prompt diverges right after the shared part

  const PrefixRun cached = run_prefix_pair(false, a, b);
  const PrefixRun plain = run_prefix_pair(true, a, b);
  EXPECT_EQ(cached.first.cached_prompt_tokens, 0);
  EXPECT_EQ(cached.second.cached_prompt_tokens, kShared);
  EXPECT_EQ(plain.second.cached_prompt_tokens, 0);
  // Prefill work of the second request: only the suffix with the cache, everything without.
  EXPECT_EQ(cached.after_second.prefill_tokens - cached.before_second.prefill_tokens,
            static_cast<uint64_t>(kSuffix));
  EXPECT_EQ(plain.after_second.prefill_tokens - plain.before_second.prefill_tokens,
            static_cast<uint64_t>(kShared + kSuffix));
  EXPECT_EQ(cached.second.ids, plain.second.ids);
  EXPECT_EQ(cached.first.ids, plain.first.ids);
  ASSERT_EQ(cached.second.ids.size(), 20u);
  EXPECT_EQ(cached.after_second.kv_used, 0);
  EXPECT_GT(cached.after_second.kv_cached, 0);  // the cache keeps the prefixes
  EXPECT_EQ(plain.after_second.kv_cached, 0);
}

TEST(PrefixCache, RepeatedPromptRecomputesOnlyTheLastToken) {
  std::vector<int32_t> p;
  for (int i = 0; i < 50; ++i) p.push_back(10 + (i * 37) % 500);
  const PrefixRun cached = run_prefix_pair(false, p, p);
  const PrefixRun plain = run_prefix_pair(true, p, p);
  EXPECT_EQ(cached.second.cached_prompt_tokens, 49);  // the last prompt token is fed for logits
  EXPECT_EQ(cached.after_second.prefill_tokens - cached.before_second.prefill_tokens, 1u);
  EXPECT_EQ(cached.second.ids, plain.second.ids);
  EXPECT_EQ(cached.second.ids, cached.first.ids);
}

// The 16 requests under a constrained engine must produce exactly the unconstrained outputs.
struct Constraint {
  const char* name;
  int64_t chunked_prefill_size;
  int64_t max_total_token_num;
  bool disable_prefix_cache;
  bool expect_pauses;
};

class ConstrainedEngine : public ::testing::TestWithParam<Constraint> {};

TEST_P(ConstrainedEngine, OutputsEqualTheUnconstrainedRunAndThePoolDrains) {
  const Constraint c = GetParam();
  const std::string dir = kGoldenModels + "/llama-f32";
  auto reqs = random_requests(16, 512, 60, 60, 4321);
  for (auto& r : reqs) r.params.ignore_eos = false;  // EOS may end them: estimates are guesses
  std::vector<Completion> want;
  {
    auto engine = make_engine({.model_dir = dir});
    ASSERT_NE(engine, nullptr);
    want = run_batch(*engine, reqs);
  }
  EngineConfig cfg{.model_dir = dir,
                   .max_total_token_num = c.max_total_token_num,
                   .chunked_prefill_size = c.chunked_prefill_size,
                   .disable_prefix_cache = c.disable_prefix_cache};
  // Optimistic output-length estimates (never "busy", a 1-token floor) admit more than fits,
  // so decode runs out of slots and the router must pause (and later resume) the newest.
  cfg.router_token_ratio = 1.0;
  cfg.router_max_new_token_len = 1;
  auto engine = make_engine(cfg);
  ASSERT_NE(engine, nullptr);
  const auto got = run_batch(*engine, reqs);
  expect_same(got, want, c.name);
  const EngineStats s = wait_idle(*engine);
  EXPECT_EQ(s.kv_used, 0) << c.name;
  EXPECT_EQ(s.running + s.waiting + s.paused, 0) << c.name;
  EXPECT_LE(s.kv_cached, s.kv_total);
  if (c.expect_pauses) {
    EXPECT_GT(s.pauses, 0u) << c.name << ": the pool never ran out";
  }
  if (c.disable_prefix_cache) {
    EXPECT_EQ(s.kv_cached, 0) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Engine, ConstrainedEngine,
                         ::testing::Values(Constraint{"chunked7", 7, 0, false, false},
                                           Constraint{"chunked16_nocache", 16, 0, true, false},
                                           Constraint{"tinypool", 0, 150, false, true},
                                           Constraint{"tinypool_nocache", 0, 150, true, true},
                                           Constraint{"tinypool_chunked5", 5, 150, false, true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
