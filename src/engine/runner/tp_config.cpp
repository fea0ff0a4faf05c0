// src/engine/runner/tp_config.cpp — see tp_config.h.
#include "engine/runner/tp_config.h"

#include "models/loader/model_config.h"

namespace lightllm::engine {

core::Status validate_tp_flags(const EngineConfig& c) {
  if (c.tp < 1) return core::invalid_argument("--tp {}: must be at least 1", c.tp);
  if (c.nnodes < 1) return core::invalid_argument("--nnodes {}: must be at least 1", c.nnodes);
  if (c.nnodes > c.tp)
    return core::invalid_argument(
        "--nnodes {} is more than --tp {}: each node runs at least one rank", c.nnodes, c.tp);
  if (c.tp % c.nnodes != 0)
    return core::invalid_argument(
        "--tp {} does not divide by --nnodes {}: every node runs the same number of GPUs", c.tp,
        c.nnodes);
  if (c.node_rank < 0 || c.node_rank >= c.nnodes)
    return core::invalid_argument("--node-rank {}: must be in [0, --nnodes {})", c.node_rank,
                                  c.nnodes);
  if (c.nnodes > 1 && (c.nccl_port < 1 || c.nccl_port > 65535))
    return core::invalid_argument("--nccl-port {}: must be in [1, 65535]", c.nccl_port);
  if (c.nnodes > 1 && c.nccl_host.empty())
    return core::invalid_argument("--nccl-host: node 0's address is needed with --nnodes {}",
                                  c.nnodes);
  if (c.tp > 1 && c.device != "cuda")
    return core::invalid_argument(
        "--tp {} needs --device cuda (tensor parallelism runs one GPU per rank over NCCL)", c.tp);
  return {};
}

core::Status validate_tp_model(const loader::ModelConfig& m, int tp) {
  if (tp == 1) return {};
  const int64_t heads = m.num_attention_heads;
  const int64_t kv = m.num_key_value_heads > 0 ? m.num_key_value_heads : heads;
  if (heads <= 0 || heads % tp != 0)
    return core::invalid_argument(
        "--tp {}: the model's {} attention heads ({}) do not divide into {} ranks", tp, heads,
        m.path, tp);
  if (kv % tp != 0 && tp % kv != 0)
    return core::invalid_argument(
        "--tp {}: the model's {} key/value heads ({}) can neither be split into {} ranks nor "
        "replicated evenly over them",
        tp, kv, m.path, tp);
  return {};
}

core::Status validate_tp_devices(const EngineConfig& c, int visible) {
  if (c.tp == 1) return {};
  const int need = local_ranks(c);
  if (visible < need)
    return core::invalid_argument(
        "--tp {} over --nnodes {} needs {} GPUs on this node, {} visible (CUDA_VISIBLE_DEVICES)",
        c.tp, c.nnodes, need, visible);
  return {};
}

}  // namespace lightllm::engine
