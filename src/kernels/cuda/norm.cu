// src/kernels/cuda/norm.cu — RMSNorm / add+RMSNorm / LayerNorm: one block per row.
// Each thread walks the row with stride blockDim.x (any hidden size works, odd included);
// the same thread re-reads what it wrote, so the fused residual needs no extra barrier.
// Launched with PDL (pdl.cuh): each block waits for the previous kernel first.
#include "kernels/cuda/norm.h"

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T, bool kAdd>
__global__ void rmsnorm_kernel(const T* x, T* __restrict__ residual, const T* __restrict__ w,
                               T* __restrict__ out, int64_t hidden, int64_t x_stride,
                               int64_t out_stride, float eps) {
  const int64_t row = blockIdx.x;
  pdl_wait();  // x / residual come from earlier kernels (pdl.cuh)
  pdl_launch_dependents();
  const T* xr = x + row * x_stride;
  T* rr = kAdd ? residual + row * hidden : nullptr;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = to_f32(xr[i]);
    if constexpr (kAdd) {
      const T z = from_f32<T>(v + to_f32(rr[i]));
      rr[i] = z;
      v = to_f32(z);
    }
    ss += v * v;
  }
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(hidden) + eps);
  T* orow = out + row * out_stride;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float v = kAdd ? to_f32(rr[i]) : to_f32(xr[i]);
    orow[i] = from_f32<T>(v * inv * to_f32(w[i]));
  }
}

// The same in 16-byte chunks (hidden % 8 == 0, 16-byte aligned rows, hidden <= 8 * kThreads *
// C): thread t owns chunks t, t + kThreads, ... (C of them), all loaded at once and kept in
// registers; the weights are loaded before the PDL wait (constants). Same rounding as
// rmsnorm_kernel; only the order of the sum of squares differs. Llama-2-7B's final norm, under
// the lm_head's early weight loads: 17.0 us on the GPU (15.0 us added to the decode step) with
// the scalar loop, 6.8 (5.3) this way (docs/PERFORMANCE.md run 22).
template <typename T, bool kAdd, int C>
__global__ void rmsnorm_vec_kernel(const T* x, T* __restrict__ residual, const T* __restrict__ w,
                                   T* __restrict__ out, int64_t hidden, int64_t x_stride,
                                   int64_t out_stride, float eps) {
  const int64_t row = blockIdx.x, n_chunks = hidden / 8;
  auto owned = [&](int c) { return threadIdx.x + int64_t{c} * blockDim.x < n_chunks; };
  auto chunk = [&](int c) { return threadIdx.x + int64_t{c} * blockDim.x; };
  uint4 wv[C], xv[C];
#pragma unroll
  for (int c = 0; c < C; ++c)
    if (owned(c)) wv[c] = __ldg(reinterpret_cast<const uint4*>(w) + chunk(c));
  pdl_wait();  // x / residual come from earlier kernels (pdl.cuh)
  pdl_launch_dependents();
  const uint4* xr = reinterpret_cast<const uint4*>(x + row * x_stride);
  uint4* rr = kAdd ? reinterpret_cast<uint4*>(residual + row * hidden) : nullptr;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (!owned(c)) continue;
    xv[c] = xr[chunk(c)];
    if constexpr (kAdd) {
      const uint4 r = rr[chunk(c)];
      T* xe = reinterpret_cast<T*>(&xv[c]);
      const T* re = reinterpret_cast<const T*>(&r);
#pragma unroll
      for (int e = 0; e < 8; ++e) xe[e] = from_f32<T>(to_f32(xe[e]) + to_f32(re[e]));
    }
  }
  float ss = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (!owned(c)) continue;
    if constexpr (kAdd) rr[chunk(c)] = xv[c];
    const T* xe = reinterpret_cast<const T*>(&xv[c]);
#pragma unroll
    for (int e = 0; e < 8; ++e) ss += to_f32(xe[e]) * to_f32(xe[e]);
  }
  const float inv = rsqrtf(block_sum(ss) / static_cast<float>(hidden) + eps);
  uint4* orow = reinterpret_cast<uint4*>(out + row * out_stride);
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (!owned(c)) continue;
    uint4 o;
    T* oe = reinterpret_cast<T*>(&o);
    const T* xe = reinterpret_cast<const T*>(&xv[c]);
    const T* we = reinterpret_cast<const T*>(&wv[c]);
#pragma unroll
    for (int e = 0; e < 8; ++e) oe[e] = from_f32<T>(to_f32(xe[e]) * inv * to_f32(we[e]));
    orow[chunk(c)] = o;
  }
}

// out may be x (in place): each thread rewrites only the elements it read, after the barriers
// of both reductions.
template <typename T>
__global__ void layernorm_kernel(const T* x, const T* __restrict__ w, const T* __restrict__ b,
                                 T* out, int64_t hidden, int64_t x_stride, int64_t out_stride,
                                 int64_t weight_rows, float eps) {
  const int64_t row = blockIdx.x;
  pdl_wait();
  pdl_launch_dependents();
  const T* xr = x + row * x_stride;
  const int64_t w_off = (row % weight_rows) * hidden;
  w += w_off;
  if (b != nullptr) b += w_off;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) s += to_f32(xr[i]);
  const float mean = block_sum(s) / static_cast<float>(hidden);
  float ss = 0.f;  // second pass over the (cached) row: no cancellation problems
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float d = to_f32(xr[i]) - mean;
    ss += d * d;
  }
  const float inv = rsqrtf(block_sum(ss) / static_cast<float>(hidden) + eps);
  T* orow = out + row * out_stride;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = (to_f32(xr[i]) - mean) * inv * to_f32(w[i]);
    if (b != nullptr) v += to_f32(b[i]);
    orow[i] = from_f32<T>(v);
  }
}

