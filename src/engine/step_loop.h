// src/engine/step_loop.h — the router thread's step cycle: plan, start, finish, commit, with
// the device kept busy between steps (DESIGN.md §2). One turn:
//
//   start a plan when none is running
//   plan step N+1 while step N runs (max_inflight_steps = 2), and start it at once when the
//     executor can run it before N finishes (StepExecutor::can_start_before_finish: its pending
//     tokens then come from N on the device, and the device goes from N to N+1 without idling)
//   finish N and commit it; start N+1 now if it was not started before
//
// Steps finish and commit in plan order; at most two are started and not finished. A failure
// (plan, start, finish or commit) is reported once to `on_failure`, which must abort every
// running sequence (the engine's fail_running); then every plan of the loop is drained from
// the executor and abandoned (committed with placeholder samples, so the router releases its
// slots) and the loop is empty again. Not thread-safe: the router thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "core/status.h"
#include "engine/router/router.h"
#include "engine/step.h"
#include "lightllm/engine.h"

namespace lightllm::engine {

// Device time between back-to-back steps, as the executor measured it (StepResult).
struct DeviceIdle : DeviceIdleStats {
  void add(double idle_us, const StepPlan& step);
};

class StepLoop {
 public:
  using FailureHandler = std::function<void(const core::Status&)>;
  using Clock = std::chrono::steady_clock;

  StepLoop(router::Router& router, StepExecutor& executor, FailureHandler on_failure)
      : router_(router), executor_(executor), on_failure_(std::move(on_failure)) {}

  // One turn (see the file comment); a no-op when nothing runs and the router has no work.
  // Returns the time spent in the executor (start + finish).
  Clock::duration turn();
  // True while a started step is not finished.
  bool busy() const { return !started_.empty(); }
  const DeviceIdle& device_idle() const { return idle_; }

 private:
  core::Status start(StepPlan plan, Clock::duration& step_time);
  // on_failure(st), then every started plan finished (results ignored) and abandoned in plan
  // order, then `unstarted` abandoned.
  void fail(const core::Status& st, std::optional<StepPlan> unstarted);
  void abandon(const StepPlan& plan);

  router::Router& router_;
  StepExecutor& executor_;
  FailureHandler on_failure_;
  std::deque<StepPlan> started_;  // oldest first, at most 2
  DeviceIdle idle_;
};

}  // namespace lightllm::engine
