// tests/engine/router_harness.h — drives a Router with the FakeRunner, step by step, checking
// the router's invariants after every commit and collecting every sequence's events.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/fake_runner.h"
#include "engine/router/router.h"
#include "engine/step_loop.h"

namespace lightllm::engine::testing {

inline SamplingParams greedy(int max_new, bool ignore_eos = false) {
  SamplingParams p;
  p.max_new_tokens = max_new;
  p.ignore_eos = ignore_eos;
  return p;
}

inline std::vector<int32_t> random_prompt(std::mt19937_64& rng, int len, int32_t vocab) {
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = 1 + static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab - 1));
  return p;
}

struct Harness {
  static constexpr int32_t kVocab = 64;
  static constexpr int32_t kEos = 0;

  explicit Harness(router::RouterConfig cfg)
      : router([&] {
          if (cfg.eos_token_ids.empty()) cfg.eos_token_ids = {kEos};
          return cfg;
        }()),
        runner(cfg.max_total_tokens, kVocab) {}

  router::Router router;
  FakeRunner runner;
  std::map<uint64_t, std::vector<int32_t>> out;
  std::map<uint64_t, FinishReason> reason;
  std::map<uint64_t, int> final_events;
  std::map<uint64_t, int64_t> cached_prompt;
  std::vector<uint64_t> first_scheduled;  // seq ids in order of their first appearance in a plan
  std::map<uint64_t, bool> seen;
  int64_t max_used = 0;
  int64_t max_prefill_per_step = 0;
  int steps = 0;
  std::function<void(Harness&)> after_commit;  // hook: aborts etc.

  void submit(uint64_t id, std::vector<int32_t> prompt, SamplingParams p, uint64_t group = 0,
              int index = 0, int group_size = 1) {
    router::SequenceSpec s;
    s.seq_id = id;
    s.group_id = group;
    s.index = index;
    s.group_size = group_size;
    s.prompt = std::move(prompt);
    s.params = p;
    const core::Status st = router.submit(std::move(s));
    ASSERT_TRUE(st.ok()) << st.to_string();
  }

  void collect() {
    for (const router::SeqEvent& ev : router.take_events()) {
      ASSERT_EQ(final_events[ev.seq_id], 0) << "event after the final one, seq " << ev.seq_id;
      if (ev.has_token) out[ev.seq_id].push_back(ev.token.token);
      if (ev.finished) {
        ++final_events[ev.seq_id];
        reason[ev.seq_id] = ev.reason;
        cached_prompt[ev.seq_id] = ev.cached_prompt_tokens;
      }
    }
  }

  void check() {
    const core::Status st = router.check_invariants();
    ASSERT_TRUE(st.ok()) << st.to_string();
    const auto& pool = router.pool();
    ASSERT_EQ(pool.free_count() + pool.used_count(), pool.capacity());
    max_used = std::max(max_used, pool.used_count());
  }

  // Runs until the router is idle. Keeps up to max_inflight_steps plans outstanding (plan N+1
  // before executing N), like the engine loop would.
  void run(int max_steps = 200000) {
    std::deque<StepPlan> q;
    const size_t depth = static_cast<size_t>(router.config().max_inflight_steps);
    while (steps < max_steps) {
      while (q.size() < depth) {
        auto plan = router.plan();
        ASSERT_TRUE(plan.ok()) << plan.status().to_string();
        if (plan->empty()) break;
        max_prefill_per_step = std::max(max_prefill_per_step, plan->n_prefill_tokens);
        for (const StepEntry& e : plan->entries) {
          if (!seen[e.seq_id]) {
            seen[e.seq_id] = true;
            first_scheduled.push_back(e.seq_id);
          }
        }
        q.push_back(std::move(plan).value());
        ASSERT_NO_FATAL_FAILURE(check());
      }
      if (q.empty()) {
        ASSERT_TRUE(router.idle()) << "router has work but planned nothing";
        return;
      }
      auto res = runner.execute(q.front());
      ASSERT_TRUE(res.ok()) << res.status().to_string();
      q.pop_front();
      const core::Status st = router.commit(*res);
      ASSERT_TRUE(st.ok()) << st.to_string();
      ++steps;
      ASSERT_NO_FATAL_FAILURE(collect());
      ASSERT_NO_FATAL_FAILURE(check());
      if (after_commit) after_commit(*this);
      ASSERT_NO_FATAL_FAILURE(collect());
    }
    FAIL() << "did not finish in " << max_steps << " steps";
  }

  // Runs until the router is idle through the engine's StepLoop (plan / start / finish /
  // commit; with runner.set_overlap(true) the next step starts before the previous one
  // finishes), checking the invariants and calling after_commit after every turn.
  void run_loop(int max_turns = 200000) {
    StepLoop loop(router, runner, [](const core::Status& st) {
      ADD_FAILURE() << "step failed: " << st.to_string();
    });
    for (int t = 0; t < max_turns; ++t) {
      if (!loop.busy() && !router.has_work()) {
        ASSERT_TRUE(router.idle()) << "router has work but planned nothing";
        return;
      }
      loop.turn();
      ++steps;
      ASSERT_NO_FATAL_FAILURE(collect());
      ASSERT_NO_FATAL_FAILURE(check());
      if (after_commit) after_commit(*this);
      ASSERT_NO_FATAL_FAILURE(collect());
    }
    FAIL() << "did not finish in " << max_turns << " turns";
  }

  // Idle: nothing but the prefix cache may hold slots, and no request rows are used.
  void expect_idle_clean() {
    const auto& pool = router.pool();
    const int64_t cached = router.prefix_cache() ? router.prefix_cache()->size() : 0;
    EXPECT_TRUE(router.idle());
    EXPECT_EQ(pool.free_count(), pool.capacity() - cached);
    EXPECT_EQ(router.req_to_token().used_rows(), 0);
    if (router.prefix_cache()) {
      EXPECT_EQ(router.prefix_cache()->protected_size(), 0);
    }
  }

  void expect_matches_reference(uint64_t id, const std::vector<int32_t>& prompt,
                                const SamplingParams& p, int index = 0) {
    const ReferenceOutput ref = reference_generate(prompt, p, {kEos}, kVocab, index);
    EXPECT_EQ(out[id], ref.tokens) << "seq " << id;
    EXPECT_EQ(reason[id], ref.reason) << "seq " << id;
    EXPECT_EQ(final_events[id], 1) << "seq " << id;
  }
};

}  // namespace lightllm::engine::testing
