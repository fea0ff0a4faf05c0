// src/kernels/cuda/kv_scatter.h — writing the new tokens' K and V into their KV-pool slots.
// Pool layout (DESIGN.md §3): k_cache[slot][kv_head][head_dim], one token per slot. The slots
// of a step are any permutation of free slots (random order after churn). Slots must be
// distinct and inside the pool; the caller (the token allocator) guarantees it.
// int8 variant: symmetric per (token, kv head): scale = max|x| / 127, q = rint(x / scale)
// clamped to [-127, 127]; scale == 0 (an all-zero row) stores zeros. Dequant: x = q * scale.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct KvScatterParams {
  core::DType dtype = core::DType::bf16;  // of k, v (and of the caches in the plain variant)
  const void* k = nullptr;                // [n_tokens, n_kv_heads, head_dim], token stride k_stride
  const void* v = nullptr;                // [n_tokens, n_kv_heads, head_dim], token stride v_stride
  const int32_t* slots = nullptr;         // [n_tokens] destination slot of each token
  void* k_cache = nullptr;   // [n_slots, n_kv_heads, head_dim] dtype, or int8 for the int8 variant
  void* v_cache = nullptr;   // same
  float* k_scale = nullptr;  // [n_slots, n_kv_heads] int8 variant only
  float* v_scale = nullptr;  // [n_slots, n_kv_heads] int8 variant only
  int64_t n_tokens = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t k_stride = 0;  // 0 means n_kv_heads * head_dim
  int64_t v_stride = 0;
};

core::Status kv_scatter(const KvScatterParams& p, cudaStream_t stream);
core::Status kv_scatter_int8(const KvScatterParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
