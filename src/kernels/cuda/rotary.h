// src/kernels/cuda/rotary.h — rotary position embedding applied in place to q and k.
// Two layouts: rotate_half (GPT-NeoX / LLaMA HF: pairs (i, i + rotary_dim/2)) and interleaved
// (GPT-J / ChatGLM: pairs (2i, 2i+1)). Only the first rotary_dim dims of each head rotate
// (partial rotary); the rest pass through. angle(i) = positions[token] * inv_freq[i], computed
// in f32 with accurate sincosf, both scaled by attention_factor; the caller builds inv_freq (so
// any rope scaling is its choice).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/cuda/kv_scatter.h"

namespace lightllm::kernels::cuda {

enum class RotaryStyle { rotate_half, interleaved };

struct RotaryParams {
  core::DType dtype = core::DType::bf16;  // of q and k
  void* q = nullptr;                      // [n_tokens, n_heads, head_dim], token stride q_stride
  void* k = nullptr;  // [n_tokens, n_kv_heads, head_dim], token stride k_stride; may be null
  const int32_t* positions = nullptr;  // [n_tokens] absolute positions
  const float* inv_freq = nullptr;     // [rotary_dim / 2]
  int64_t n_tokens = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int rotary_dim = 0;    // even, <= head_dim, <= 1024
  int64_t q_stride = 0;  // elements between tokens; 0 means n_heads * head_dim
  int64_t k_stride = 0;  // 0 means n_kv_heads * head_dim
  RotaryStyle style = RotaryStyle::rotate_half;
  float attention_factor = 1.0f;  // cos and sin are multiplied by this (longrope, HF
                                  // attention_scaling)
};

core::Status rotary(const RotaryParams& p, cudaStream_t stream);

// rotary(rope) then kv_scatter(kv) (int8: kv_scatter_int8) in one launch, bit for bit the same:
// q and k rotated in place, the rotated k and v written to their slots. kv.k must be rope.k
// (same stride), with the same tokens, kv heads, head_dim and dtype.
core::Status rope_kv_scatter(const RotaryParams& rope, const KvScatterParams& kv, bool int8,
                             cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
