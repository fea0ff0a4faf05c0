// src/models/layers/attention.cpp — self-attention over the flat batch (see attention.h).
#include "models/layers/attention.h"

#include "models/layers/blocks.h"
#include "models/layers/common.h"

namespace lightllm::models::layers {

void init_rope(AttentionShape& s) {
  s.inv_freq = ops::rope_inv_freq(s.rope, s.rope.original_max_position);
  if (s.rope.scaling == ops::RopeScaling::longrope)
    s.inv_freq_long = ops::rope_inv_freq(s.rope, s.rope.original_max_position + 1);
}

namespace {

// Rotates q/k of every request; per request when its frequencies depend on its length.
Status apply_rope(const AttentionShape& s, const StepBatch& batch, Tensor& q, Tensor& k) {
  const bool longrope = s.rope.scaling == ops::RopeScaling::longrope;
  if (s.rope.scaling != ops::RopeScaling::dynamic_ntk && !longrope)
    return ops::rope(q, k, batch.positions, s.inv_freq, s.rope);
  const ops::AttentionMeta& m = batch.attn;
  for (int32_t r = 0; r < m.n_reqs; ++r) {
    const int64_t row0 = m.q_start[r], n = m.q_start[r + 1] - m.q_start[r];
    if (n == 0) continue;
    Tensor qr = q.rows(row0, n), kr = k.rows(row0, n);
    const Tensor pos = batch.positions.rows(row0, n);
    if (longrope) {
      const bool is_long = m.kv_len[r] > s.rope.original_max_position;
      LLM_RETURN_IF_ERROR(ops::rope(qr, kr, pos, is_long ? s.inv_freq_long : s.inv_freq, s.rope));
      continue;
    }
    const std::vector<float> inv_freq = ops::rope_inv_freq(s.rope, m.kv_len[r]);
    LLM_RETURN_IF_ERROR(ops::rope(qr, kr, pos, inv_freq, s.rope));
  }
  return {};
}

Status attention_block(const AttentionWeights& w, const AttentionShape& s, const BlockIo& io,
                       const StepBatch& batch, ops::KvCacheView& kv, Workspace& ws) {
  const int64_t n_tokens = io.h.dim(0);
  Tensor q = ws.get(Buf::q, {n_tokens, int64_t{s.n_heads} * s.head_dim});
  Tensor k = ws.get(Buf::k, {n_tokens, int64_t{s.n_kv_heads} * s.head_dim});
  Tensor v = ws.get(Buf::v, {n_tokens, int64_t{s.n_kv_heads} * s.head_dim});
  Tensor q3 = q.reshape({n_tokens, s.n_heads, s.head_dim});     // [n_tokens, n_heads, head_dim]
  Tensor k3 = k.reshape({n_tokens, s.n_kv_heads, s.head_dim});  // [n_tokens, n_kv_heads, hd]
  Tensor v3 = v.reshape({n_tokens, s.n_kv_heads, s.head_dim});
  // One launch when q/k/v (and their biases, if any) sit in one stacked allocation.
  const Tensor wqkv = stacked_rows({&w.wq, &w.wk, &w.wv});
  const Tensor bqkv = stacked_rows({&w.bq, &w.bk, &w.bv});
  const bool no_bias = !w.bq.defined() && !w.bk.defined() && !w.bv.defined();
  const bool stacked = wqkv.defined() && (no_bias || bqkv.defined());
  const bool one_table = s.rope.scaling != ops::RopeScaling::dynamic_ntk &&
                         s.rope.scaling != ops::RopeScaling::longrope;
  const bool rope_kv = !s.position_fn && s.use_rope && one_table;  // rotary + KV store together
  const ops::RopeStoreKv rope{.q = q3,
                              .k = k3,
                              .v = v3,
                              .positions = batch.positions,
                              .inv_freq = s.inv_freq,
                              .cfg = s.rope,
                              .slots = batch.out_slots,
                              .cache = kv};
  if (stacked && rope_kv && !w.q_norm.defined() && !w.k_norm.defined()) {
    // The projection, rotary and KV store: one launch on the CUDA decode path.
    LLM_RETURN_IF_ERROR(ops::qkv_rope_store_kv({.x = io.input(),
                                                .norm = io.norm,
                                                .w = wqkv,
                                                .bias = bqkv,
                                                .rope = rope,
                                                .next_attention = &batch.attn}));
  } else {
    if (stacked) {
      LLM_RETURN_IF_ERROR(io.norm != nullptr
                              ? ops::rms_norm_matmul_split(*io.norm, wqkv, bqkv, {&q, &k, &v})
                              : ops::matmul_split(io.h, wqkv, bqkv, {&q, &k, &v}));
    } else {
      LLM_RETURN_IF_ERROR(io.normalize());
      const Tensor& x = io.input();
      LLM_RETURN_IF_ERROR(ops::matmul(x, w.wq, w.bq, q));
      LLM_RETURN_IF_ERROR(ops::matmul(x, w.wk, w.bk, k));
      LLM_RETURN_IF_ERROR(ops::matmul(x, w.wv, w.bv, v));
    }
    if (w.q_norm.defined()) LLM_RETURN_IF_ERROR(per_head_layer_norm(q3, w.q_norm, s.qk_norm_eps));
    if (w.k_norm.defined()) LLM_RETURN_IF_ERROR(per_head_layer_norm(k3, w.k_norm, s.qk_norm_eps));
    if (rope_kv) {  // rotary + KV store in one launch
      LLM_RETURN_IF_ERROR(ops::rope_store_kv(rope));
    } else {
      if (s.position_fn) {
        LLM_RETURN_IF_ERROR(s.position_fn(batch, q3, k3));
      } else if (s.use_rope) {
        LLM_RETURN_IF_ERROR(apply_rope(s, batch, q3, k3));
      }
      LLM_RETURN_IF_ERROR(ops::store_kv(k3, v3, batch.out_slots, kv));
    }
  }

  Tensor attn = ws.get(Buf::attn_out, {n_tokens, s.n_heads, s.head_dim});
  LLM_RETURN_IF_ERROR(ops::attention(q3, kv, batch.attn, attn));
  const Tensor attn2 = attn.reshape({n_tokens, int64_t{s.n_heads} * s.head_dim});
  if (!io.accumulate) return ops::matmul(attn2, w.wo, w.bo, io.out);
  Tensor scratch = ws.get(Buf::proj_out, {n_tokens, io.out.dim(1)});
  return ops::matmul_add(attn2, w.wo, w.bo, scratch, io.out);
}

}  // namespace

Status self_attention(const AttentionWeights& w, const AttentionShape& s, const Tensor& h,
                      const StepBatch& batch, ops::KvCacheView& kv, Workspace& ws, Tensor& out) {
  return attention_block(w, s, {.h = h, .norm = nullptr, .out = out, .accumulate = false}, batch,
                         kv, ws);
}

Status self_attention(const AttentionWeights& w, const AttentionShape& s, const ResidualIo& io,
                      const StepBatch& batch, ops::KvCacheView& kv, Workspace& ws) {
  Tensor normed = ws.get(Buf::normed, {io.residual.dim(0), io.residual.dim(1)});
  const ops::NormedInput norm{
      .x = io.residual, .weight = io.norm_weight, .eps = io.eps, .normed = normed};
  return attention_block(w, s,
                         {.h = io.residual, .norm = &norm, .out = io.residual, .accumulate = true},
                         batch, kv, ws);
}

}  // namespace lightllm::models::layers
