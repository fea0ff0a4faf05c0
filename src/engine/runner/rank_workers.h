// src/engine/runner/rank_workers.h — one long-lived thread per local tensor-parallel rank.
// run(fn) hands fn(i) to worker i for every i at once and returns when all have finished:
// the first non-ok Status in rank order, else ok. Per-thread state (the CUDA device and the
// op context of src/ops) therefore stays with its rank for the whole run. The caller's thread
// only dispatches and waits; run() is not reentrant (one caller at a time).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace lightllm::engine {

class RankWorkers {
 public:
  using Job = std::function<core::Status(int local_rank)>;

  explicit RankWorkers(int n);
  ~RankWorkers();  // joins (after the current run, if any)
  RankWorkers(const RankWorkers&) = delete;
  RankWorkers& operator=(const RankWorkers&) = delete;

  core::Status run(const Job& job);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void loop(int i);

  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t generation_ = 0;  // bumped per run
  int pending_ = 0;          // workers still running the current job
  bool stop_ = false;
  const Job* job_ = nullptr;
  std::vector<core::Status> results_;
  std::vector<std::thread> threads_;
};

}  // namespace lightllm::engine
