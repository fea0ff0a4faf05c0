// src/kernels/cuda/activation.cuh — the f32 activation functions of the gated MLPs, shared by
// the elementwise activation kernels (activation.cu) and the gated GEMV epilogue (gemv.cu), so
// both compute act(g) with exactly the same instructions (device code only).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/activation.h"

namespace lightllm::kernels::cuda {

template <GatedAct kAct>
__device__ __forceinline__ float act_f32(float g) {
  if constexpr (kAct == GatedAct::silu) {
    return g / (1.f + expf(-g));
  } else if constexpr (kAct == GatedAct::gelu_tanh) {
    const float k0 = 0.7978845608028654f;  // sqrt(2 / pi)
    return 0.5f * g * (1.f + tanhf(k0 * (g + 0.044715f * g * g * g)));
  } else {
    return 0.5f * g * (1.f + erff(g * 0.7071067811865476f));  // 1 / sqrt(2)
  }
}

// The same, with the activation chosen at run time (an epilogue computed once per output).
__device__ __forceinline__ float act_f32(GatedAct act, float g) {
  switch (act) {
    case GatedAct::silu: return act_f32<GatedAct::silu>(g);
    case GatedAct::gelu_tanh: return act_f32<GatedAct::gelu_tanh>(g);
    default: return act_f32<GatedAct::gelu_erf>(g);
  }
}

}  // namespace lightllm::kernels::cuda
