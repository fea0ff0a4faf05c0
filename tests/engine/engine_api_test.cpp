// The Engine API's request life on the real CPU engine (issue #4): abort at random points frees
// every KV slot and ends each request with exactly one final event; stop strings and
// min_new_tokens on the bundled model (text); invalid SamplingParams are rejected by submit()
// with the field named; n > 1 with a seed is reproducible, whatever else runs beside it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "engine_harness.h"

using namespace lightllm;
using namespace lightllm::test_util;

namespace {

nlohmann::json bundled_greedy_reference() {
  std::ifstream f(kBundledModel + "/reference.json");
  return nlohmann::json::parse(f)["greedy"];
}

TEST(EngineAbort, RandomAbortsFreeEverything) {
  for (const bool cache : {true, false}) {
    auto engine =
        make_engine({.model_dir = kGoldenModels + "/llama-f32", .disable_prefix_cache = !cache});
    ASSERT_NE(engine, nullptr);
    auto reqs = random_requests(24, 512, 60, 60, 555);
    for (auto& r : reqs) r.params.ignore_eos = true;
    Collector col;
    std::vector<uint64_t> ids;
    for (const auto& r : reqs) ids.push_back(col.submit(*engine, r));
    // Abort two thirds of them at random moments: before they start (still queued or being
    // tokenized), mid-prefill, mid-decode; some twice, plus an id that does not exist.
    std::mt19937 rng(cache ? 1 : 2);
    std::vector<uint64_t> victims;
    for (size_t i = 0; i < ids.size(); ++i)
      if (i % 3 != 2) victims.push_back(ids[i]);
    std::shuffle(victims.begin(), victims.end(), rng);
    for (uint64_t id : victims) {
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
      engine->abort(id);
      if (id % 4 == 0) engine->abort(id);
    }
    engine->abort(999999);
    ASSERT_TRUE(col.wait_all());
    int aborted = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const Completion c = col.first(ids[i]);
      EXPECT_EQ(c.finished_events, 1) << i;
      EXPECT_TRUE(c.error.empty()) << c.error;
      const bool victim = std::find(victims.begin(), victims.end(), ids[i]) != victims.end();
      if (!victim) {
        EXPECT_EQ(c.reason, FinishReason::length) << i;
        EXPECT_EQ(static_cast<int>(c.ids.size()), reqs[i].params.max_new_tokens) << i;
      } else {
        EXPECT_TRUE(c.reason == FinishReason::abort || c.reason == FinishReason::length) << i;
        EXPECT_LE(static_cast<int>(c.ids.size()), reqs[i].params.max_new_tokens) << i;
        aborted += c.reason == FinishReason::abort ? 1 : 0;
      }
    }
    EXPECT_GT(aborted, 0);
    const EngineStats s = wait_idle(*engine);
    EXPECT_EQ(s.kv_used, 0);
    EXPECT_EQ(s.running + s.waiting + s.paused, 0);
    if (!cache) {
      EXPECT_EQ(s.kv_cached, 0);
    }
    // The engine keeps serving, with the same output as before the aborts.
    const auto again = run_batch(*engine, {reqs[2]});
    EXPECT_EQ(again[0].ids, col.first(ids[2]).ids);
  }
}

GenerateRequest bundled_prompt(int max_new) {
  GenerateRequest r;
  r.prompt = bundled_greedy_reference()["prompt"].get<std::string>();
  r.params.do_sample = false;
  r.params.max_new_tokens = max_new;
  r.params.ignore_eos = true;
  return r;
}

