// src/kernels/cuda/kv_quant.cuh — the int8 KV quantization of one (token, kv head) row by one
// warp (device code), shared by kv_scatter.cu and the fused rotary + KV store of rotary.cu so
// both write identical bytes. Symmetric: scale = max|x| / 127, q = rint(x / scale) clamped to
// [-127, 127]; scale == 0 (an all-zero row) stores zeros (see kv_scatter.h).
#pragma once

#include "kernels/cuda/common.cuh"

namespace lightllm::kernels::cuda {

// x: [head_dim] (T), q: [head_dim] int8, *scale: f32. Every lane of the warp calls it.
template <typename T>
__device__ void quantize_row(const T* x, int8_t* q, float* scale, int head_dim, int lane) {
  float m = 0.f;
  for (int i = lane; i < head_dim; i += 32) m = fmaxf(m, fabsf(to_f32(x[i])));
  m = warp_max(m);
  const float s = m / 127.f;
  if (lane == 0) *scale = s;
  for (int i = lane; i < head_dim; i += 32) {
    float r = s > 0.f ? rintf(to_f32(x[i]) / s) : 0.f;
    r = fminf(fmaxf(r, -127.f), 127.f);
    q[i] = static_cast<int8_t>(r);
  }
}

}  // namespace lightllm::kernels::cuda
