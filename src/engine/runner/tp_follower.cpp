// src/engine/runner/tp_follower.cpp — a node other than node 0 of a multi-node
// tensor-parallel group (lightllm::run_tp_follower, see engine.h). It mirrors node 0's
// start-up (tp_runner.cpp) message for message:
//   join the rendezvous -> receive the NCCL unique id -> load the local shards -> send the
//   least free device memory -> receive the KV plan, allocate, reply -> run each step
//   received (step_wire.h) until `stop`.
// It keeps a mirror of node 0's req_to_token table, updated from each step's rows.
#include "core/log.h"
#include "engine/runner/step_wire.h"
#include "engine/runner/tp_config.h"
#include "engine/runner/tp_runner.h"
#include "models/loader/weight_store.h"
#include "ops/ops.h"

namespace lightllm {

namespace engine {
namespace {

constexpr dist::Millis kJoinTimeout{300'000};

// Runs the steps node 0 sends until `stop`.
core::Status follow_steps(dist::TcpChannel& leader, TpGroup& group, const KvPlan& plan,
                          const StepObserver& observer) {
  std::vector<int32_t> mirror(static_cast<size_t>(plan.max_reqs) *
                              static_cast<size_t>(plan.max_len));
  models::StepBatchBuilder builder(mirror.data(), plan.max_len);
  for (;;) {
    LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> msg, leader.recv());
    LLM_ASSIGN_OR_RETURN(WireStep step, decode_step(msg));
    if (step.kind == WireKind::stop) return {};
    LLM_RETURN_IF_ERROR(apply_rows(step, mirror, plan.max_reqs, plan.max_len));
    const std::vector<models::StepSegment> segments = step.step_segments();
    int64_t n_sampled = 0;
    for (const models::StepSegment& s : segments) n_sampled += s.wants_logits ? 1 : 0;
    const core::Status st = group.forward(builder.build(segments), n_sampled);
    if (!st.ok()) return st.with_context(fmt::format("step {}", step.step_id));
    if (observer) observer(step.step_id, group.logits());
  }
}

}  // namespace

core::Status follow_tp_leader(const EngineConfig& config, const CommBackend& backend,
                              const StepObserver& observer) {
  if (config.node_rank <= 0 || config.node_rank >= config.nnodes)
    return core::invalid_argument("--node-rank {}: a follower is node 1 .. --nnodes - 1",
                                  config.node_rank);
  LLM_ASSIGN_OR_RETURN(loader::ModelFiles files, loader::open_model_folder(config.model_dir));
  LLM_RETURN_IF_ERROR(validate_tp_model(files.config, config.tp));
  const bool on_cuda = config.device == "cuda";
  if (on_cuda) LLM_RETURN_IF_ERROR(validate_tp_devices(config, ops::cuda_device_count()));

  LLM_INFO("node {} of {}: joining {}:{}", config.node_rank, config.nnodes, config.nccl_host,
           config.nccl_port);
  LLM_ASSIGN_OR_RETURN(dist::TcpChannel leader,
                       dist::join_rendezvous(config.nccl_host, config.nccl_port, config.node_rank,
                                             config.nnodes, kJoinTimeout));
  LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> id, leader.recv(kJoinTimeout));
  LLM_ASSIGN_OR_RETURN(CommFactory factory, backend.factory(config.tp, id));
  const int local = local_ranks(config);
  TpSetup setup{.model_dir = config.model_dir,
                .device = on_cuda ? core::Device::cuda : core::Device::cpu,
                .tp = config.tp,
                .first_rank = config.node_rank * local,
                .local_ranks = local,
                .make_comm = std::move(factory)};
  // From here every failure is also reported to node 0, which is waiting for this node.
  auto group = TpGroup::create(std::move(setup));
  core::Result<int64_t> free = group.ok() ? (*group)->min_free_memory() : group.status();
  LLM_RETURN_IF_ERROR(leader.send(encode_reply(free.status(), free.ok() ? *free : 0)));
  if (!free.ok()) return free.status();

  LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> kv_msg, leader.recv());
  dist::ByteReader r(kv_msg);
  KvPlan plan;
  LLM_RETURN_IF_ERROR(r.get(plan));
  if (plan.capacity <= 0 || plan.max_reqs <= 0 || plan.max_len <= 0)
    return core::data_loss("node 0 sent a KV plan of {} slots, {} x {} rows", plan.capacity,
                           plan.max_reqs, plan.max_len);
  const core::Status kv_st =
      (*group)->allocate_kv(plan.capacity, static_cast<core::DType>(plan.dtype));
  LLM_RETURN_IF_ERROR(leader.send(encode_reply(kv_st, plan.capacity)));
  LLM_RETURN_IF_ERROR(kv_st);
  LLM_INFO("node {}: {} ranks ready, KV pool of {} tokens per rank", config.node_rank, local,
           plan.capacity);
  return follow_steps(leader, **group, plan, observer);
}

}  // namespace engine

bool run_tp_follower(const EngineConfig& config, std::string* error) {
  core::Status st = engine::validate_tp_flags(config);
  if (st.ok() && config.node_rank == 0)
    st = core::invalid_argument("--node-rank 0 runs the server, not a follower");
  if (st.ok()) st = engine::follow_tp_leader(config, engine::nccl_backend());
  if (!st.ok() && error != nullptr) *error = st.to_string();
  return st.ok();
}

}  // namespace lightllm
