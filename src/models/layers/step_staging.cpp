// src/models/layers/step_staging.cpp — see step_staging.h.
#include "models/layers/step_staging.h"

#include <algorithm>

namespace lightllm::models {

namespace {

Status check_range(const char* what, int64_t i, int32_t v, int64_t hi) {
  if (v < 0 || v >= hi)
    return core::invalid_argument("step: {}[{}] = {} is outside [0, {})", what, i, v, hi);
  return {};
}

}  // namespace

Result<PackedStep> pack_step(const StepBatch& batch, int64_t vocab, int64_t kv_capacity,
                             std::vector<int32_t>& h) {
  const int64_t n = batch.n_tokens();
  const ops::AttentionMeta& m = batch.attn;
  const int32_t n_reqs = m.n_reqs;
  int32_t max_q = 0, max_kv = 0;
  for (int32_t r = 0; r < n_reqs; ++r) {
    max_q = std::max(max_q, m.q_start[r + 1] - m.q_start[r]);
    max_kv = std::max(max_kv, m.kv_len[r]);
  }
  if (n_reqs > 0 && (m.q_start[0] != 0 || m.q_start[n_reqs] != n))
    return core::invalid_argument("step: q_start must run from 0 to n_tokens = {}", n);
  PackedStep p;
  p.n_tokens = n;
  p.n_reqs = n_reqs;
  p.max_q_len = max_q;
  p.max_kv_len = max_kv;
  p.stride = std::max<int32_t>(max_kv, 1);
  p.off_pos = n;
  p.off_slots = 2 * n;
  p.off_qs = 3 * n;
  p.off_kv = p.off_qs + n_reqs + 1;
  p.off_row = p.off_kv + n_reqs;
  p.off_r2t = p.off_row + n_reqs;
  const DeviceTokenFeed& feed = batch.device_feed;
  p.n_feed = static_cast<int64_t>(feed.rows.size());
  p.off_feed = p.off_r2t + int64_t{n_reqs} * p.stride;
  p.total = p.off_feed + 2 * p.n_feed;
  if (feed.sources.size() != feed.rows.size())
    return core::invalid_argument("step: device feed of {} rows and {} sources", feed.rows.size(),
                                  feed.sources.size());
  if (p.n_feed > 0 && (!feed.sampled.defined() || feed.sampled.device() != core::Device::cuda))
    return core::invalid_argument("step: device feed without device samples");
  const int64_t off_pos = p.off_pos, off_slots = p.off_slots, off_qs = p.off_qs, off_kv = p.off_kv,
                off_row = p.off_row, off_r2t = p.off_r2t, stride = p.stride;
  h.assign(static_cast<size_t>(p.total), 0);
  const int32_t* ids = batch.token_ids.data<int32_t>();
  const int32_t* pos = batch.positions.data<int32_t>();
  const int32_t* slots = batch.out_slots.data<int32_t>();
  size_t next_fed = 0;  // feed.rows ascend: walk them beside t
  for (int64_t t = 0; t < n; ++t) {
    if (next_fed < feed.rows.size() && feed.rows[next_fed] == t) {
      const int32_t src = feed.sources[next_fed];
      LLM_RETURN_IF_ERROR(check_range("device_feed.sources", t, src, feed.sampled.numel()));
      if (ids[t] != -1)
        return core::invalid_argument(
            "step: token_ids[{}] = {} is fed from the device (expected -1)", t, ids[t]);
      h[static_cast<size_t>(p.off_feed) + next_fed] = static_cast<int32_t>(t);
      h[static_cast<size_t>(p.off_feed + p.n_feed) + next_fed] = src;
      ++next_fed;
    } else {
      LLM_RETURN_IF_ERROR(check_range("token_ids", t, ids[t], vocab));
    }
    LLM_RETURN_IF_ERROR(check_range("out_slots", t, slots[t], kv_capacity));
    if (pos[t] < 0) return core::invalid_argument("step: positions[{}] = {} < 0", t, pos[t]);
    h[static_cast<size_t>(t)] = ids[t];
    h[static_cast<size_t>(off_pos + t)] = pos[t];
    h[static_cast<size_t>(off_slots + t)] = slots[t];
  }
  for (int32_t r = 0; r < n_reqs; ++r) {
    const int32_t q_len = m.q_start[r + 1] - m.q_start[r];
    if (q_len < 0 || m.kv_len[r] < q_len || m.kv_len[r] > m.req_to_token_stride)
      return core::invalid_argument("step: request {} has q_len {} and kv_len {}", r, q_len,
                                    m.kv_len[r]);
    h[static_cast<size_t>(off_qs + r)] = m.q_start[r];
    h[static_cast<size_t>(off_kv + r)] = m.kv_len[r];
    h[static_cast<size_t>(off_row + r)] = r;
    const int32_t* row = m.req_to_token + int64_t{m.req_row[r]} * m.req_to_token_stride;
    int32_t* dst = h.data() + off_r2t + int64_t{r} * stride;
    for (int32_t j = 0; j < m.kv_len[r]; ++j) {
      LLM_RETURN_IF_ERROR(check_range("req_to_token", j, row[j], kv_capacity));
      dst[j] = row[j];
    }
  }
  if (next_fed != feed.rows.size())
    return core::invalid_argument("step: device feed rows must ascend within [0, {})", n);
  if (n_reqs > 0) h[static_cast<size_t>(off_qs + n_reqs)] = m.q_start[n_reqs];

  return p;
}

Result<StepBatch> stage_step(const StepBatch& batch, int64_t vocab, int64_t kv_capacity,
                             Workspace& ws) {
  if (ws.device() == core::Device::cpu) return batch;
  std::vector<int32_t>& h = ws.host_staging();
  LLM_ASSIGN_OR_RETURN(const PackedStep p, pack_step(batch, vocab, kv_capacity, h));
  const int64_t n = p.n_tokens, total = p.total;
  Tensor dev = ws.get(Buf::step_meta, {total}, core::DType::i32);
  if (!dev.defined())
    return core::error(core::StatusCode::out_of_memory, "step: no device memory for step metadata");
  // From page-locked memory, so that queuing the upload never waits for the device.
  LLM_ASSIGN_OR_RETURN(ops::MappedTensor host, ws.upload_ring().begin(total, core::DType::i32));
  std::copy(h.begin(), h.begin() + total, host.host.data<int32_t>());
  LLM_RETURN_IF_ERROR(ops::upload_step({.src = host.device,
                                        .dst = dev,
                                        .n_ids = n,
                                        .feed_at = p.off_feed,
                                        .n_feed = p.n_feed,
                                        .sampled = batch.device_feed.sampled}));

  StepBatch out = batch;
  const int32_t* d = dev.data<int32_t>();
  auto view = [&](int64_t off) {
    return Tensor::view(const_cast<int32_t*>(d + off), {n}, core::DType::i32, core::Device::cuda);
  };
  out.token_ids = view(0);
  out.positions = view(p.off_pos);
  out.out_slots = view(p.off_slots);
  LLM_RETURN_IF_ERROR(ws.upload_ring().end());
  out.attn.device = {.q_start = d + p.off_qs,
                     .kv_len = d + p.off_kv,
                     .req_row = d + p.off_row,
                     .req_to_token = d + p.off_r2t,
                     .req_to_token_stride = p.stride,
                     .max_q_len = p.max_q_len,
                     .max_kv_len = p.max_kv_len};
  return out;
}

}  // namespace lightllm::models
