// src/engine/runner/tp_runner.cpp — TpGroup, TpRunner and node 0's start-up (see tp_runner.h).
#include "engine/runner/tp_runner.h"

#include <algorithm>
#include <span>

#include "core/log.h"
#include "engine/runner/model_runner.h"
#include "engine/runner/step_wire.h"
#include "engine/runner/tp_config.h"
#include "ops/ops.h"

#if LIGHTLLM_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace lightllm::engine {

namespace {

constexpr dist::Millis kRendezvousTimeout{300'000};    // the other nodes may start minutes later
constexpr dist::Millis kStartupReplyTimeout{600'000};  // a node loading a large shard

}  // namespace

// --- TpGroup -------------------------------------------------------------------------------

TpGroup::TpGroup(TpSetup setup)
    : setup_(std::move(setup)),
      ranks_(static_cast<size_t>(setup_.local_ranks)),
      workers_(setup_.local_ranks) {}

core::Result<std::unique_ptr<TpGroup>> TpGroup::create(TpSetup setup) {
  if (setup.local_ranks < 1 || setup.first_rank < 0 ||
      setup.first_rank + setup.local_ranks > setup.tp || !setup.make_comm)
    return core::invalid_argument("tensor-parallel group: ranks [{}, +{}) of {}", setup.first_rank,
                                  setup.local_ranks, setup.tp);
  std::unique_ptr<TpGroup> g(new TpGroup(std::move(setup)));
  TpGroup& group = *g;
  LLM_RETURN_IF_ERROR(group.workers_.run([&group](int i) -> core::Status {
    Rank& r = group.ranks_[static_cast<size_t>(i)];
    r.global = group.setup_.first_rank + i;
    if (group.setup_.device == core::Device::cuda) LLM_RETURN_IF_ERROR(ops::set_cuda_device(i));
    LLM_ASSIGN_OR_RETURN(r.comm, group.setup_.make_comm(r.global));
    const dist::ShardSpec shard{.rank = r.global, .world = group.setup_.tp, .comm = r.comm.get()};
    auto model = models::load_model(group.setup_.model_dir, group.setup_.device, shard);
    if (!model.ok())
      return model.status().with_context(fmt::format("tensor-parallel rank {}", r.global));
    r.model = std::move(model).value();
    return {};
  }));
  return g;
}

core::Result<int64_t> TpGroup::min_free_memory() {
  if (setup_.device != core::Device::cuda) return int64_t{0};
  std::vector<int64_t> free(ranks_.size());
  LLM_RETURN_IF_ERROR(workers_.run([&free](int i) {
    int64_t total = 0;
    return ops::cuda_mem_info(&free[static_cast<size_t>(i)], &total);
  }));
  return *std::min_element(free.begin(), free.end());
}

core::Status TpGroup::allocate_kv(int64_t capacity, core::DType dtype) {
  return workers_.run([this, capacity, dtype](int i) -> core::Status {
    Rank& r = ranks_[static_cast<size_t>(i)];
    const models::ModelShape& s = r.model->shape();
    auto kv = models::KvStorage::allocate_on(setup_.device, s.n_layers, capacity, s.n_kv_heads,
                                             s.head_dim, dtype);
    if (!kv.ok()) return kv.status().with_context(fmt::format("KV pool of rank {}", r.global));
    r.kv = std::move(kv).value();
    return {};
  });
}

core::Status TpGroup::forward(const models::StepBatch& batch, int64_t n_sampled) {
  LLM_RETURN_IF_ERROR(workers_.run([this, &batch, n_sampled](int i) -> core::Status {
    Rank& r = ranks_[static_cast<size_t>(i)];
    const int64_t vocab = r.model->shape().vocab;
    if (!r.logits.defined() || r.logits.dim(0) < n_sampled)
      r.logits = core::Tensor::empty({std::max<int64_t>(n_sampled, 8), vocab}, core::DType::f32);
    core::Tensor rows = r.logits.rows(0, n_sampled);
    core::Status st = r.model->forward(batch, r.kv, rows);
    return st.ok() ? st : st.with_context(fmt::format("tensor-parallel rank {}", r.global));
  }));
  logits_ = ranks_.front().logits.rows(0, n_sampled);
  return {};
}

// --- TpRunner ------------------------------------------------------------------------------

TpRunner::TpRunner(std::unique_ptr<TpGroup> group, std::vector<dist::TcpChannel> followers,
                   const kv::ReqToTokenTable& req_to_token)
    : group_(std::move(group)),
      followers_(std::move(followers)),
      table_(req_to_token),
      builder_(req_to_token.data(), req_to_token.max_len()) {}

TpRunner::~TpRunner() {
  const std::vector<uint8_t> stop = encode_stop();
  for (dist::TcpChannel& ch : followers_)
    if (ch.connected()) (void)ch.send(stop);  // a node already gone needs no stop
}

core::Result<StepResult> TpRunner::execute(const StepPlan& plan) {
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.empty()) return result;

  const int64_t n_sampled = resolve_step_inputs(plan, input_ids_, segments_);
  // The other nodes first, so that they run the step while this node does.
  if (followers_.size() > 1) {
    const std::vector<uint8_t> msg = encode_step(plan, input_ids_, table_);
    for (size_t n = 1; n < followers_.size(); ++n) {
      core::Status st = followers_[n].send(msg);
      if (!st.ok())
        return st.with_context(fmt::format("sending step {} to node {}", plan.step_id, n));
    }
  }
  const models::StepBatch& batch = builder_.build(segments_);
  LLM_RETURN_IF_ERROR(group_->forward(batch, n_sampled));

  sample_on_host(plan, group_->logits(), sampler_, result);
  return result;
}

// --- start-up ------------------------------------------------------------------------------

std::vector<uint8_t> encode_reply(const core::Status& st, int64_t value) {
  dist::ByteWriter w;
  w.put<uint8_t>(st.ok() ? 1 : 0);
  if (st.ok()) {
    w.put(value);
  } else {
    const std::string text = st.to_string();
    w.bytes().insert(w.bytes().end(), text.begin(), text.end());
  }
  return std::move(w.bytes());
}

core::Result<int64_t> decode_reply(std::span<const uint8_t> bytes, int node) {
  dist::ByteReader r(bytes);
  uint8_t ok = 0;
  LLM_RETURN_IF_ERROR(r.get(ok));
  if (ok == 0)
    return core::error(core::StatusCode::unavailable, "node {}: {}", node,
                       std::string(bytes.begin() + 1, bytes.end()));
  int64_t value = 0;
  LLM_RETURN_IF_ERROR(r.get(value));
  return value;
}

core::Result<std::vector<uint8_t>> new_nccl_id() {
#if LIGHTLLM_NCCL
  LLM_ASSIGN_OR_RETURN(dist::NcclUniqueId id, dist::nccl_unique_id());
  return std::vector<uint8_t>(id.bytes.begin(), id.bytes.end());
#else
  return core::unimplemented("tensor parallelism on CUDA needs NCCL; this build has none");
#endif
}

core::Result<CommFactory> nccl_comm_factory(int tp, const std::vector<uint8_t>& unique_id) {
#if LIGHTLLM_NCCL
  dist::NcclUniqueId id;
  if (unique_id.size() != id.bytes.size())
    return core::data_loss("NCCL unique id of {} bytes, expected {}", unique_id.size(),
                           id.bytes.size());
  std::copy(unique_id.begin(), unique_id.end(), id.bytes.begin());
  return CommFactory([id, tp](int rank) -> core::Result<std::unique_ptr<dist::Communicator>> {
    LLM_ASSIGN_OR_RETURN(std::unique_ptr<dist::NcclCommunicator> c,
                         dist::NcclCommunicator::create(id, tp, rank));
    return std::unique_ptr<dist::Communicator>(std::move(c));
  });
#else
  (void)tp;
  (void)unique_id;
  return core::unimplemented("tensor parallelism on CUDA needs NCCL; this build has none");
#endif
}

CommBackend nccl_backend() {
  return {.new_id = new_nccl_id, .factory = nccl_comm_factory};
}

core::Result<TpLeader> start_tp_leader(const EngineConfig& config, const CommBackend& backend) {
  TpLeader leader;
  if (config.nnodes > 1) {
    LLM_ASSIGN_OR_RETURN(dist::TcpListener listener,
                         dist::TcpListener::listen(config.nccl_host, config.nccl_port));
    LLM_INFO("tensor parallelism: waiting for {} more nodes on {}:{}", config.nnodes - 1,
             config.nccl_host, listener.port());
    LLM_ASSIGN_OR_RETURN(leader.followers,
                         dist::host_rendezvous(listener, config.nnodes, kRendezvousTimeout));
  }
  LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> id, backend.new_id());
  for (size_t n = 1; n < leader.followers.size(); ++n)
    LLM_RETURN_IF_ERROR(leader.followers[n].send(id));
  LLM_ASSIGN_OR_RETURN(CommFactory factory, backend.factory(config.tp, id));
  TpSetup setup{.model_dir = config.model_dir,
                .device = config.device == "cuda" ? core::Device::cuda : core::Device::cpu,
                .tp = config.tp,
                .first_rank = 0,
                .local_ranks = local_ranks(config),
                .make_comm = std::move(factory)};
  LLM_ASSIGN_OR_RETURN(leader.group, TpGroup::create(std::move(setup)));
  return leader;
}

