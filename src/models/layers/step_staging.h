// src/models/layers/step_staging.h — puts a step's index data where the model runs.
// On the CPU the batch is used as built. On CUDA the token ids, positions, KV slots and the
// attention metadata (q_start, kv_len, and the req_to_token rows of this step's requests,
// compacted to one row each) go to the device in ONE upload per step (ops::upload_step, which
// also feeds the ids the batch takes from the device: device_feed), shared by every layer (plan
// once, run per layer). The host arrays stay in the returned batch for
// the host-side decisions (per-request rope, kernel choice). Because device index values cannot
// be checked by the kernels, staging validates them first: ids in [0, vocab) (fed ids: their
// rows and sources in range), slots and every req_to_token entry a request reads in
// [0, kv_capacity).
#pragma once

#include <vector>

#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models {

// Where pack_step put each array in the host staging buffer (offsets in i32 elements).
// Layout: ids | positions | slots | q_start (n_reqs+1) | kv_len | req_row | req_to_token |
// feed, req_to_token [n_reqs, stride] with request r's row r holding its first kv_len[r] slots,
// feed [2, n_feed] the batch's device_feed rows then sources (ops::upload_step's pairs).
struct PackedStep {
  int64_t n_tokens = 0;
  int32_t n_reqs = 0;
  int64_t n_feed = 0;
  int64_t off_pos = 0, off_slots = 0, off_qs = 0, off_kv = 0, off_row = 0, off_r2t = 0;
  int64_t off_feed = 0;
  int64_t stride = 1;  // max(max_kv_len, 1)
  int64_t total = 0;
  int32_t max_q_len = 0, max_kv_len = 0;
};

// Validates `batch` (the checks above) and packs its index arrays into `h` (resized).
Result<PackedStep> pack_step(const StepBatch& batch, int64_t vocab, int64_t kv_capacity,
                             std::vector<int32_t>& h);

Result<StepBatch> stage_step(const StepBatch& batch, int64_t vocab, int64_t kv_capacity,
                             Workspace& ws);

}  // namespace lightllm::models
