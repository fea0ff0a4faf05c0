// src/models/layers/attention.h — the self-attention block shared by decoder families:
// Q/K/V projections (+bias), optional per-head q/k LayerNorm, rotary embedding, KV write into
// token slots (one fused op when the rotary uses one table for the whole step), attention
// through req_to_token, output projection; and its residual form for batch-1 decode.
#pragma once

#include <functional>
#include <vector>

#include "models/layers/workspace.h"
#include "models/model.h"
#include "ops/ops.h"

namespace lightllm::models::layers {

struct AttentionWeights {
  Tensor wq, wk, wv, wo;  // [n_heads*head_dim, hidden], [n_kv*hd, hidden] x2, [hidden, n_heads*hd]
  Tensor bq, bk, bv, bo;  // biases, undefined when the family has none
  // Per-head LayerNorm weights (no bias) applied to q / k before rotary (StableLM qk_layernorm,
  // Cohere use_qk_norm): [n_heads, head_dim] / [n_kv_heads, head_dim] f32, or undefined.
  Tensor q_norm, k_norm;
};

struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  bool use_rope = true;
  ops::RopeConfig rope;
  float qk_norm_eps = 1e-5f;         // eps of q_norm / k_norm
  std::vector<float> inv_freq;       // [rotary_dim/2] for sequences within the trained length
  std::vector<float> inv_freq_long;  // longrope: [rotary_dim/2] beyond original_max_position
  // When set, replaces the built-in rotary step: called on q [n_tokens, n_heads, head_dim] and
  // k [n_tokens, n_kv_heads, head_dim] after the projections (and q/k norms), before K is
  // stored (Qwen v1: per-sequence NTK base and log-n query scaling).
  std::function<Status(const StepBatch&, Tensor& q, Tensor& k)> position_fn;
};

// The rotary frequencies, computed once. Dynamic NTK scaling depends on each sequence's length
// (as in HF, where it depends on the longest position seen), so for it self_attention
// recomputes them per request from that request's length. Longrope likewise chooses short or
// long factors per request by its length (kv_len): a single forward over a whole sequence is
// exactly HF's; in decoding, keys cached before a request crosses original_max_position keep
// their short-factor rotation (HF generate instead recomputes the whole sequence once).
void init_rope(AttentionShape& s);

// out = attention(h) for every token of the step. h: [n_tokens, hidden] f32;
// out: [n_tokens, hidden] f32 (must not alias h).
Status self_attention(const AttentionWeights& w, const AttentionShape& s, const Tensor& h,
                      const StepBatch& batch, ops::KvCacheView& kv, Workspace& ws, Tensor& out);

// The residual form (ResidualIo, workspace.h): io.residual += attention(rms_norm(io.residual)),
// the norm inside the QKV projection (ops::rms_norm_matmul_split) and the add inside the output
// projection (ops::matmul_add). Equals rms_norm → self_attention → add up to f32 accumulation
// order. For the batch-1 decode path; works anywhere (composed ops elsewhere).
Status self_attention(const AttentionWeights& w, const AttentionShape& s, const ResidualIo& io,
                      const StepBatch& batch, ops::KvCacheView& kv, Workspace& ws);

}  // namespace lightllm::models::layers
