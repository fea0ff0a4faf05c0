// src/models/step_batch_builder.cpp — see step_batch_builder.h.
#include "models/step_batch_builder.h"

#include <algorithm>

namespace lightllm::models {

const StepBatch& StepBatchBuilder::build(std::span<const StepSegment> segments) {
  token_ids_.clear();
  positions_.clear();
  out_slots_.clear();
  q_start_.assign(1, 0);
  kv_len_.clear();
  req_row_.clear();
  batch_.logit_rows.clear();
  batch_.max_seq_len = 0;

  for (const StepSegment& seg : segments) {
    const int32_t* row = req_to_token_ + static_cast<int64_t>(seg.req_row) * stride_;
    for (size_t i = 0; i < seg.tokens.size(); ++i) {
      const int32_t pos = seg.cached_len + static_cast<int32_t>(i);
      token_ids_.push_back(seg.tokens[i]);
      positions_.push_back(pos);
      out_slots_.push_back(row[pos]);
    }
    const int32_t total = seg.cached_len + static_cast<int32_t>(seg.tokens.size());
    q_start_.push_back(static_cast<int32_t>(token_ids_.size()));
    kv_len_.push_back(total);
    req_row_.push_back(seg.req_row);
    if (seg.wants_logits && !seg.tokens.empty())
      batch_.logit_rows.push_back(static_cast<int32_t>(token_ids_.size()) - 1);
    batch_.max_seq_len = std::max<int64_t>(batch_.max_seq_len, total);
  }

  const int64_t n = static_cast<int64_t>(token_ids_.size());
  batch_.token_ids = Tensor::view(token_ids_.data(), {n}, core::DType::i32);
  batch_.positions = Tensor::view(positions_.data(), {n}, core::DType::i32);
  batch_.out_slots = Tensor::view(out_slots_.data(), {n}, core::DType::i32);
  batch_.attn.q_start = q_start_.data();
  batch_.attn.kv_len = kv_len_.data();
  batch_.attn.req_row = req_row_.data();
  batch_.attn.req_to_token = req_to_token_;
  batch_.attn.req_to_token_stride = stride_;
  batch_.attn.n_reqs = static_cast<int32_t>(kv_len_.size());
  batch_.attn.sliding_window = sliding_window_;
  batch_.attn.scale = scale_;
  return batch_;
}

}  // namespace lightllm::models
