// src/kernels/cuda/rotary.cu — one block per token: cos/sin of its position into shared memory,
// then every (head, pair) of q and k rotated in f32 and rounded once.
#include "kernels/cuda/rotary.h"

#include "kernels/cuda/common.cuh"

namespace lightllm::kernels::cuda {
namespace {

template <typename T>
__global__ void rotary_kernel(RotaryParams p, int64_t q_stride, int64_t k_stride) {
  extern __shared__ float cs[];  // [half] cos then [half] sin
  const int half = p.rotary_dim / 2;
  const int64_t tok = blockIdx.x;
  const float pos = static_cast<float>(p.positions[tok]);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float s, c;
    sincosf(pos * p.inv_freq[i], &s, &c);
    cs[i] = c * p.attention_factor;
    cs[half + i] = s * p.attention_factor;
  }
  __syncthreads();
  const int n_k = p.k != nullptr ? p.n_kv_heads : 0;
  const int total = (p.n_heads + n_k) * half;
  for (int idx = threadIdx.x; idx < total; idx += blockDim.x) {
    const int head = idx / half, i = idx % half;
    T* base = head < p.n_heads
                  ? static_cast<T*>(p.q) + tok * q_stride + static_cast<int64_t>(head) * p.head_dim
                  : static_cast<T*>(p.k) + tok * k_stride +
                        static_cast<int64_t>(head - p.n_heads) * p.head_dim;
    const int i0 = p.style == RotaryStyle::rotate_half ? i : 2 * i;
    const int i1 = p.style == RotaryStyle::rotate_half ? i + half : 2 * i + 1;
    const float x0 = to_f32(base[i0]), x1 = to_f32(base[i1]);
    const float c = cs[i], s = cs[half + i];
    base[i0] = from_f32<T>(x0 * c - x1 * s);
    base[i1] = from_f32<T>(x1 * c + x0 * s);
  }
}

}  // namespace

core::Status rotary(const RotaryParams& p, cudaStream_t stream) {
  if (p.q == nullptr || p.positions == nullptr || p.inv_freq == nullptr) {
    return core::invalid_argument("rotary: null q, positions or inv_freq");
  }
  if (p.rotary_dim <= 0 || p.rotary_dim % 2 != 0 || p.rotary_dim > p.head_dim ||
      p.rotary_dim > 1024 || p.n_heads <= 0 || (p.k != nullptr && p.n_kv_heads <= 0)) {
    return core::invalid_argument("rotary: bad rotary_dim={} head_dim={} n_heads={} n_kv_heads={}",
                                  p.rotary_dim, p.head_dim, p.n_heads, p.n_kv_heads);
  }
  if (p.n_tokens == 0) return {};
  const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * p.head_dim;
  const int64_t ks = p.k_stride ? p.k_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const size_t smem = sizeof(float) * p.rotary_dim;
  LLM_DISPATCH_HALF("rotary", p.dtype,
                    rotary_kernel<T>
                    <<<static_cast<unsigned>(p.n_tokens), 256, smem, stream>>>(p, qs, ks));
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
