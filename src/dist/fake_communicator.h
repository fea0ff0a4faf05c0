// src/dist/fake_communicator.h — the in-process Communicator: the N ranks of one group are
// threads of one process working on host tensors (CPU tests of tensor parallelism).
//
// Every collective is a rendezvous of all ranks on the group's shared state: each rank posts
// its tensor, the last rank to arrive checks that every rank called the same collective with
// the same shape/dtype (and root), computes the result for everyone, then releases them.
// Invariants:
// - Deterministic: all_reduce_sum adds the ranks' values in rank order 0..N-1 in f32 and rounds
//   once to the tensor's dtype, so every rank gets bit-identical results on every run.
// - Never hangs: a rank waits at most `timeout` for its peers; a mismatch between ranks or a
//   timeout fails the collective with a Status on every rank that takes part, and the group is
//   then broken (every later collective fails at once).
// - Tensors must be contiguous host tensors of f32 / bf16 / f16 (i32 also for broadcast).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace lightllm::dist {

class FakeGroup;  // the shared rendezvous (fake_communicator.cpp)

class FakeCommunicator final : public Communicator {
 public:
  FakeCommunicator(std::shared_ptr<FakeGroup> group, int rank);

  int rank() const override { return rank_; }
  int world_size() const override;

  core::Status all_reduce_sum(core::Tensor& x) override;
  core::Status all_gather(const core::Tensor& x, core::Tensor& out) override;
  core::Status broadcast(core::Tensor& x, int root) override;

 private:
  std::shared_ptr<FakeGroup> group_;
  int rank_ = 0;
};

// The `world` communicators of one new group (rank i at index i). world >= 1.
std::vector<std::unique_ptr<FakeCommunicator>> make_fake_group(
    int world, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Runs fn(rank) on `world` threads at once (rank 0 on a thread too) and returns the first
// error in rank order (ok when every rank succeeded). For tests and tools.
core::Status run_ranks(int world, const std::function<core::Status(int rank)>& fn);

}  // namespace lightllm::dist
