// src/engine/runner/tp_config.h — checks of the tensor-parallel settings (--tp, --nnodes,
// --node-rank, --nccl-host/--nccl-port) against each other, the device, the visible GPUs and
// the model's heads, before anything is loaded. Every failure is invalid_argument (or
// unimplemented for what the build lacks) with a message that names the flag.
#pragma once

#include "core/status.h"
#include "lightllm/engine.h"

namespace lightllm::loader {
struct ModelConfig;
}

namespace lightllm::engine {

// Flags alone: tp >= 1, 1 <= nnodes <= tp, tp % nnodes == 0, 0 <= node_rank < nnodes, a port
// in range, tp > 1 only with --device cuda.
core::Status validate_tp_flags(const EngineConfig& config);

// The model can be split tp ways: attention heads divide by tp; kv heads divide by tp or tp by
// kv heads (then each rank keeps the kv heads its query heads use).
core::Status validate_tp_model(const loader::ModelConfig& model, int tp);

// This node has the GPUs it needs: tp / nnodes of `visible` (ops::cuda_device_count()).
core::Status validate_tp_devices(const EngineConfig& config, int visible);

// GPUs per node.
inline int local_ranks(const EngineConfig& config) {
  return config.tp / config.nnodes;
}

}  // namespace lightllm::engine
