// src/kernels/cuda/activation.cu — act(gate) * up, elementwise, grid-stride over all outputs.
#include "kernels/cuda/activation.h"

#include "kernels/cuda/common.cuh"

namespace lightllm::kernels::cuda {
namespace {

template <typename T, GatedAct kAct>
__global__ void gated_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                             int64_t row_stride, T* __restrict__ out, int64_t n_tokens,
                             int64_t inter) {
  const int64_t total = n_tokens * inter;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = idx / inter, j = idx % inter;
    const float g = to_f32(gate[t * row_stride + j]);
    const float u = to_f32(up[t * row_stride + j]);
    float a;
    if constexpr (kAct == GatedAct::silu) {
      a = g / (1.f + expf(-g));
    } else {
      const float k0 = 0.7978845608028654f;  // sqrt(2 / pi)
      a = 0.5f * g * (1.f + tanhf(k0 * (g + 0.044715f * g * g * g)));
    }
    out[idx] = from_f32<T>(a * u);
  }
}

}  // namespace

core::Status gated_activation(const GatedActParams& p, cudaStream_t stream) {
  if (p.in == nullptr || p.out == nullptr || p.n_tokens < 0 || p.inter <= 0) {
    return core::invalid_argument("gated_activation: null pointer or bad shape (inter={})",
                                  p.inter);
  }
  const int64_t total = p.n_tokens * p.inter;
  if (total == 0) return {};
  // Fused: gate and up interleave per row (stride 2 * inter); separate: stride inter each.
  const int64_t stride = p.up != nullptr ? p.inter : 2 * p.inter;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
  if (p.act == GatedAct::silu) {
    LLM_DISPATCH_HALF(
        "gated_activation", p.dtype,
        gated_kernel<T, GatedAct::silu><<<blocks, 256, 0, stream>>>(
            static_cast<const T*>(p.in),
            p.up != nullptr ? static_cast<const T*>(p.up) : static_cast<const T*>(p.in) + p.inter,
            stride, static_cast<T*>(p.out), p.n_tokens, p.inter));
  } else {
    LLM_DISPATCH_HALF(
        "gated_activation", p.dtype,
        gated_kernel<T, GatedAct::gelu_tanh><<<blocks, 256, 0, stream>>>(
            static_cast<const T*>(p.in),
            p.up != nullptr ? static_cast<const T*>(p.up) : static_cast<const T*>(p.in) + p.inter,
            stride, static_cast<T*>(p.out), p.n_tokens, p.inter));
  }
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
