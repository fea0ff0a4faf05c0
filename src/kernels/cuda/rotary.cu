// src/kernels/cuda/rotary.cu — rotary embedding in place, and rotary fused with the KV store.
// rotary(): one block per token: cos/sin of its position into shared memory, then every (head,
// pair) of q and k rotated in f32 and rounded once.
// rope_kv_scatter(): blocks of kHeadsPerBlock warps, one warp per head of one token (q heads,
// then kv heads); a kv-head warp rotates its k row in place, then (after __syncwarp, which
// orders the lanes' global writes) reads the rounded row back and writes it with v to the
// token's slot exactly as kv_scatter / kv_scatter_int8 do, so the fused kernel equals rotary()
// followed by kv_scatter*() bit for bit. Both launched with PDL (pdl.cuh).
#include "kernels/cuda/rotary.h"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kv_quant.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rotary.cuh"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kHeadsPerBlock = 8;  // rope_kv_scatter: warps per block

// cs[0, half) = cos, cs[half, 2 half) = sin of positions[tok] * inv_freq, both scaled.
__device__ __forceinline__ void rotary_table(const RotaryParams& p, int64_t tok, float* cs) {
  const int half = p.rotary_dim / 2;
  const float pos = static_cast<float>(p.positions[tok]);
  for (int i = threadIdx.x; i < half; i += blockDim.x)
    rotary_cos_sin(pos, p.inv_freq[i], p.attention_factor, cs[i], cs[half + i]);
}

// Rotates pair i of one head row in place.
template <typename T>
__device__ __forceinline__ void rotate_pair(const RotaryParams& p, const float* cs, T* base,
                                            int i) {
  const int half = p.rotary_dim / 2;
  const int i0 = p.style == RotaryStyle::rotate_half ? i : 2 * i;
  const int i1 = p.style == RotaryStyle::rotate_half ? i + half : 2 * i + 1;
  const float2 r = rotate_pair_f32(to_f32(base[i0]), to_f32(base[i1]), cs[i], cs[half + i]);
  base[i0] = from_f32<T>(r.x);
  base[i1] = from_f32<T>(r.y);
}

template <typename T>
__global__ void rotary_kernel(RotaryParams p, int64_t q_stride, int64_t k_stride) {
  extern __shared__ float cs[];  // [half] cos then [half] sin
  const int half = p.rotary_dim / 2;
  const int64_t tok = blockIdx.x;
  pdl_wait();  // q, k and positions come from earlier kernels or copies (pdl.cuh)
  pdl_launch_dependents();
  rotary_table(p, tok, cs);
  __syncthreads();
  const int n_k = p.k != nullptr ? p.n_kv_heads : 0;
  const int total = (p.n_heads + n_k) * half;
  for (int idx = threadIdx.x; idx < total; idx += blockDim.x) {
    const int head = idx / half, i = idx % half;
    T* base = head < p.n_heads
                  ? static_cast<T*>(p.q) + tok * q_stride + static_cast<int64_t>(head) * p.head_dim
                  : static_cast<T*>(p.k) + tok * k_stride +
                        static_cast<int64_t>(head - p.n_heads) * p.head_dim;
    rotate_pair(p, cs, base, i);
  }
}

template <typename T, bool kInt8>
__global__ void rope_kv_kernel(RotaryParams p, KvScatterParams kv, int64_t q_stride,
                               int64_t k_stride, int64_t v_stride) {
  extern __shared__ float cs[];  // [half] cos then [half] sin
  const int64_t tok = blockIdx.x;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int head = static_cast<int>(blockIdx.y) * kHeadsPerBlock + warp;
  pdl_wait();
  pdl_launch_dependents();
  rotary_table(p, tok, cs);
  __syncthreads();
  if (head >= p.n_heads + p.n_kv_heads) return;
  const bool is_q = head < p.n_heads;
  const int h = is_q ? head : head - p.n_heads;
  T* base = is_q ? static_cast<T*>(p.q) + tok * q_stride + static_cast<int64_t>(h) * p.head_dim
                 : static_cast<T*>(p.k) + tok * k_stride + static_cast<int64_t>(h) * p.head_dim;
  for (int i = lane; i < p.rotary_dim / 2; i += 32) rotate_pair(p, cs, base, i);
  if (is_q) return;
  __syncwarp();  // the rotated, rounded k row of every lane is visible to the warp
  const int64_t row = static_cast<int64_t>(kv.slots[tok]) * kv.n_kv_heads + h;
  const T* v = static_cast<const T*>(kv.v) + tok * v_stride + static_cast<int64_t>(h) * p.head_dim;
  if constexpr (kInt8) {
    quantize_row(static_cast<const T*>(base), static_cast<int8_t*>(kv.k_cache) + row * p.head_dim,
                 kv.k_scale + row, p.head_dim, lane);
    quantize_row(v, static_cast<int8_t*>(kv.v_cache) + row * p.head_dim, kv.v_scale + row,
                 p.head_dim, lane);
  } else {
    T* kc = static_cast<T*>(kv.k_cache) + row * p.head_dim;
    T* vc = static_cast<T*>(kv.v_cache) + row * p.head_dim;
    for (int i = lane; i < p.head_dim; i += 32) {
      kc[i] = base[i];
      vc[i] = v[i];
    }
  }
}

