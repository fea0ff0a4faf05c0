// tests/engine/router_random_test.cpp — randomized property test: many requests arriving over
// time with random lengths, sampling settings, shared prefixes, aborts and detokenizer
// finishes, under every combination of prefix cache / chunked prefill / overlapped planning /
// conservative or optimistic admission. After every step the router's invariants hold
// (free + used == total, ownership sums, no double ownership); at the end nothing leaks and
// every request that was not cut short equals its uninterrupted run.
#include <random>

#include <gtest/gtest.h>

#include "engine/router_harness.h"

namespace lightllm::engine::testing {
namespace {

struct Case {
  bool cache;
  int64_t chunk;
  int inflight;
  bool optimistic;
  // Driven by the engine's StepLoop instead of the harness loop; overlap: the fake runner
  // starts step N+1 before step N finishes.
  bool step_loop = false;
  bool overlap = false;
};

void run_case(const Case& k, uint64_t seed, uint64_t* pauses) {
  router::RouterConfig c;
  c.max_total_tokens = 240;
  c.running_max_req_size = 12;
  c.max_req_total_len = 120;
  c.batch_max_tokens = 64;
  c.chunked_prefill_size = k.chunk;
  c.enable_prefix_cache = k.cache;
  c.max_inflight_steps = k.inflight;
  if (k.optimistic) {
    c.router_token_ratio = 0.9;
    c.router_max_new_token_len = 3;
  }
  Harness h(c);
  h.runner.set_overlap(k.overlap);
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 4; ++i)
    prefixes.push_back(random_prompt(rng, 10 + static_cast<int>(rng() % 30), Harness::kVocab));

  struct Sub {
    std::vector<int32_t> prompt;
    SamplingParams params;
  };
  std::map<uint64_t, Sub> subs;
  std::map<uint64_t, bool> cut;  // aborted or finished early by "the detokenizer"
  uint64_t next_id = 1;
  const uint64_t total = 90;
  auto submit_some = [&](Harness& hh) {
    const int n = static_cast<int>(rng() % 3);
    for (int i = 0; i < n && next_id <= total; ++i) {
      std::vector<int32_t> prompt;
      if (rng() % 2) prompt = prefixes[rng() % prefixes.size()];
      const int extra = 1 + static_cast<int>(rng() % (k.chunk > 0 ? 50 : 20));
      const auto tail = random_prompt(rng, extra, Harness::kVocab);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      const uint64_t room = std::min<uint64_t>(40, 120 - prompt.size());
      SamplingParams p = greedy(1 + static_cast<int>(rng() % room), rng() % 2 == 0);
      if (rng() % 3 == 0) {
        p.do_sample = true;
        p.temperature = 0.7f;
        p.top_p = 0.9f;
        p.seed = rng();
      }
      if (rng() % 4 == 0) p.min_new_tokens = std::min(p.max_new_tokens, 3);
      const uint64_t id = next_id++;
      subs[id] = {prompt, p};
      hh.submit(id, prompt, p);
    }
  };
  submit_some(h);
  if (subs.empty()) {
    submit_some(h);
  }
  h.after_commit = [&](Harness& hh) {
    submit_some(hh);
    if (rng() % 7 == 0 && next_id > 1) {
      const uint64_t id = 1 + rng() % (next_id - 1);
      if (hh.final_events[id] == 0) {
        cut[id] = true;
        if (rng() % 2)
          hh.router.abort(id);
        else
          hh.router.finish(id);
      }
    }
  };
  // Keep feeding until all were submitted: the harness stops when idle, so loop.
  while (true) {
    if (k.step_loop) {
      ASSERT_NO_FATAL_FAILURE(h.run_loop());
    } else {
      ASSERT_NO_FATAL_FAILURE(h.run());
    }
    if (next_id > total) break;
    submit_some(h);
  }
  for (const auto& [id, s] : subs) {
    EXPECT_EQ(h.final_events[id], 1) << id;
    const auto ref = reference_generate(s.prompt, s.params, {Harness::kEos}, Harness::kVocab);
    if (cut[id]) {
      ASSERT_LE(h.out[id].size(), ref.tokens.size()) << id;
      EXPECT_TRUE(std::equal(h.out[id].begin(), h.out[id].end(), ref.tokens.begin())) << id;
    } else {
      EXPECT_EQ(h.out[id], ref.tokens) << id;
      EXPECT_EQ(h.reason[id], ref.reason) << id;
    }
  }
  h.expect_idle_clean();
  *pauses += h.router.stats().pauses;
  if (!k.optimistic) {
    EXPECT_EQ(h.router.stats().pauses, 0u);
  }
}

TEST(RouterRandom, InvariantsHoldUnderEveryConfiguration) {
  uint64_t optimistic_pauses = 0, conservative_pauses = 0;
  for (bool cache : {false, true}) {
    for (int64_t chunk : {0, 7}) {
      for (int inflight : {1, 2}) {
        for (bool optimistic : {false, true}) {
          for (uint64_t seed : {1, 2}) {
            SCOPED_TRACE(::testing::Message()
                         << "cache " << cache << " chunk " << chunk << " inflight " << inflight
                         << " optimistic " << optimistic << " seed " << seed);
            ASSERT_NO_FATAL_FAILURE(
                run_case({cache, chunk, inflight, optimistic}, seed,
                         optimistic ? &optimistic_pauses : &conservative_pauses));
          }
        }
      }
    }
  }
  EXPECT_GT(optimistic_pauses, 0u);  // the pause / resume path was exercised
  EXPECT_EQ(conservative_pauses, 0u);
}

// The same through the engine's StepLoop, planning one step ahead, with and without starting
// the next step before the previous one finishes (the CUDA runner's overlap).
TEST(RouterRandom, StepLoopWithAndWithoutOverlap) {
  uint64_t pauses = 0;
  for (bool overlap : {false, true}) {
    for (bool cache : {false, true}) {
      for (int64_t chunk : {0, 7}) {
        for (bool optimistic : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "overlap " << overlap << " cache " << cache
                                            << " chunk " << chunk << " optimistic " << optimistic);
          ASSERT_NO_FATAL_FAILURE(run_case({cache, chunk, 2, optimistic, true, overlap},
                                           /*seed=*/3, &pauses));
        }
      }
    }
  }
}

}  // namespace
}  // namespace lightllm::engine::testing