TEST(EngineStops, StopStringEndsTheTextRightBeforeIt) {
  // Greedy reference: " is not a computer; it is a computer. The computer is a computer. ..."
  auto engine = make_engine({.model_dir = kBundledModel});
  ASSERT_NE(engine, nullptr);
  const auto ref = bundled_greedy_reference();
  const std::string full = ref["output_text"].get<std::string>();
  GenerateRequest r = bundled_prompt(32);
  r.params.stop_sequences = {". The", "never appears"};
  const Completion c = run_batch(*engine, {r}).at(0);
  EXPECT_EQ(c.reason, FinishReason::stop);
  EXPECT_EQ(c.text, full.substr(0, full.find(". The")));
  // The token that completed the stop string is the last one generated.
  const auto want_ids = ref["output_ids"].get<std::vector<int32_t>>();
  ASSERT_LE(c.ids.size(), want_ids.size());
  EXPECT_EQ(c.ids, std::vector<int32_t>(want_ids.begin(),
                                        want_ids.begin() + static_cast<long>(c.ids.size())));
  EXPECT_EQ(engine->detokenize(c.ids, true).find(". The") + 5,
            engine->detokenize(c.ids, true).size());
  EXPECT_EQ(wait_idle(*engine).kv_used, 0);
}

TEST(EngineStops, MinNewTokensSuppressesStopIdsAndStopStrings) {
  auto engine = make_engine({.model_dir = kBundledModel});
  ASSERT_NE(engine, nullptr);
  const auto want_ids = bundled_greedy_reference()["output_ids"].get<std::vector<int32_t>>();
  const int32_t stop_id = want_ids.at(3);  // " computer", the 4th greedy token

  GenerateRequest r = bundled_prompt(32);
  r.params.stop_token_ids = {stop_id};
  const Completion early = run_batch(*engine, {r}).at(0);
  EXPECT_EQ(early.reason, FinishReason::stop);
  EXPECT_EQ(early.ids, std::vector<int32_t>(want_ids.begin(), want_ids.begin() + 4));

  r.params.min_new_tokens = 6;
  const Completion late = run_batch(*engine, {r}).at(0);
  ASSERT_GE(late.ids.size(), 6u);
  EXPECT_EQ(std::vector<int32_t>(late.ids.begin(), late.ids.begin() + 3),
            std::vector<int32_t>(want_ids.begin(), want_ids.begin() + 3));
  for (size_t i = 0; i + 1 < late.ids.size(); ++i) EXPECT_NE(late.ids[i], stop_id) << i;
  EXPECT_EQ(late.reason, late.ids.back() == stop_id ? FinishReason::stop : FinishReason::length);

  // A stop string matched by the first token is ignored until min_new_tokens are out.
  GenerateRequest s = bundled_prompt(12);
  s.params.stop_sequences = {" is"};
  const Completion at_once = run_batch(*engine, {s}).at(0);
  EXPECT_EQ(at_once.reason, FinishReason::stop);
  EXPECT_EQ(at_once.text, "");
  s.params.min_new_tokens = 3;
  const Completion held = run_batch(*engine, {s}).at(0);
  EXPECT_GE(held.ids.size(), 3u);
  EXPECT_NE(held.text, "");
  EXPECT_EQ(held.text.rfind(" is not", 0), 0u) << held.text;
  EXPECT_EQ(wait_idle(*engine).kv_used, 0);
}

