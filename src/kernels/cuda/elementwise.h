// src/kernels/cuda/elementwise.h — small elementwise kernels of the non-LLaMA decoders:
// the plain residual add (families whose residual is not fused into the next RMSNorm) and
// Qwen v1's log-n query scaling. 16-bit activations (f16 or bf16), math in f32, one rounding.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct AddParams {
  core::DType dtype = core::DType::bf16;
  void* acc = nullptr;      // [n] contiguous; acc = round(acc + x)
  const void* x = nullptr;  // [n] contiguous (must not overlap acc unless equal)
  int64_t n = 0;
};

core::Status add_inplace(const AddParams& p, cudaStream_t stream);

// Qwen v1 use_logn_attn: the query of the token at position p (0-based) is multiplied by
// log(p + 1) / log(seq_length) when p + 1 > seq_length (rows at or below seq_length are left
// untouched). The factor is computed in f64 and rounded to f32, as the host reference does.
struct LognScaleParams {
  core::DType dtype = core::DType::bf16;
  void* q = nullptr;                   // [n_tokens, row_len] (row_len = n_heads * head_dim)
  const int32_t* positions = nullptr;  // [n_tokens]
  int64_t n_tokens = 0;
  int64_t row_len = 0;
  int64_t seq_length = 0;  // > 1
};

core::Status logn_scale(const LognScaleParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
