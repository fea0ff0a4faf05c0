// src/kernels/cuda/norm.h — RMSNorm, fused residual-add + RMSNorm, LayerNorm on CUDA.
// Activations and weights are f16 or bf16 (one dtype for all), statistics in f32.
// Rows may be strided (out and x can be views into wider buffers); each row is independent.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct RmsNormParams {
  core::DType dtype = core::DType::bf16;  // of x, residual, weight, out
  const void* x = nullptr;                // [n_tokens, hidden], row stride x_stride elements
  void* residual = nullptr;      // [n_tokens, hidden] contiguous; add_rmsnorm only: in r, out x+r
  const void* weight = nullptr;  // [hidden]
  void* out = nullptr;           // [n_tokens, hidden], row stride out_stride elements
  int64_t n_tokens = 0;
  int64_t hidden = 0;
  int64_t x_stride = 0;    // 0 means hidden
  int64_t out_stride = 0;  // 0 means hidden
  float eps = 1e-6f;
};

// out = x * rsqrt(mean(x^2) + eps) * weight
core::Status rmsnorm(const RmsNormParams& p, cudaStream_t stream);

// residual = round(x + residual); out = rmsnorm(residual) (HF order: the sum is rounded to the
// activation dtype first, then normalized).
core::Status add_rmsnorm(const RmsNormParams& p, cudaStream_t stream);

struct LayerNormParams {
  core::DType dtype = core::DType::bf16;
  const void* x = nullptr;       // [n_tokens, hidden], row stride x_stride
  const void* weight = nullptr;  // [hidden]
  const void* bias = nullptr;    // [hidden] or nullptr
  void* out = nullptr;           // [n_tokens, hidden], row stride out_stride
  int64_t n_tokens = 0;
  int64_t hidden = 0;
  int64_t x_stride = 0;
  int64_t out_stride = 0;
  float eps = 1e-5f;
  // 0 or 1: every row uses weight / bias [hidden]. n > 1: row r uses row (r % n) of weight /
  // bias [n, hidden] — the per-head q/k LayerNorm (StableLM, Cohere), whose rows are the
  // (token, head) pairs of q [n_tokens, n_heads, head_dim] with weight [n_heads, head_dim].
  int64_t weight_rows = 0;
};

// out = (x - mean) * rsqrt(var + eps) * weight + bias   (biased variance, as torch)
core::Status layernorm(const LayerNormParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
