// src/kernels/cuda/gemv_common.cuh — what the GEMV kernels share: gemv.cu (the CUDA-core and
// tensor-core kernels, the configuration and the entry points) and gemv_rows.cu (the block-rows
// kernel): the launch arguments, the weight and activation loads, 16-bit chunk conversion, the
// FMA of a chunk, the output store and the rotary + KV store epilogue. Internal to
// src/kernels/cuda (included by .cu files only).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/rotary.cuh"

namespace lightllm::kernels::cuda::gemv_detail {

struct GemvArgs {
  const uint4* x;  // [m, kc] chunks
  const uint4* w;  // [n, kc] chunks
  const void* bias;
  int64_t n_cols;  // output columns: n (plain) or n / 2 (gated)
  int64_t kc;      // 16-byte chunks per row = k / 8
  void* out[kGemvMaxSegments];
  int64_t seg_end[kGemvMaxSegments];  // exclusive end column of each segment
  int64_t ld[kGemvMaxSegments];
  int n_seg;
  bool out_f32;
  GatedAct act;
  const uint4* norm_w;  // [kc] chunks of the RMSNorm weight (the kNorm kernels)
  float norm_eps;
  bool accumulate;        // out = round(out + round(value))
  GemvRopeKv rope;        // the kRope kernels
  int n_kv_heads;         // kRope: the k segment's heads
  bool early_dependents;  // GemvParams::early_dependents
};

// 16-byte streaming load: read-only, not kept in L1.
__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Loads of activations: what an earlier kernel of the step wrote, read after pdl_wait(). Never
// ld.global.nc (__ldg): ptxas treats those as reads of constant memory and may schedule them
// above griddepcontrol.wait, i.e. before the previous kernel's results exist. It did for the
// block-rows kernel's x (LDG.E.128.CONSTANT ahead of ACQBULK in its SASS; CudaGraphReplay of
// the families with a plain gated MLP caught it, docs/PERFORMANCE.md run 22). ld.global.ca keeps
// its place after the wait and still caches in L1, where the blocks and warps of an SM share x
// (ld.global.cg instead cost the gate/up GEMV 5.5 us a Llama-2-7B layer).
__device__ __forceinline__ uint4 ld_activation(const uint4* p) {
  return __ldca(p);
}

// Eight 16-bit values (one chunk) to f32.
template <typename T>
__device__ __forceinline__ void unpack8(const uint4& v, float (&f)[8]);
template <>
__device__ __forceinline__ void unpack8<__nv_bfloat16>(const uint4& v, float (&f)[8]) {
  const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {  // bf16 -> f32 is a 16-bit shift
    f[2 * i] = __uint_as_float(u[i] << 16);
    f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
  }
}
template <>
__device__ __forceinline__ void unpack8<__half>(const uint4& v, float (&f)[8]) {
  const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    __half2 h;
    static_assert(sizeof(h) == sizeof(uint32_t));
    memcpy(&h, &u[i], sizeof(h));
    const float2 p = __half22float2(h);
    f[2 * i] = p.x;
    f[2 * i + 1] = p.y;
  }
}

// Eight f32 values rounded to T (round to nearest even) into one chunk.
__device__ __forceinline__ uint32_t half_bits(__nv_bfloat16 h) {
  return __bfloat16_as_ushort(h);
}
__device__ __forceinline__ uint32_t half_bits(__half h) {
  return __half_as_ushort(h);
}
template <typename T>
__device__ __forceinline__ uint4 pack8(const float (&f)[8]) {
  uint32_t u[4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
    u[i] = half_bits(from_f32<T>(f[2 * i])) | (half_bits(from_f32<T>(f[2 * i + 1])) << 16);
  return make_uint4(u[0], u[1], u[2], u[3]);
}

// acc[r][i] += dot(w chunk r, x chunk i) for every row r and x row i.
template <typename T, int NR, int M>
__device__ __forceinline__ void fma_chunk(const uint4 (&wv)[NR], const uint4 (&xv)[M],
                                          float (&acc)[NR][M]) {
  float xf[M][8];
#pragma unroll
  for (int i = 0; i < M; ++i) unpack8<T>(xv[i], xf[i]);
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    float wf[8];
    unpack8<T>(wv[r], wf);
#pragma unroll
    for (int i = 0; i < M; ++i)
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[r][i] = fmaf(wf[e], xf[i][e], acc[r][i]);
  }
}

