// src/kernels/kernel_params.h — the Params structs every kernel takes (ref, cpu, later cuda).
// Kernels see raw pointers only: shapes and dtypes were checked by src/ops before the call, so
// a kernel trusts its Params (ids, slots in range; sizes > 0 where stated). Activations are
// f32; weights and KV storage name their dtype. All arrays are dense row-major.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace lightllm::kernels {

using core::DType;

struct EmbeddingParams {
  const void* table = nullptr;  // [vocab, hidden] f32 | bf16 | f16 (table_dtype)
  DType table_dtype = DType::f32;
  const int32_t* ids = nullptr;  // [n_tokens], each in [0, vocab)
  float* out = nullptr;          // [n_tokens, hidden]
  int64_t n_tokens = 0;
  int64_t hidden = 0;
};

// RMSNorm, optionally fused with the residual add (residual != null):
//   residual += x; out = residual / rms(residual) * weight     (else out = x / rms(x) * weight)
struct RmsNormParams {
  const float* x = nullptr;       // [n_tokens, hidden]
  float* residual = nullptr;      // [n_tokens, hidden] or null; updated in place
  const float* weight = nullptr;  // [hidden]
  float* out = nullptr;           // [n_tokens, hidden]; may alias x (never residual)
  int64_t n_tokens = 0;
  int64_t hidden = 0;
  float eps = 1e-6f;
};

// out = (x - mean) / sqrt(var + eps) * weight + bias, biased variance as torch.
struct LayerNormParams {
  const float* x = nullptr;       // [n_tokens, hidden]
  const float* weight = nullptr;  // [hidden]
  const float* bias = nullptr;    // [hidden] or null
  float* out = nullptr;           // [n_tokens, hidden]; may alias x
  int64_t n_tokens = 0;
  int64_t hidden = 0;
  float eps = 1e-5f;
};

// nn.Linear: out[m, n] = sum_k x[m, k] * w[n, k] + bias[n].
struct MatmulParams {
  const float* x = nullptr;  // [m, k]
  const void* w = nullptr;   // [n, k] f32 | bf16 | f16 (w_dtype)
  DType w_dtype = DType::f32;
  const float* bias = nullptr;  // [n] or null
  float* out = nullptr;         // [m, n]; must not alias x
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
};

enum class Activation { silu, gelu_erf, gelu_tanh };

// out = act(gate) * up, or in place out = act(gate) when up == null.
struct GatedActParams {
  const float* gate = nullptr;  // [n]
  const float* up = nullptr;    // [n] or null
  float* out = nullptr;         // [n]; may alias gate
  int64_t n = 0;                // total elements (n_tokens * inter)
  Activation act = Activation::silu;
};

struct SoftmaxParams {
  float* x = nullptr;  // [rows, cols], softmax over cols in place
  int64_t rows = 0;
  int64_t cols = 0;
};

// Rotary embedding in place; pair i (i < rotary_dim/2) of every head rotates by
// angle = float(position) * inv_freq[i] (f32 product, as HF computes freqs).
//   halves:      (x[i], x[i + rotary_dim/2])
//   interleaved: (x[2i], x[2i + 1])
// Dims >= rotary_dim pass through.
struct RopeParams {
  float* q = nullptr;                  // [n_tokens, n_heads, head_dim]
  float* k = nullptr;                  // [n_tokens, n_kv_heads, head_dim]
  const int32_t* positions = nullptr;  // [n_tokens]
  const float* inv_freq = nullptr;     // [rotary_dim / 2]
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;  // even, <= head_dim
  bool interleaved = false;
  float attention_factor = 1.0f;  // cos and sin are scaled by this (longrope)
};

// Writes one layer's new K/V into the token-slot pool. For i8 storage each (slot, kv_head)
// row gets scale = max|x| / 127 (f32) and q = round_half_even(x / scale) (0 when scale == 0).
// 16-bit storage rounds to nearest even.
struct StoreKvParams {
  const float* k = nullptr;        // [n_tokens, n_kv_heads, head_dim]
  const float* v = nullptr;        // [n_tokens, n_kv_heads, head_dim]
  const int32_t* slots = nullptr;  // [n_tokens], each in [0, n_slots)
  void* k_cache = nullptr;         // [n_slots, n_kv_heads, head_dim] cache_dtype
  void* v_cache = nullptr;         // [n_slots, n_kv_heads, head_dim] cache_dtype
  float* k_scale = nullptr;        // [n_slots, n_kv_heads] (i8 only)
  float* v_scale = nullptr;        // [n_slots, n_kv_heads] (i8 only)
  DType cache_dtype = DType::f32;  // f32 | bf16 | f16 | i8
  int64_t n_tokens = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
};

// Causal GQA attention over the padding-free batch; K/V read through req_to_token.
// Request r owns query rows [q_start[r], q_start[r+1]); row i of r is at position
// p = kv_len[r] - q_len_r + (i - q_start[r]) and attends to key positions j with
// j <= p and (sliding_window == 0 or p - j < sliding_window); the key at position j lives
// in slot req_to_token[req_row[r] * req_to_token_stride + j]. ALiBi adds
// slope[h] * (j - p) to the scaled score. Query head h reads kv head h / (n_heads/n_kv_heads).
struct AttentionParams {
  const float* q = nullptr;        // [n_tokens, n_heads, head_dim]
  const void* k_cache = nullptr;   // [n_slots, n_kv_heads, head_dim] cache_dtype
  const void* v_cache = nullptr;   // [n_slots, n_kv_heads, head_dim] cache_dtype
  const float* k_scale = nullptr;  // [n_slots, n_kv_heads] (i8 only)
  const float* v_scale = nullptr;  // [n_slots, n_kv_heads] (i8 only)
  DType cache_dtype = DType::f32;
  float* out = nullptr;  // [n_tokens, n_heads, head_dim]
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  const int32_t* q_start = nullptr;  // [n_reqs + 1], q_start[0] == 0, q_start[n_reqs] == n_tokens
  const int32_t* kv_len = nullptr;   // [n_reqs], kv_len[r] >= q_len_r
  const int32_t* req_row = nullptr;  // [n_reqs]
  const int32_t* req_to_token = nullptr;  // [max_reqs, req_to_token_stride]
  int64_t req_to_token_stride = 0;
  int32_t n_reqs = 0;
  int32_t sliding_window = 0;           // 0 = unlimited
  float scale = 1.0f;                   // softmax scale
  const float* alibi_slopes = nullptr;  // [n_heads] or null
};

}  // namespace lightllm::kernels
