// src/engine/runner/tp_runner.h — tensor-parallel execution (DESIGN.md §2, §5): one worker
// thread per local rank (RankWorkers), each with its device, communicator, model shard and
// KV pool; every step runs on all ranks with the same StepBatch and rank 0's logits are
// sampled. Multi-node: node 0 (TpRunner) also sends each step to the other nodes
// (run_tp_follower in tp_follower.cpp) over the TCP links of the rendezvous (step_wire.h).
//
// Invariants:
// - Everything a rank does (load, KV allocation, forward) runs on its own worker thread, so
//   its CUDA device and per-device op state never change.
// - Every rank of every node runs the same steps in the same order (the collectives inside
//   the forward pair up); a failed step leaves the group unusable (NCCL may hang).
// - The KV pool of every rank has the same capacity: the minimum any rank can hold, agreed
//   before anything is allocated.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "dist/communicator.h"
#include "dist/tcp_channel.h"
#include "engine/runner/rank_workers.h"
#include "engine/sampling/sampler.h"
#include "engine/step.h"
#include "lightllm/engine.h"
#include "models/model.h"
#include "models/step_batch_builder.h"

namespace lightllm::engine {

// Makes the communicator of global rank `rank` (called on that rank's thread, its device set).
using CommFactory =
    std::function<core::Result<std::unique_ptr<dist::Communicator>>(int global_rank)>;

struct TpSetup {
  std::string model_dir;
  core::Device device = core::Device::cuda;
  int tp = 1;
  int first_rank = 0;   // global rank of local rank 0 (node_rank * local ranks)
  int local_ranks = 1;  // ranks (GPUs) in this process; local rank i uses CUDA device i
  CommFactory make_comm;
};

// The ranks of this process.
class TpGroup {
 public:
  static core::Result<std::unique_ptr<TpGroup>> create(TpSetup setup);

  int local_ranks() const { return static_cast<int>(ranks_.size()); }
  // Local rank 0's shard (its shape reports the per-rank heads).
  const models::Model& model() const { return *ranks_.front().model; }
  // The least free device memory over the local ranks, after the weights (0 on the CPU).
  core::Result<int64_t> min_free_memory();
  core::Status allocate_kv(int64_t capacity, core::DType dtype);
  // The step on every local rank; local rank 0's logits ([n_sampled, vocab] f32) after it.
  core::Status forward(const models::StepBatch& batch, int64_t n_sampled);
  const core::Tensor& logits() const { return logits_; }

 private:
  struct Rank {
    int global = 0;
    std::unique_ptr<dist::Communicator> comm;
    std::unique_ptr<models::Model> model;
    models::KvStorage kv;
    core::Tensor logits;  // [>= n_sampled, vocab] f32 host, grown on demand
  };
  explicit TpGroup(TpSetup setup);

  TpSetup setup_;
  std::vector<Rank> ranks_;
  RankWorkers workers_;
  core::Tensor logits_;  // view of local rank 0's rows of the last step
};

// Node 0's StepExecutor: resolves the plan, sends it to the other nodes, runs it on the local
// ranks, samples rank 0's logits. Sends `stop` to the other nodes when destroyed.
class TpRunner final : public StepExecutor {
 public:
  // `followers[n]`: node n's channel (element 0 unused); `req_to_token` must outlive this.
  TpRunner(std::unique_ptr<TpGroup> group, std::vector<dist::TcpChannel> followers,
           const kv::ReqToTokenTable& req_to_token);
  ~TpRunner() override;

  core::Result<StepResult> execute(const StepPlan& plan) override;

 private:
  std::unique_ptr<TpGroup> group_;
  std::vector<dist::TcpChannel> followers_;
  const kv::ReqToTokenTable& table_;
  models::StepBatchBuilder builder_;
  sampling::Sampler sampler_;
  std::vector<int32_t> input_ids_;
  std::vector<models::StepSegment> segments_;
};

// How a group makes its communicators: node 0 makes an id and sends it to the other nodes;
// every node builds its ranks' factory from it. nccl_backend() in the engine; tests plug in
// host communicators.
struct CommBackend {
  std::function<core::Result<std::vector<uint8_t>>()> new_id;
  std::function<core::Result<CommFactory>(int tp, const std::vector<uint8_t>& id)> factory;
};
CommBackend nccl_backend();

// Node 0's start-up before the KV pool can be sized: the rendezvous with the other nodes
// (nnodes > 1), the communicator id, the local ranks with their shards (on config.device).
struct TpLeader {
  std::unique_ptr<TpGroup> group;
  std::vector<dist::TcpChannel> followers;
};
core::Result<TpLeader> start_tp_leader(const EngineConfig& config,
                                       const CommBackend& backend = nccl_backend());
// The least free device memory over every rank of every node.
core::Result<int64_t> tp_min_free_memory(TpLeader& leader);
// Allocates every rank's KV pool (the other nodes' too) and tells the other nodes the
// req_to_token dimensions; returns when every node is ready.
core::Status tp_allocate_kv(TpLeader& leader, int64_t capacity, core::DType dtype,
                            const kv::ReqToTokenTable& req_to_token);

// Start-up replies of the other nodes: ok + a value, or the error text.
std::vector<uint8_t> encode_reply(const core::Status& st, int64_t value);
core::Result<int64_t> decode_reply(std::span<const uint8_t> bytes, int node);
// Node 0 -> the others: the KV pool they allocate and the req_to_token dimensions.
struct KvPlan {
  int64_t capacity = 0;
  int32_t dtype = 0;  // core::DType
  int32_t max_reqs = 0;
  int64_t max_len = 0;
};

// A node other than node 0 (tp_follower.cpp): the start-up replies to node 0, then every step
// it sends until `stop`. `observer` (tests) sees local rank 0's logits after each step.
using StepObserver = std::function<void(uint64_t step_id, const core::Tensor& logits)>;
core::Status follow_tp_leader(const EngineConfig& config, const CommBackend& backend,
                              const StepObserver& observer = {});

// The communicator factory of a CUDA group: NCCL with `id` (unimplemented without NCCL).
core::Result<CommFactory> nccl_comm_factory(int tp, const std::vector<uint8_t>& unique_id);
// A fresh NCCL unique id as bytes (node 0).
core::Result<std::vector<uint8_t>> new_nccl_id();

}  // namespace lightllm::engine