core::Status check_rms(const RmsNormParams& p, bool add) {
  if (p.n_tokens < 0 || p.hidden <= 0) {
    return core::invalid_argument("rmsnorm: bad shape n_tokens={} hidden={}", p.n_tokens, p.hidden);
  }
  if (p.x == nullptr || p.weight == nullptr || p.out == nullptr || (add && p.residual == nullptr)) {
    return core::invalid_argument("rmsnorm: null pointer (x, weight, out{})",
                                  add ? ", residual" : "");
  }
  return {};
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Chunks per thread of rmsnorm_vec_kernel for this row shape, 0 when it does not apply.
int vec_chunks(const RmsNormParams& p, int64_t xs, int64_t os, bool add) {
  if (p.hidden % 8 != 0 || xs % 8 != 0 || os % 8 != 0 || !aligned16(p.x) || !aligned16(p.out) ||
      !aligned16(p.weight) || (add && !aligned16(p.residual)))
    return 0;
  const int64_t n_chunks = p.hidden / 8;
  for (int c = 1; c <= 8; c *= 2)
    if (n_chunks <= int64_t{c} * kThreads) return c;
  return 0;
}

template <typename T, bool kAdd, int C>
core::Status launch_rms_vec(const RmsNormParams& p, int64_t xs, int64_t os, cudaStream_t stream) {
  return LLM_CUDA_CHECK(
      launch_pdl(rmsnorm_vec_kernel<T, kAdd, C>, dim3(static_cast<unsigned>(p.n_tokens)),
                 dim3(kThreads), 0, stream, static_cast<const T*>(p.x), static_cast<T*>(p.residual),
                 static_cast<const T*>(p.weight), static_cast<T*>(p.out), p.hidden, xs, os, p.eps));
}

template <typename T, bool kAdd>
core::Status launch_rms_vec(const RmsNormParams& p, int chunks, int64_t xs, int64_t os,
                            cudaStream_t stream) {
  switch (chunks) {
    case 1: return launch_rms_vec<T, kAdd, 1>(p, xs, os, stream);
    case 2: return launch_rms_vec<T, kAdd, 2>(p, xs, os, stream);
    case 4: return launch_rms_vec<T, kAdd, 4>(p, xs, os, stream);
    default: return launch_rms_vec<T, kAdd, 8>(p, xs, os, stream);
  }
}

template <bool kAdd>
core::Status launch_rms(const RmsNormParams& p, cudaStream_t stream) {
  LLM_RETURN_IF_ERROR(check_rms(p, kAdd));
  if (p.n_tokens == 0) return {};
  const int64_t xs = p.x_stride ? p.x_stride : p.hidden;
  const int64_t os = p.out_stride ? p.out_stride : p.hidden;
  if (const int chunks = vec_chunks(p, xs, os, kAdd); chunks > 0) {
    LLM_DISPATCH_HALF("rmsnorm", p.dtype,
                      return launch_rms_vec<T, kAdd>(p, chunks, xs, os, stream));
  }
  LLM_DISPATCH_HALF(
      "rmsnorm", p.dtype,
      return LLM_CUDA_CHECK(launch_pdl(
          rmsnorm_kernel<T, kAdd>, dim3(static_cast<unsigned>(p.n_tokens)), dim3(kThreads), 0,
          stream, static_cast<const T*>(p.x), static_cast<T*>(p.residual),
          static_cast<const T*>(p.weight), static_cast<T*>(p.out), p.hidden, xs, os, p.eps)));
  return {};
}

}  // namespace

core::Status rmsnorm(const RmsNormParams& p, cudaStream_t stream) {
  return launch_rms<false>(p, stream);
}
core::Status add_rmsnorm(const RmsNormParams& p, cudaStream_t stream) {
  return launch_rms<true>(p, stream);
}

core::Status layernorm(const LayerNormParams& p, cudaStream_t stream) {
  if (p.n_tokens < 0 || p.hidden <= 0 || p.x == nullptr || p.weight == nullptr ||
      p.out == nullptr) {
    return core::invalid_argument("layernorm: bad shape or null pointer (n_tokens={} hidden={})",
                                  p.n_tokens, p.hidden);
  }
  if (p.n_tokens == 0) return {};
  const int64_t xs = p.x_stride ? p.x_stride : p.hidden;
  const int64_t os = p.out_stride ? p.out_stride : p.hidden;
  const int64_t wrows = p.weight_rows > 1 ? p.weight_rows : 1;
  LLM_DISPATCH_HALF(
      "layernorm", p.dtype,
      return LLM_CUDA_CHECK(launch_pdl(
          layernorm_kernel<T>, dim3(static_cast<unsigned>(p.n_tokens)), dim3(kThreads), 0, stream,
          static_cast<const T*>(p.x), static_cast<const T*>(p.weight),
          static_cast<const T*>(p.bias), static_cast<T*>(p.out), p.hidden, xs, os, wrows, p.eps)));
  return {};
}

}  // namespace lightllm::kernels::cuda
