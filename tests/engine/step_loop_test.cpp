// tests/engine/step_loop_test.cpp — the router thread's step cycle (engine/step_loop.h) over the
// fake runner: with overlap the next step starts before the previous one finishes and the
// outputs still equal the uninterrupted runs; a failing step is reported once, the started
// steps are drained and every slot comes back.
#include <gtest/gtest.h>

#include "engine/router_harness.h"
#include "engine/step_loop.h"

namespace lightllm::engine::testing {
namespace {

router::RouterConfig small_config() {
  router::RouterConfig c;
  c.max_total_tokens = 200;
  c.running_max_req_size = 8;
  c.max_req_total_len = 100;
  c.batch_max_tokens = 48;
  c.max_inflight_steps = 2;
  return c;
}

TEST(StepLoop, OverlapStartsTheNextStepBeforeTheLastOneFinishes) {
  for (bool overlap : {false, true}) {
    SCOPED_TRACE(overlap ? "overlap" : "plan ahead only");
    Harness h(small_config());
    h.runner.set_overlap(overlap);
    std::mt19937_64 rng(11);
    std::map<uint64_t, std::pair<std::vector<int32_t>, SamplingParams>> subs;
    for (uint64_t id = 1; id <= 6; ++id) {
      SamplingParams p = greedy(5 + static_cast<int>(id) * 3, id % 2 == 0);
      if (id % 3 == 0) {
        p.do_sample = true;
        p.temperature = 0.8f;
        p.seed = id;
      }
      subs[id] = {random_prompt(rng, 4 + static_cast<int>(id), Harness::kVocab), p};
      h.submit(id, subs[id].first, p);
    }
    ASSERT_NO_FATAL_FAILURE(h.run_loop());
    for (const auto& [id, s] : subs) h.expect_matches_reference(id, s.first, s.second);
    h.expect_idle_clean();
    EXPECT_EQ(h.runner.max_started(), overlap ? 2 : 0);
  }
}

// Fails finish() of one step; everything else is the fake runner.
class FailingRunner final : public StepExecutor {
 public:
  FailingRunner(FakeRunner& inner, uint64_t fail_step) : inner_(inner), fail_step_(fail_step) {}
  core::Result<StepResult> execute(const StepPlan& plan) override { return inner_.execute(plan); }
  core::Status start(const StepPlan& plan) override { return inner_.start(plan); }
  core::Result<StepResult> finish(const StepPlan& plan) override {
    core::Result<StepResult> r = inner_.finish(plan);
    if (plan.step_id == fail_step_ && !failed_) {
      failed_ = true;
      return core::internal_error("injected failure of step {}", plan.step_id);
    }
    return r;
  }
  bool can_start_before_finish(const StepPlan& next) const override {
    return inner_.can_start_before_finish(next);
  }

 private:
  FakeRunner& inner_;
  uint64_t fail_step_;
  bool failed_ = false;
};

TEST(StepLoop, AFailedStepIsReportedOnceAndEverySlotComesBack) {
  for (bool overlap : {false, true}) {
    SCOPED_TRACE(overlap ? "overlap" : "plan ahead only");
    Harness h(small_config());
    h.runner.set_overlap(overlap);
    std::mt19937_64 rng(5);
    for (uint64_t id = 1; id <= 4; ++id)
      h.submit(id, random_prompt(rng, 6, Harness::kVocab), greedy(20, true));
    FailingRunner runner(h.runner, /*fail_step=*/4);
    int failures = 0;
    StepLoop loop(h.router, runner, [&](const core::Status& st) {
      ++failures;
      EXPECT_NE(st.message().find("injected"), std::string::npos) << st.to_string();
      for (uint64_t id = 1; id <= 4; ++id) h.router.abort(id);  // as the engine's fail_running
    });
    for (int t = 0; t < 1000 && (loop.busy() || h.router.has_work()); ++t) {
      loop.turn();
      ASSERT_NO_FATAL_FAILURE(h.collect());
      ASSERT_NO_FATAL_FAILURE(h.check());
    }
    EXPECT_EQ(failures, 1);
    EXPECT_FALSE(loop.busy());
    for (uint64_t id = 1; id <= 4; ++id) {
      EXPECT_EQ(h.final_events[id], 1) << id;
      EXPECT_EQ(h.reason[id], FinishReason::abort) << id;
    }
    h.expect_idle_clean();
  }
}

// Reports a device idle time for every step: 1 us, except `slow_step`.
class IdleReportingRunner final : public StepExecutor {
 public:
  IdleReportingRunner(FakeRunner& inner, uint64_t slow_step) : inner_(inner), slow_(slow_step) {}
  core::Result<StepResult> execute(const StepPlan& plan) override { return inner_.execute(plan); }
  core::Status start(const StepPlan& plan) override { return inner_.start(plan); }
  core::Result<StepResult> finish(const StepPlan& plan) override {
    core::Result<StepResult> r = inner_.finish(plan);
    if (!r.ok()) return r;
    r->device_idle_us = plan.step_id == slow_ ? 500.0 : 1.0;
    if (plan.step_id == slow_) slow_plan_ = plan;
    ++finished_;
    return r;
  }
  bool can_start_before_finish(const StepPlan& next) const override {
    return inner_.can_start_before_finish(next);
  }
  const StepPlan& slow_plan() const { return slow_plan_; }
  uint64_t finished() const { return finished_; }

 private:
  FakeRunner& inner_;
  uint64_t slow_;
  StepPlan slow_plan_;
  uint64_t finished_ = 0;
};

TEST(StepLoop, DeviceIdleNamesTheStepThatWaitedLongest) {
  Harness h(small_config());
  h.runner.set_overlap(true);
  std::mt19937_64 rng(3);
  for (uint64_t id = 1; id <= 5; ++id)
    h.submit(id, random_prompt(rng, 9, Harness::kVocab), greedy(12, false));
  IdleReportingRunner runner(h.runner, /*slow_step=*/4);
  StepLoop loop(h.router, runner, [](const core::Status& st) { FAIL() << st.to_string(); });
  for (int t = 0; t < 1000 && (loop.busy() || h.router.has_work()); ++t) {
    loop.turn();
    ASSERT_NO_FATAL_FAILURE(h.collect());
  }
  const DeviceIdle& idle = loop.device_idle();
  ASSERT_GT(runner.finished(), 4u);
  EXPECT_EQ(idle.steps, runner.finished());
  EXPECT_DOUBLE_EQ(idle.total_us, 500.0 + static_cast<double>(runner.finished() - 1));
  EXPECT_DOUBLE_EQ(idle.max_us, 500.0);
  EXPECT_EQ(idle.max_step, 4u);
  EXPECT_EQ(idle.max_prefill_tokens, runner.slow_plan().n_prefill_tokens);
  EXPECT_EQ(idle.max_decode_tokens, runner.slow_plan().n_decode_tokens);
  EXPECT_EQ(idle.max_prefill_tokens + idle.max_decode_tokens, runner.slow_plan().n_tokens());
}

}  // namespace
}  // namespace lightllm::engine::testing
