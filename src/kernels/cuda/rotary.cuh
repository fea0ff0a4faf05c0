// src/kernels/cuda/rotary.cuh — the arithmetic of one rotary pair (device code only), shared by
// every kernel that rotates q/k (rotary.cu; the GEMV's rotary + KV store epilogue in gemv.cu)
// so that they agree bit for bit. Every operation is an explicit intrinsic: no FMA-contraction
// choice is left to the compiler, whatever code surrounds the call.
#pragma once

#include <cuda_runtime.h>

namespace lightllm::kernels::cuda {

// cos and sin of pos · inv_freq (accurate sincosf), both multiplied by factor.
__device__ __forceinline__ void rotary_cos_sin(float pos, float inv_freq, float factor, float& c,
                                               float& s) {
  float sn, cn;
  sincosf(__fmul_rn(pos, inv_freq), &sn, &cn);
  c = __fmul_rn(cn, factor);
  s = __fmul_rn(sn, factor);
}

// The rotated pair (x0·c − x1·s, x1·c + x0·s) in f32, before the caller's one rounding.
__device__ __forceinline__ float2 rotate_pair_f32(float x0, float x1, float c, float s) {
  return make_float2(__fmaf_rn(x0, c, -__fmul_rn(x1, s)), __fmaf_rn(x1, c, __fmul_rn(x0, s)));
}

}  // namespace lightllm::kernels::cuda