core::Status check_rotary(const RotaryParams& p) {
  if (p.q == nullptr || p.positions == nullptr || p.inv_freq == nullptr) {
    return core::invalid_argument("rotary: null q, positions or inv_freq");
  }
  if (p.rotary_dim <= 0 || p.rotary_dim % 2 != 0 || p.rotary_dim > p.head_dim ||
      p.rotary_dim > 1024 || p.n_heads <= 0 || (p.k != nullptr && p.n_kv_heads <= 0)) {
    return core::invalid_argument("rotary: bad rotary_dim={} head_dim={} n_heads={} n_kv_heads={}",
                                  p.rotary_dim, p.head_dim, p.n_heads, p.n_kv_heads);
  }
  return {};
}

}  // namespace

core::Status rotary(const RotaryParams& p, cudaStream_t stream) {
  LLM_RETURN_IF_ERROR(check_rotary(p));
  if (p.n_tokens == 0) return {};
  const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * p.head_dim;
  const int64_t ks = p.k_stride ? p.k_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const size_t smem = sizeof(float) * p.rotary_dim;
  LLM_DISPATCH_HALF(
      "rotary", p.dtype,
      return LLM_CUDA_CHECK(launch_pdl(rotary_kernel<T>, dim3(static_cast<unsigned>(p.n_tokens)),
                                       dim3(256), smem, stream, p, qs, ks)));
  return {};
}

core::Status rope_kv_scatter(const RotaryParams& rope, const KvScatterParams& kv, bool int8,
                             cudaStream_t stream) {
  LLM_RETURN_IF_ERROR(check_rotary(rope));
  const int64_t qs = rope.q_stride ? rope.q_stride : int64_t{rope.n_heads} * rope.head_dim;
  const int64_t ks = rope.k_stride ? rope.k_stride : int64_t{rope.n_kv_heads} * rope.head_dim;
  const int64_t kv_ks = kv.k_stride ? kv.k_stride : int64_t{kv.n_kv_heads} * kv.head_dim;
  const int64_t vs = kv.v_stride ? kv.v_stride : int64_t{kv.n_kv_heads} * kv.head_dim;
  if (rope.k == nullptr || kv.k != rope.k || kv_ks != ks || kv.n_tokens != rope.n_tokens ||
      kv.n_kv_heads != rope.n_kv_heads || kv.head_dim != rope.head_dim || kv.dtype != rope.dtype) {
    return core::invalid_argument(
        "rope_kv_scatter: the rotary k and the stored k must be the same tensor (pointer, stride, "
        "tokens, heads, head_dim, dtype)");
  }
  if (kv.v == nullptr || kv.slots == nullptr || kv.k_cache == nullptr || kv.v_cache == nullptr ||
      (int8 && (kv.k_scale == nullptr || kv.v_scale == nullptr))) {
    return core::invalid_argument("rope_kv_scatter: null v, slots, cache or scale pointer");
  }
  if (rope.n_tokens == 0) return {};
  const dim3 grid(static_cast<unsigned>(rope.n_tokens),
                  static_cast<unsigned>((rope.n_heads + rope.n_kv_heads + kHeadsPerBlock - 1) /
                                        kHeadsPerBlock));
  const dim3 block(kHeadsPerBlock * 32);
  const size_t smem = sizeof(float) * rope.rotary_dim;
  LLM_DISPATCH_HALF("rope_kv_scatter", rope.dtype,
                    return LLM_CUDA_CHECK(int8 ? launch_pdl(rope_kv_kernel<T, true>, grid, block,
                                                            smem, stream, rope, kv, qs, ks, vs)
                                               : launch_pdl(rope_kv_kernel<T, false>, grid, block,
                                                            smem, stream, rope, kv, qs, ks, vs)));
  return {};
}

}  // namespace lightllm::kernels::cuda
