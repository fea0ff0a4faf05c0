// src/kernels/cuda/activation.cu — act(gate) * up and act(x), elementwise, grid-stride over all
// outputs; the activation is computed in f32 and rounded once.
#include "kernels/cuda/activation.h"

#include "kernels/cuda/activation.cuh"
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
    out[idx] = from_f32<T>(act_f32<kAct>(g) * u);
  }
}

// x and out may be the same array (each element is read before it is written, by one thread).
template <typename T, GatedAct kAct>
__global__ void plain_kernel(const T* x, T* out, int64_t n) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < n;
       idx += int64_t{gridDim.x} * blockDim.x)
    out[idx] = from_f32<T>(act_f32<kAct>(to_f32(x[idx])));
}

unsigned blocks_for(int64_t total) {
  return static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
}

template <GatedAct kAct>
core::Status launch_gated(const GatedActParams& p, cudaStream_t stream) {
  // Fused: gate and up interleave per row (stride 2 * inter); separate: stride inter each.
  const int64_t stride = p.up != nullptr ? p.inter : 2 * p.inter;
  LLM_DISPATCH_HALF(
      "gated_activation", p.dtype,
      gated_kernel<T, kAct><<<blocks_for(p.n_tokens * p.inter), 256, 0, stream>>>(
          static_cast<const T*>(p.in),
          p.up != nullptr ? static_cast<const T*>(p.up) : static_cast<const T*>(p.in) + p.inter,
          stride, static_cast<T*>(p.out), p.n_tokens, p.inter));
  return LLM_CUDA_CHECK_LAUNCH();
}

template <GatedAct kAct>
core::Status launch_plain(const ActivationParams& p, cudaStream_t stream) {
  LLM_DISPATCH_HALF("activation", p.dtype,
                    plain_kernel<T, kAct><<<blocks_for(p.n), 256, 0, stream>>>(
                        static_cast<const T*>(p.x), static_cast<T*>(p.out), p.n));
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace

core::Status gated_activation(const GatedActParams& p, cudaStream_t stream) {
  if (p.in == nullptr || p.out == nullptr || p.n_tokens < 0 || p.inter <= 0) {
    return core::invalid_argument("gated_activation: null pointer or bad shape (inter={})",
                                  p.inter);
  }
  if (p.n_tokens * p.inter == 0) return {};
  switch (p.act) {
    case GatedAct::silu: return launch_gated<GatedAct::silu>(p, stream);
    case GatedAct::gelu_tanh: return launch_gated<GatedAct::gelu_tanh>(p, stream);
    case GatedAct::gelu_erf: return launch_gated<GatedAct::gelu_erf>(p, stream);
  }
  return core::invalid_argument("gated_activation: unknown activation");
}

core::Status activation(const ActivationParams& p, cudaStream_t stream) {
  if (p.x == nullptr || p.out == nullptr || p.n < 0)
    return core::invalid_argument("activation: null pointer or bad size (n={})", p.n);
  if (p.n == 0) return {};
  switch (p.act) {
    case GatedAct::silu: return launch_plain<GatedAct::silu>(p, stream);
    case GatedAct::gelu_tanh: return launch_plain<GatedAct::gelu_tanh>(p, stream);
    case GatedAct::gelu_erf: return launch_plain<GatedAct::gelu_erf>(p, stream);
  }
  return core::invalid_argument("activation: unknown activation");
}

}  // namespace lightllm::kernels::cuda