core::Result<int64_t> tp_min_free_memory(TpLeader& leader) {
  LLM_ASSIGN_OR_RETURN(int64_t least, leader.group->min_free_memory());
  for (size_t n = 1; n < leader.followers.size(); ++n) {
    LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> msg, leader.followers[n].recv(kStartupReplyTimeout));
    LLM_ASSIGN_OR_RETURN(int64_t theirs, decode_reply(msg, static_cast<int>(n)));
    least = std::min(least, theirs);
  }
  return least;
}

core::Status tp_allocate_kv(TpLeader& leader, int64_t capacity, core::DType dtype,
                            const kv::ReqToTokenTable& req_to_token) {
  const KvPlan plan{.capacity = capacity,
                    .dtype = static_cast<int32_t>(dtype),
                    .max_reqs = req_to_token.max_reqs(),
                    .max_len = req_to_token.max_len()};
  dist::ByteWriter w;
  w.put(plan);
  for (size_t n = 1; n < leader.followers.size(); ++n)
    LLM_RETURN_IF_ERROR(leader.followers[n].send(w.bytes()));
  LLM_RETURN_IF_ERROR(leader.group->allocate_kv(capacity, dtype));
  for (size_t n = 1; n < leader.followers.size(); ++n) {
    LLM_ASSIGN_OR_RETURN(std::vector<uint8_t> msg, leader.followers[n].recv(kStartupReplyTimeout));
    LLM_RETURN_IF_ERROR(decode_reply(msg, static_cast<int>(n)).status());
  }
  return {};
}

}  // namespace lightllm::engine