template <typename T>
__device__ __forceinline__ void store(const GemvArgs& a, int64_t col, int i, float v) {
  int s = 0;
#pragma unroll
  for (int t = 0; t + 1 < kGemvMaxSegments; ++t) s += (t + 1 < a.n_seg && col >= a.seg_end[t]);
  const int64_t start = s == 0 ? 0 : a.seg_end[s - 1];
  const int64_t off = i * a.ld[s] + (col - start);
  if (a.out_f32) {
    static_cast<float*>(a.out[s])[off] = v;
  } else if (a.accumulate) {  // the residual add of add_rmsnorm: both terms rounded to T
    T* o = static_cast<T*>(a.out[s]) + off;
    *o = from_f32<T>(to_f32(from_f32<T>(v)) + to_f32(*o));
  } else {
    static_cast<T*>(a.out[s])[off] = from_f32<T>(v);
  }
}

// The rotary + KV store epilogue of one pair p (columns j and j + half of head p / half, over
// the q, k and v heads in a row) of x row i: v0, v1 are the two columns' sums. Each output is
// rounded as store() would, then q and k pairs are rotated and rounded as rotary.cu does, and
// k and v are also written to the token's cache row (kv_scatter).
template <typename T>
__device__ void rope_store(const GemvArgs& a, int64_t p, int i, float v0, float v1) {
  const int hd = a.rope.head_dim, half = hd / 2;
  const int j = static_cast<int>(p % half);
  const int64_t col = p / half * hd + j;
  const T* b = static_cast<const T*>(a.bias);
  float x0 = to_f32(from_f32<T>(v0 + (b ? to_f32(b[col]) : 0.f)));
  float x1 = to_f32(from_f32<T>(v1 + (b ? to_f32(b[col + half]) : 0.f)));
  const int s = (col >= a.seg_end[0]) + (col >= a.seg_end[1]);  // q, k, v
  const int64_t in_seg = col - (s == 0 ? 0 : a.seg_end[s - 1]);
  if (s < 2) {
    float c, sn;
    rotary_cos_sin(static_cast<float>(a.rope.positions[i]), a.rope.inv_freq[j],
                   a.rope.attention_factor, c, sn);
    const float2 r = rotate_pair_f32(x0, x1, c, sn);
    x0 = r.x;
    x1 = r.y;
  }
  const T y0 = from_f32<T>(x0), y1 = from_f32<T>(x1);
  T* o = static_cast<T*>(a.out[s]) + i * a.ld[s] + in_seg;
  o[0] = y0;
  o[half] = y1;
  if (s == 0) return;
  const int64_t row = int64_t{a.rope.slots[i]} * a.n_kv_heads + in_seg / hd;
  T* cache = static_cast<T*>(s == 1 ? a.rope.k_cache : a.rope.v_cache) + row * hd + j;
  cache[0] = y0;
  cache[half] = y1;
}

// ---- the block-rows kernel (gemv_rows.cu) ----------------------------------------------------
// Its shape for k / 8 = kc chunks per row: CPT chunks per thread (a power of two, at most 8) and
// T threads (a multiple of 32, at most 512) with CPT·T >= kc; cpt = 0 when k is too long.
struct RowsShape {
  int cpt = 0, threads = 0;
};
RowsShape rows_shape(int64_t kc);
// Launches it for m <= kGemvRowsMaxM rows of x (bf16 or f16; gated, RMSNorm prologue and rotary
// epilogue as `a` says).
core::Status launch_block_rows(const GemvArgs& a, core::DType dtype, bool gated, int64_t m,
                               cudaStream_t stream);

}  // namespace lightllm::kernels::cuda::gemv_detail