TEST(EngineSubmit, InvalidSamplingParamsAreRejectedNamingTheField) {
  auto engine = make_engine({.model_dir = kGoldenModels + "/llama-f32"});
  ASSERT_NE(engine, nullptr);
  struct Case {
    const char* field;
    void (*set)(SamplingParams&);
  };
  const Case cases[] = {
      {"temperature", [](SamplingParams& p) { p.temperature = 0; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -3; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -9; }},
      {"max_new_tokens", [](SamplingParams& p) { p.max_new_tokens = 0; }},
      {"min_new_tokens", [](SamplingParams& p) { p.min_new_tokens = 99; }},
      {"stop_sequences[1]",
       [](SamplingParams& p) {
         p.stop_sequences = {"x", ""};
       }},
      {"stop_token_ids[0]", [](SamplingParams& p) { p.stop_token_ids = {512}; }},
      {"n", [](SamplingParams& p) { p.n = 0; }},
      {"best_of", [](SamplingParams& p) { p.n = 2; }},
      {"top_logprobs", [](SamplingParams& p) { p.top_logprobs = 21; }},
  };
  for (const Case& c : cases) {
    GenerateRequest r;
    r.prompt_ids = {5, 6, 7};
    c.set(r.params);
    std::string error;
    EXPECT_EQ(engine->submit(
                  r, [](const StreamEvent&) { ADD_FAILURE() << "event"; }, &error),
              0u)
        << c.field;
    EXPECT_NE(error.find(c.field), std::string::npos) << c.field << ": " << error;
  }
  GenerateRequest bad_id;
  bad_id.prompt_ids = {5, 512};
  std::string error;
  EXPECT_EQ(engine->submit(
                bad_id, [](const StreamEvent&) {}, &error),
            0u);
  EXPECT_NE(error.find("512"), std::string::npos) << error;
  GenerateRequest text;  // the golden folders have no tokenizer
  text.prompt = "hello";
  EXPECT_EQ(engine->submit(
                text, [](const StreamEvent&) {}, &error),
            0u);
  EXPECT_NE(error.find("tokenizer"), std::string::npos) << error;

  // Too long for the 128-token context: accepted, then ended with an error event.
  GenerateRequest too_long;
  too_long.prompt_ids = std::vector<int32_t>(100, 9);
  too_long.params.max_new_tokens = 29;
  const Completion c = run_batch(*engine, {too_long}).at(0);
  EXPECT_EQ(c.reason, FinishReason::error);
  EXPECT_NE(c.error.find("max_new_tokens"), std::string::npos) << c.error;
  EXPECT_TRUE(c.ids.empty());
  EXPECT_EQ(wait_idle(*engine).kv_used, 0);
}

TEST(EngineSampling, SeededNCompletionsAreReproducibleInAnyBatch) {
  auto sampled = [](uint64_t seed) {
    GenerateRequest r;
    r.prompt = "Once upon a time";
    r.params.do_sample = true;
    r.params.temperature = 1.0f;
    r.params.top_p = 0.95f;
    r.params.top_k = 50;
    r.params.n = 3;
    r.params.best_of = 3;
    r.params.seed = seed;
    r.params.max_new_tokens = 24;
    r.params.ignore_eos = true;
    return r;
  };
  std::vector<Completion> alone, crowded, other_seed;
  {
    auto engine = make_engine({.model_dir = kBundledModel});
    ASSERT_NE(engine, nullptr);
    Collector col;
    const uint64_t id = col.submit(*engine, sampled(42));
    ASSERT_TRUE(col.wait_all());
    alone = col.result(id);
  }
  {
    auto engine = make_engine({.model_dir = kBundledModel});
    ASSERT_NE(engine, nullptr);
    Collector col;
    // Unseeded sampling and greedy requests in the same steps must not disturb the seeded one.
    std::vector<GenerateRequest> noise;
    for (int i = 0; i < 4; ++i) {
      GenerateRequest g = sampled(0);
      g.params.seed.reset();
      g.prompt = i % 2 ? "The king" : "Water boils at";
      g.params.do_sample = i % 2 == 0;
      if (!g.params.do_sample) g.params.n = g.params.best_of = 1;
      noise.push_back(g);
    }
    col.submit(*engine, noise[0]);
    col.submit(*engine, noise[1]);
    const uint64_t id = col.submit(*engine, sampled(42));
    const uint64_t id2 = col.submit(*engine, sampled(43));
    col.submit(*engine, noise[2]);
    col.submit(*engine, noise[3]);
    ASSERT_TRUE(col.wait_all());
    crowded = col.result(id);
    other_seed = col.result(id2);
  }
  ASSERT_EQ(alone.size(), 3u);
  ASSERT_EQ(crowded.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(alone[i].finished_events, 1);
    EXPECT_EQ(alone[i].ids.size(), 24u);
    EXPECT_EQ(crowded[i].ids, alone[i].ids) << "completion " << i;
    EXPECT_EQ(crowded[i].text, alone[i].text) << "completion " << i;
  }
  // The n completions differ from each other, and another seed gives other samples.
  EXPECT_NE(alone[0].ids, alone[1].ids);
  EXPECT_NE(alone[1].ids, alone[2].ids);
  EXPECT_NE(other_seed[0].ids, alone[0].ids);
}

}  // namespace
