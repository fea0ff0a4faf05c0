// src/kernels/cuda/prefill_attention.h — prefill attention over the flat, padding-free batch.
// FlashAttention-2 style: per (query tile of 64 or 128 rows, query head, request) one block of
// 4 or 8 warps (16 rows each);
// Q fragments stay in registers, K/V tiles of 64 tokens are gathered from the KV pool through
// req_to_token into shared memory (cp.async, double-buffered), S = QK^T and O += PV run on tensor
// cores (mma.sync m16n8k16, f32 accumulation) with an online softmax.
// Request r's new tokens are rows q_start[r] .. q_start[r+1]-1 of q; they are the LAST
// q_len = q_start[r+1]-q_start[r] of its kv_len tokens (so a cached prefix of kv_len - q_len
// tokens is attended too: chunked prefill and prefix cache). Their K/V must already be in the
// pool (kv_scatter runs first). Requires kv_len[r] >= q_len.
// Causal: the new token at position p sees positions <= p. Sliding window w > 0: it sees only
// positions in (p - w, p], i.e. at most w keys. GQA/MQA: query head h uses kv head
// h / (n_heads / n_kv_heads). head_dim: 16, 32, 64, 80, 96, 128.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct PrefillAttentionParams {
  core::DType dtype = core::DType::bf16;  // of q, K/V caches and out
  const void* q = nullptr;                // [n_tokens, n_heads, head_dim], token stride q_stride
  const void* k_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const void* v_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const int32_t* req_to_token = nullptr;  // [max_reqs, req_to_token_stride] -> slot
  const int32_t* req_row = nullptr;       // [n_reqs] row of each request in req_to_token
  const int32_t* q_start = nullptr;       // [n_reqs + 1] prefix sums of q_len
  const int32_t* kv_len = nullptr;        // [n_reqs] cached prefix + new tokens
  void* out = nullptr;                    // [n_tokens, n_heads, head_dim] contiguous
  int n_reqs = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int max_q_len = 0;     // host-known upper bound of q_len (sizes the grid)
  int64_t q_stride = 0;  // 0 means n_heads * head_dim
  int64_t req_to_token_stride = 0;
  float softmax_scale = 0.f;
  bool causal = true;
  int sliding_window = 0;  // 0: none
  int block_rows = 0;      // query rows per block: 64 (4 warps) or 128 (8 warps); 0 = by max_q_len
};

core::Status prefill_attention(const PrefillAttentionParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
