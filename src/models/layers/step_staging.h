// src/models/layers/step_staging.h — puts a step's index data where the model runs.
// On the CPU the batch is used as built. On CUDA the token ids, positions, KV slots and the
// attention metadata (q_start, kv_len, and the req_to_token rows of this step's requests,
// compacted to one row each) go to the device in ONE host->device copy per step, shared by
// every layer (plan once, run per layer). The host arrays stay in the returned batch for the
// host-side decisions (per-request rope, kernel choice). Because device index values cannot be
// checked by the kernels, staging validates them first: ids in [0, vocab), slots and every
// req_to_token entry a request reads in [0, kv_capacity).
#pragma once

#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models {

Result<StepBatch> stage_step(const StepBatch& batch, int64_t vocab, int64_t kv_capacity,
                             Workspace& ws);

}  // namespace lightllm::models
