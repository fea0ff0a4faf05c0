// src/models/step_batch_builder.h — builds the flat, padding-free StepBatch of one step.
// Callers list each request's part of the step (its req_to_token row, the tokens fed now,
// how many of its tokens are already in the KV cache, whether its last token needs logits);
// the builder concatenates them and derives positions, output slots and the attention
// metadata once, to be shared by every layer. The builder owns the index arrays the
// StepBatch points into, so it must outlive the batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/model.h"

namespace lightllm::models {

struct StepSegment {
  int32_t req_row = 0;              // row of req_to_token holding this request's slots
  std::span<const int32_t> tokens;  // tokens fed this step (prefill chunk or 1 decode token)
  int32_t cached_len = 0;           // tokens of this request already in the KV cache
  bool wants_logits = true;         // logits for the segment's last token
};

class StepBatchBuilder {
 public:
  // req_to_token: [max_reqs, stride] slots; the slots of each segment's new tokens must be
  // written there (positions cached_len .. cached_len + tokens.size()) before build().
  StepBatchBuilder(const int32_t* req_to_token, int64_t stride)
      : req_to_token_(req_to_token), stride_(stride) {}

  void set_sliding_window(int32_t window) { sliding_window_ = window; }
  void set_softmax_scale(float scale) { scale_ = scale; }

  // The batch for `segments`, valid until the next build() on this builder.
  const StepBatch& build(std::span<const StepSegment> segments);

 private:
  const int32_t* req_to_token_;
  int64_t stride_;
  int32_t sliding_window_ = 0;
  float scale_ = 0.0f;
  std::vector<int32_t> token_ids_, positions_, out_slots_, q_start_, kv_len_, req_row_;
  StepBatch batch_;
};

}  // namespace lightllm::models
