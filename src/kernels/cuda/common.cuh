// src/kernels/cuda/common.cuh — shared device helpers for our CUDA kernels (device code only).
// Owns: float <-> bf16/f16 conversion through one overloaded pair, warp/block reductions, and
// the dtype dispatch used by every launch function (f16 and bf16 activations only).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

__device__ __forceinline__ float to_f32(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
__device__ __forceinline__ float to_f32(__half x) {
  return __half2float(x);
}
__device__ __forceinline__ float to_f32(float x) {
  return x;
}

template <typename T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024). All threads get it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int n_warps = (blockDim.x + 31) >> 5;
  v = lane < n_warps ? partial[lane] : 0.f;
  return warp_sum(v);
}

// Status for a dtype that a kernel does not take.
inline core::Status unsupported_dtype(const char* kernel, core::DType dt) {
  return core::invalid_argument("{}: activation dtype {} not supported on CUDA (f16 or bf16)",
                                kernel, core::dtype_name(dt));
}

}  // namespace lightllm::kernels::cuda

// Runs BODY with `T` bound to the CUDA type of DTYPE (f16 or bf16); other dtypes return an error.
#define LLM_DISPATCH_HALF(KERNEL_NAME, DTYPE, ...)                                    \
  switch (DTYPE) {                                                                    \
    case ::lightllm::core::DType::bf16: {                                             \
      using T = __nv_bfloat16;                                                        \
      __VA_ARGS__;                                                                    \
      break;                                                                          \
    }                                                                                 \
    case ::lightllm::core::DType::f16: {                                              \
      using T = __half;                                                               \
      __VA_ARGS__;                                                                    \
      break;                                                                          \
    }                                                                                 \
    default: return ::lightllm::kernels::cuda::unsupported_dtype(KERNEL_NAME, DTYPE); \
  }
