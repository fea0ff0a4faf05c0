// src/engine/runner/rank_workers.cpp — see rank_workers.h.
#include "engine/runner/rank_workers.h"

namespace lightllm::engine {

RankWorkers::RankWorkers(int n) : results_(static_cast<size_t>(n)) {
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i); });
}

RankWorkers::~RankWorkers() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

core::Status RankWorkers::run(const Job& job) {
  std::unique_lock lock(mu_);
  job_ = &job;
  pending_ = size();
  ++generation_;
  start_cv_.notify_all();
  done_cv_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
  for (core::Status& st : results_)
    if (!st.ok()) {
      core::Status first = st;
      for (core::Status& s : results_) s = {};
      return first;
    }
  return {};
}

void RankWorkers::loop(int i) {
  uint64_t seen = 0;
  for (;;) {
    const Job* job = nullptr;
    {
      std::unique_lock lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (generation_ == seen) return;  // stop_ with no job pending
      seen = generation_;
      job = job_;
    }
    core::Status st = (*job)(i);
    {
      std::lock_guard lock(mu_);
      results_[static_cast<size_t>(i)] = std::move(st);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

}  // namespace lightllm::engine
