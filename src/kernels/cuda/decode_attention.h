// src/kernels/cuda/decode_attention.h — "token attention" for decode: one new query token per
// request attends to its kv_len cached tokens, read from the KV pool through req_to_token.
// Split-K flash-decoding: the token range of each request is cut into n_splits chunks; each
// block computes a partial softmax-weighted sum for one chunk and a group of query heads that
// share one kv head (GQA: query head h uses kv head h / (n_heads / n_kv_heads)) on the tensor
// cores (the heads are the rows of an mma.sync tile; decode_attention_mma.cuh), and a reduction
// kernel merges the chunks by their log-sum-exp (with one chunk, the usual choice at batch >= 32
// on an H100/H200 and at batch 1 up to 64 tokens, or 129-256 of 16-bit K/V, the split kernel
// writes the output and no reduction runs). With int8 K/V (one
// f32 scale per (slot, kv head)) the mma runs in f16 on the exactly converted bytes.
// Requests with kv_len == 0 get a zero output row. head_dim: 16, 32, 64, 80, 96 or 128.
// ALiBi (alibi_slopes): score of key j for the query at position kv_len - 1 gets
// slope[h] * (j - (kv_len - 1)) added after the softmax scale, as kernels/ref.
// CUDA graphs: the grid depends only on the host values n_reqs, n_heads, max_kv_len and
// n_splits; everything per step (q, kv_len, req_to_token rows) is read from device memory. On
// sm_90+ the reduction kernel is a programmatic dependent launch (cudaLaunchKernelEx; captured
// into graphs as a programmatic edge). A
// max_kv_len above the real lengths (a capture bucket's upper bound) stays exact: the chunk
// size is max_kv_len / n_splits, so splits past a request's length exit at once (lse = -inf)
// and the reduction skips them; the cost is those empty blocks and fewer tokens per busy block.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct DecodeAttentionParams {
  core::DType dtype = core::DType::bf16;  // of q, out, and K/V unless kv_int8
  bool kv_int8 = false;                   // K/V caches are int8 with per-(slot, kv head) scales
  const void* q = nullptr;                // [n_reqs, n_heads, head_dim], request stride q_stride
  const void* k_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const void* v_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const float* k_scale = nullptr;         // [n_slots, n_kv_heads] (kv_int8 only)
  const float* v_scale = nullptr;         // [n_slots, n_kv_heads] (kv_int8 only)
  const int32_t* req_to_token = nullptr;  // [max_reqs, req_to_token_stride] -> slot
  const int32_t* req_row = nullptr;       // [n_reqs] row of each request in req_to_token
  const int32_t* kv_len = nullptr;        // [n_reqs] tokens to attend (new token included)
  void* out = nullptr;                    // [n_reqs, n_heads, head_dim] contiguous
  int n_reqs = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t q_stride = 0;             // 0 means n_heads * head_dim
  int64_t req_to_token_stride = 0;  // columns of req_to_token
  int max_kv_len = 0;               // host-known upper bound of kv_len[] (sizes the split)
  float softmax_scale = 0.f;        // usually 1/sqrt(head_dim)
  void* workspace = nullptr;        // at least decode_attention_workspace_bytes(*this) bytes
  size_t workspace_bytes = 0;
  int n_splits = 0;  // 0: chosen from the device's SM count (see decode_attention_splits)
  const float* alibi_slopes = nullptr;  // [n_heads] f32 on the device, nullptr = none
};

// The number of chunks the launch will use for these params on the current device.
int decode_attention_splits(const DecodeAttentionParams& p);
// Workspace for the partial results (f32 outputs + log-sum-exp per split).
size_t decode_attention_workspace_bytes(const DecodeAttentionParams& p);
// Whether the split kernel's grid is small: at most half the device's SMs' worth of blocks
// (n_reqs x head groups x splits). The kernel before it may then let it be scheduled at its
// start (GemvParams::early_dependents): its blocks fit beside that kernel's and copy the
// cached K/V before their wait (docs/PERFORMANCE.md run 27: 32 blocks gained 0.4% a batch-1
// step, 128 blocks lost 0.5%).
bool decode_attention_grid_is_small(const DecodeAttentionParams& p);

core::Status decode_attention(const DecodeAttentionParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
