// tests/engine/engine_harness.h — drives the public Engine API (include/lightllm/engine.h) for
// the engine tests: submit many requests at once, collect every completion's tokens, text and
// final event, wait for all of them (with a deadline, so a lost request fails instead of
// hanging), and wait for the KV pool to drain.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lightllm/engine.h"

namespace lightllm::test_util {

inline const std::string kGoldenModels = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models";
inline const std::string kBundledModel =
    std::string(LIGHTLLM_SOURCE_DIR) + "/models/lightllm-tiny-en";

// One completion (one index of one request) as the stream delivered it.
struct Completion {
  std::vector<int32_t> ids;
  std::vector<std::vector<TopLogprob>> top;  // per token, when the request asked top_logprobs
  std::string text;
  bool finished = false;
  int finished_events = 0;  // must end up exactly 1
  FinishReason reason = FinishReason::none;
  std::string error;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;
};

// Collects the events of many requests; thread-safe (callbacks come from the output thread).
class Collector {
 public:
  // Submits; returns the request id (0 and *error on rejection).
  uint64_t submit(Engine& engine, GenerateRequest req, std::string* error = nullptr) {
    auto slot = std::make_shared<std::vector<Completion>>(static_cast<size_t>(req.params.n));
    std::string err;
    {
      std::lock_guard lock(mu_);
      ++pending_submits_;
    }
    const int n = req.params.n;
    const uint64_t id = engine.submit(
        std::move(req),
        [this, slot](const StreamEvent& ev) {
          std::lock_guard lock(mu_);
          Completion& c = (*slot)[static_cast<size_t>(ev.index)];
          for (const auto& t : ev.tokens) {
            c.ids.push_back(t.id);
            c.top.push_back(t.top_logprobs);
          }
          c.text += ev.text;
          c.prompt_tokens = ev.prompt_tokens;
          c.completion_tokens = ev.completion_tokens;
          c.cached_prompt_tokens = std::max(c.cached_prompt_tokens, ev.cached_prompt_tokens);
          if (ev.finished) {
            c.finished = true;
            ++c.finished_events;
            c.reason = ev.finish_reason;
            c.error = ev.error;
            ++finished_;
          }
          cv_.notify_all();
        },
        &err);
    std::lock_guard lock(mu_);
    --pending_submits_;
    if (error) *error = err;
    if (id == 0) return 0;
    results_[id] = slot;
    expected_ += n;
    return id;
  }

  // Waits until every submitted completion has finished; false on timeout.
  bool wait_all(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout,
                        [&] { return pending_submits_ == 0 && finished_ >= expected_; });
  }

  std::vector<Completion> result(uint64_t id) const {
    std::lock_guard lock(mu_);
    return *results_.at(id);
  }
  const Completion first(uint64_t id) const { return result(id).at(0); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::shared_ptr<std::vector<Completion>>> results_;
  int expected_ = 0;
  int finished_ = 0;
  int pending_submits_ = 0;
};

// Creates an engine or fails the test.
inline std::unique_ptr<Engine> make_engine(EngineConfig cfg) {
  if (cfg.max_total_token_num == 0) cfg.max_total_token_num = 4096;
  if (cfg.cpu_threads == 0) cfg.cpu_threads = 2;
  std::string error;
  auto engine = Engine::create(cfg, &error);
  EXPECT_NE(engine, nullptr) << error;
  return engine;
}

// Runs every request at once and returns completion 0 of each, in order.
inline std::vector<Completion> run_batch(Engine& engine, const std::vector<GenerateRequest>& reqs) {
  Collector col;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs) {
    std::string err;
    ids.push_back(col.submit(engine, r, &err));
    EXPECT_NE(ids.back(), 0u) << err;
  }
  EXPECT_TRUE(col.wait_all()) << "requests did not finish in time";
  std::vector<Completion> out;
  for (uint64_t id : ids) out.push_back(id ? col.first(id) : Completion{});
  return out;
}

// Runs each request alone (the next one is submitted when the previous one has finished).
inline std::vector<Completion> run_one_by_one(Engine& engine,
                                              const std::vector<GenerateRequest>& reqs) {
  std::vector<Completion> out;
  for (const auto& r : reqs) out.push_back(run_batch(engine, {r}).at(0));
  return out;
}

// The engine's stats once the router has released everything (kv_used == 0, nothing running
// or waiting), or the last stats seen after `timeout`.
inline EngineStats wait_idle(Engine& engine,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  EngineStats s = engine.stats();
  while (std::chrono::steady_clock::now() < deadline) {
    s = engine.stats();
    if (s.kv_used == 0 && s.running == 0 && s.waiting == 0) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return s;
}

// `n` greedy requests over a vocab of `vocab` ids, prompt lengths in [1, max_prompt] and
// max_new_tokens in [1, max_new], reproducible from `seed`.
inline std::vector<GenerateRequest> random_requests(int n, int64_t vocab, int max_prompt,
                                                    int max_new, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerateRequest r;
    const int len = std::uniform_int_distribution<int>(1, max_prompt)(rng);
    for (int t = 0; t < len; ++t)
      r.prompt_ids.push_back(
          std::uniform_int_distribution<int32_t>(3, static_cast<int32_t>(vocab - 1))(rng));
    r.params.do_sample = false;
    r.params.max_new_tokens = std::uniform_int_distribution<int>(1, max_new)(rng);
    r.params.ignore_eos = i % 2 == 0;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

}  // namespace lightllm::test_util
