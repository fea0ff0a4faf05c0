// src/engine/step_loop.cpp — see step_loop.h.
#include "engine/step_loop.h"

#include <algorithm>
#include <utility>

#include "core/log.h"

namespace lightllm::engine {

void DeviceIdle::add(double idle_us, const StepPlan& step) {
  total_us += idle_us;
  ++steps;
  if (steps > 1 && idle_us <= max_us) return;
  max_us = idle_us;
  max_step = step.step_id;
  max_prefill_tokens = step.n_prefill_tokens;
  max_decode_tokens = step.n_decode_tokens;
}

StepLoop::Clock::duration StepLoop::turn() {
  Clock::duration step_time{};
  if (started_.empty()) {
    if (!router_.has_work()) return step_time;
    core::Result<StepPlan> plan = router_.plan();
    if (!plan.ok()) {
      fail(plan.status(), std::nullopt);
      return step_time;
    }
    if (plan->empty()) return step_time;
    if (core::Status st = start(std::move(plan).value(), step_time); !st.ok()) return step_time;
  }

  // Plan the next step while this one runs; start it now when the executor can.
  std::optional<StepPlan> next;
  if (router_.config().max_inflight_steps > 1 && router_.has_work()) {
    core::Result<StepPlan> plan = router_.plan();
    if (!plan.ok()) {
      fail(plan.status(), std::nullopt);
      return step_time;
    }
    if (!plan->empty()) {
      next = std::move(plan).value();
      next->back_to_back = true;
    }
  }
  if (next && executor_.can_start_before_finish(*next)) {
    StepPlan p = std::move(*next);
    next.reset();
    if (core::Status st = start(std::move(p), step_time); !st.ok()) return step_time;
  }

  const Clock::time_point t0 = Clock::now();
  core::Result<StepResult> result = executor_.finish(started_.front());
  step_time += Clock::now() - t0;
  if (!result.ok()) {
    fail(result.status(), std::move(next));
    return step_time;
  }
  if (result->device_idle_us >= 0.0) idle_.add(result->device_idle_us, started_.front());
  const core::Status committed = router_.commit(*result);  // retires the plan even on failure
  started_.pop_front();
  if (!committed.ok()) {
    fail(committed, std::move(next));
    return step_time;
  }
  if (next) {
    if (core::Status st = start(std::move(*next), step_time); !st.ok()) return step_time;
  }
  return step_time;
}

core::Status StepLoop::start(StepPlan plan, Clock::duration& step_time) {
  const Clock::time_point t0 = Clock::now();
  core::Status st = executor_.start(plan);
  step_time += Clock::now() - t0;
  if (!st.ok()) {
    fail(st, std::move(plan));
    return st;
  }
  started_.push_back(std::move(plan));
  return {};
}

void StepLoop::fail(const core::Status& st, std::optional<StepPlan> unstarted) {
  on_failure_(st);
  while (!started_.empty()) {
    // Waits for the device to be done with the plan; its result no longer matters.
    core::Result<StepResult> drained = executor_.finish(started_.front());
    (void)drained;
    abandon(started_.front());
    started_.pop_front();
  }
  if (unstarted) abandon(*unstarted);
}

void StepLoop::abandon(const StepPlan& plan) {
  // Every sequence of the plan is aborted by now: commit the plan with placeholder samples
  // (ignored for finished sequences) so the router releases its slots.
  StepResult r;
  r.step_id = plan.step_id;
  for (const StepEntry& e : plan.entries)
    if (e.sample) r.sampled.push_back({.seq_id = e.seq_id, .token = 0});
  const core::Status st = router_.commit(r);
  if (!st.ok()) LLM_ERROR("releasing failed step {}: {}", plan.step_id, st.to_string());
}

}  // namespace lightllm::engine
