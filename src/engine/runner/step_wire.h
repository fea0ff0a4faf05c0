// src/engine/runner/step_wire.h — what node 0 sends the other nodes of a multi-node
// tensor-parallel group so they run the same step: the segments (req_row, cached_len, the
// fed token ids with pending ones already resolved, wants_logits) and the req_to_token
// entries they did not see yet.
//
// Mirror invariant: a follower's copy of req_to_token holds, for every row of the step, the
// same entries as the router's at positions [0, cached_len + n_tokens). Node 0 keeps it with
// the fewest bytes: a prefill entry sends its row's [0, cached_len + n_tokens) (a new or
// resumed row, maybe with prefix-cache slots the follower never saw), a decode entry only
// its new position's slot (the router never rewrites the earlier positions of a running row:
// a row changes hands only through a new prefill). Every step node 0 runs must reach the
// followers, in order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "engine/step.h"
#include "models/step_batch_builder.h"

namespace lightllm::engine {

enum class WireKind : uint32_t { step = 1, stop = 2 };

struct WireSegment {
  int32_t req_row = 0;
  int32_t cached_len = 0;
  int32_t n_tokens = 0;
  int32_t wants_logits = 0;
};

struct WireRows {
  int32_t req_row = 0;
  int32_t start = 0;  // first position written
  int32_t count = 0;  // entries taken from WireStep::row_slots
};

struct WireStep {
  WireKind kind = WireKind::step;
  uint64_t step_id = 0;
  std::vector<WireSegment> segments;
  std::vector<int32_t> token_ids;  // [n_tokens] resolved ids, segment after segment
  std::vector<WireRows> rows;
  std::vector<int32_t> row_slots;  // the entries of `rows`, concatenated

  // The model's view of the step; spans point into token_ids.
  std::vector<models::StepSegment> step_segments() const;
};

// `ids`: the plan's input ids with kPendingToken resolved; `table`: the router's rows.
std::vector<uint8_t> encode_step(const StepPlan& plan, std::span<const int32_t> ids,
                                 const kv::ReqToTokenTable& table);
std::vector<uint8_t> encode_stop();
core::Result<WireStep> decode_step(std::span<const uint8_t> bytes);

// Writes step.rows into `mirror` ([max_reqs, max_len] row-major); bounds are checked.
core::Status apply_rows(const WireStep& step, std::span<int32_t> mirror, int32_t max_reqs,
                        int64_t max_len);

}  // namespace lightllm::engine
