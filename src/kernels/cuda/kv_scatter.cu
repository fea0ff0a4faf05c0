// src/kernels/cuda/kv_scatter.cu — one warp per (token, kv head) copies (or quantizes) K and V.
// Launched with PDL (pdl.cuh).
#include "kernels/cuda/kv_scatter.h"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kv_quant.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kWarps = 4;

template <typename T>
__global__ void kv_scatter_kernel(KvScatterParams p, int64_t ks, int64_t vs) {
  pdl_wait();  // k, v and slots come from earlier kernels or copies (pdl.cuh)
  pdl_launch_dependents();
  const int64_t item = blockIdx.x * int64_t{kWarps} + (threadIdx.x >> 5);
  if (item >= p.n_tokens * p.n_kv_heads) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = item / p.n_kv_heads;
  const int h = static_cast<int>(item % p.n_kv_heads);
  const int64_t dst = (static_cast<int64_t>(p.slots[t]) * p.n_kv_heads + h) * p.head_dim;
  const T* k = static_cast<const T*>(p.k) + t * ks + static_cast<int64_t>(h) * p.head_dim;
  const T* v = static_cast<const T*>(p.v) + t * vs + static_cast<int64_t>(h) * p.head_dim;
  T* kc = static_cast<T*>(p.k_cache) + dst;
  T* vc = static_cast<T*>(p.v_cache) + dst;
  for (int i = lane; i < p.head_dim; i += 32) {
    kc[i] = k[i];
    vc[i] = v[i];
  }
}

template <typename T>
__global__ void kv_scatter_int8_kernel(KvScatterParams p, int64_t ks, int64_t vs) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t item = blockIdx.x * int64_t{kWarps} + (threadIdx.x >> 5);
  if (item >= p.n_tokens * p.n_kv_heads) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = item / p.n_kv_heads;
  const int h = static_cast<int>(item % p.n_kv_heads);
  const int64_t row = static_cast<int64_t>(p.slots[t]) * p.n_kv_heads + h;
  const T* k = static_cast<const T*>(p.k) + t * ks + static_cast<int64_t>(h) * p.head_dim;
  const T* v = static_cast<const T*>(p.v) + t * vs + static_cast<int64_t>(h) * p.head_dim;
  quantize_row(k, static_cast<int8_t*>(p.k_cache) + row * p.head_dim, p.k_scale + row, p.head_dim,
               lane);
  quantize_row(v, static_cast<int8_t*>(p.v_cache) + row * p.head_dim, p.v_scale + row, p.head_dim,
               lane);
}

core::Status check(const KvScatterParams& p, bool int8) {
  if (p.k == nullptr || p.v == nullptr || p.slots == nullptr || p.k_cache == nullptr ||
      p.v_cache == nullptr || (int8 && (p.k_scale == nullptr || p.v_scale == nullptr))) {
    return core::invalid_argument("kv_scatter{}: null pointer", int8 ? "_int8" : "");
  }
  if (p.n_tokens < 0 || p.n_kv_heads <= 0 || p.head_dim <= 0) {
    return core::invalid_argument("kv_scatter: bad shape n_kv_heads={} head_dim={}", p.n_kv_heads,
                                  p.head_dim);
  }
  return {};
}

}  // namespace

core::Status kv_scatter(const KvScatterParams& p, cudaStream_t stream) {
  LLM_RETURN_IF_ERROR(check(p, false));
  const int64_t items = p.n_tokens * p.n_kv_heads;
  if (items == 0) return {};
  const int64_t ks = p.k_stride ? p.k_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const int64_t vs = p.v_stride ? p.v_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const unsigned blocks = static_cast<unsigned>((items + kWarps - 1) / kWarps);
  LLM_DISPATCH_HALF("kv_scatter", p.dtype,
                    return LLM_CUDA_CHECK(launch_pdl(kv_scatter_kernel<T>, dim3(blocks),
                                                     dim3(kWarps * 32), 0, stream, p, ks, vs)));
  return {};
}

core::Status kv_scatter_int8(const KvScatterParams& p, cudaStream_t stream) {
  LLM_RETURN_IF_ERROR(check(p, true));
  const int64_t items = p.n_tokens * p.n_kv_heads;
  if (items == 0) return {};
  const int64_t ks = p.k_stride ? p.k_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const int64_t vs = p.v_stride ? p.v_stride : int64_t{p.n_kv_heads} * p.head_dim;
  const unsigned blocks = static_cast<unsigned>((items + kWarps - 1) / kWarps);
  LLM_DISPATCH_HALF("kv_scatter_int8", p.dtype,
                    return LLM_CUDA_CHECK(launch_pdl(kv_scatter_int8_kernel<T>, dim3(blocks),
                                                     dim3(kWarps * 32), 0, stream, p, ks, vs)));
  return {};
}

}  // namespace lightllm::kernels::cuda
