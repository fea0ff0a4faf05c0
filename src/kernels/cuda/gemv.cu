// src/kernels/cuda/gemv.cu — the skinny GEMM (see gemv.h).
// Work split: warp g of the grid owns output columns [g·R, g·R + R) (gated: those gate rows
// and the matching up rows, NR = 2R weight rows; rotary epilogue: the R/2 pairs of columns
// (j, j + head_dim/2) of one head that follow pair g·R/2). Each lane walks k in 16-byte chunks
// (8 elements), chunk c = lane + 32·i, so one warp-wide load reads 512 contiguous bytes of a
// row; U chunks per row are loaded before any is used (U·NR independent 16-byte loads in flight
// per lane). Weights bypass L1 (ld.global.nc.L1::no_allocate) so x, re-read by every warp,
// stays there. Accumulation in f32 per (row, x row), then one shuffle reduction per sum: a
// column's sum does not depend on which warp or row slot computes it.
// Column indices past the end are clamped to the last column for loading and not stored.
#include "kernels/cuda/gemv.h"

#include <algorithm>
#include <type_traits>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/gemv_common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda {
namespace {

using namespace gemv_detail;

// cp.async of one 16-byte chunk into shared memory (sm_80+), and the wait for all of this
// thread's.
__device__ __forceinline__ void cp_async16(uint4* smem, const uint4* gmem) {
  const auto dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;" ::: "memory");
}

// The RMSNorm prologue: xs[i][c] = round(x[i][c] * rsqrt(mean(x[i]^2) + eps) * norm_w[c]) for
// the M rows of x, by the whole block (the rounding of rmsnorm_kernel in norm.cu; only the
// order of the sum of squares differs). One pass over x: it is kept raw in xs while its squares
// are summed, then normalized in place with the norm weights that this thread's cp.async copies
// put in nws[kc] before the PDL wait (the same chunks c it reads). (Reading x and the norm
// weights again after the sum instead: up to 3.2 us per layer slower in the decode layer chain,
// 0.3 faster only for Llama-2-7B at m = 1; docs/PERFORMANCE.md run 11.)
// Ends with a block barrier.
template <typename T, int M>
__device__ void norm_prologue(const GemvArgs& a, uint4* xs, const uint4* nws) {
  __shared__ float partial[M][8];  // per warp (blockDim.x <= 256)
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  const int64_t kc = a.kc;
  float ss[M];
#pragma unroll
  for (int i = 0; i < M; ++i) ss[i] = 0.f;
  for (int64_t c = threadIdx.x; c < kc; c += blockDim.x) {
#pragma unroll
    for (int i = 0; i < M; ++i) {
      const uint4 v = ld_activation(a.x + i * kc + c);
      xs[i * kc + c] = v;
      float f[8];
      unpack8<T>(v, f);
#pragma unroll
      for (int e = 0; e < 8; ++e) ss[i] += f[e] * f[e];
    }
  }
#pragma unroll
  for (int i = 0; i < M; ++i) {
    ss[i] = warp_sum(ss[i]);
    if (lane == 0) partial[i][warp] = ss[i];
  }
  __syncthreads();
  float inv[M];
#pragma unroll
  for (int i = 0; i < M; ++i) {
    float t = 0.f;
    for (int w = 0; w < n_warps; ++w) t += partial[i][w];
    inv[i] = rsqrtf(t / static_cast<float>(kc * 8) + a.norm_eps);
  }
  cp_async_wait_all();
  for (int64_t c = threadIdx.x; c < kc; c += blockDim.x) {
    float wf[8];
    unpack8<T>(nws[c], wf);
#pragma unroll
    for (int i = 0; i < M; ++i) {
      float f[8];
      unpack8<T>(xs[i * kc + c], f);
#pragma unroll
      for (int e = 0; e < 8; ++e) f[e] = f[e] * inv[i] * wf[e];
      xs[i * kc + c] = pack8<T>(f);
    }
  }
  __syncthreads();
}

// kNorm: x is the residual stream; the block first normalizes it into shared memory
// (norm_prologue, dynamic shared memory [M][kc] chunks, then [kc] of norm weights) and reads x
// from there. kRope: the rotary + KV store epilogue (plain, R even).
template <typename T, int M, int R, int U, bool kGated, bool kNorm, bool kRope>
__global__ void __launch_bounds__(256) gemv_kernel(const GemvArgs a) {
  if (a.early_dependents) pdl_launch_dependents();  // else after the last loads, below
  extern __shared__ uint4 xs[];  // kNorm: [M][kc] normalized x (+ [kc] norm weights)
  static_assert(!kRope || (!kGated && R % 2 == 0), "the rotary epilogue: plain, pairs of rows");
  constexpr int NR = kGated ? 2 * R : R;
  const int lane = threadIdx.x & 31;
  // Plain: the warp's columns start here; kRope: twice its first pair (n_cols is even, so
  // the warp has a pair in range exactly when this is < n_cols).
  const int64_t col0 = (int64_t{blockIdx.x} * (blockDim.x >> 5) + (threadIdx.x >> 5)) * R;
  const bool active = col0 < a.n_cols;
  if (!kNorm && !active) {  // (kNorm: every warp takes part in the prologue's barriers)
    pdl_wait();             // every block waits (pdl.cuh)
    return;
  }
  const int64_t kc = a.kc;
  const uint4* wrow[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    int64_t col;
    if constexpr (kRope) {  // row 2t + h: column j + h·half of pair col0 / 2 + t
      const int64_t half = a.rope.head_dim / 2;
      const int64_t p = min(col0 / 2 + r / 2, a.n_cols / 2 - 1);
      col = p / half * 2 * half + p % half + (r & 1) * half;
    } else {
      col = min(col0 + r % R, a.n_cols - 1);
    }
    wrow[r] = a.w + (kGated && r >= R ? col + a.n_cols : col) * kc;
  }
  float acc[NR][M];
#pragma unroll
  for (int r = 0; r < NR; ++r)
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = 0.f;

  int64_t c = lane;
  // The first batch of weight chunks does not depend on the previous kernel: issue it before
  // waiting for that kernel (programmatic dependent launch), then read x.
  uint4 wv[U][NR];
  const bool full_first = c + 32 * (U - 1) < kc;
  if (full_first && active) {
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < NR; ++r) wv[u][r] = ld_stream(wrow[r] + c + 32 * u);
  }
  uint4* const nws = xs + M * kc;  // kNorm: the norm weights
  if constexpr (kNorm) {           // constants: fetched before the wait
    for (int64_t i = threadIdx.x; i < kc; i += blockDim.x) cp_async16(nws + i, a.norm_w + i);
  }
  pdl_wait();
  if constexpr (kNorm) {
    norm_prologue<T, M>(a, xs, nws);
    if (!active) return;
  }
  auto ldx = [&](int64_t idx) {
    if constexpr (kNorm) {
      return xs[idx];
    } else {
      return ld_activation(a.x + idx);
    }
  };
  if (full_first) {
    for (;;) {
      uint4 xv[U][M];
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int i = 0; i < M; ++i) xv[u][i] = ldx(i * kc + c + 32 * u);
#pragma unroll
      for (int u = 0; u < U; ++u) fma_chunk<T, NR, M>(wv[u], xv[u], acc);
      c += 32 * U;
      if (c + 32 * (U - 1) >= kc) break;
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int r = 0; r < NR; ++r) wv[u][r] = ld_stream(wrow[r] + c + 32 * u);
    }
  }
  for (; c < kc; c += 32) {  // the tail: fewer than U chunks per lane left
    uint4 w1[NR], x1[M];
#pragma unroll
    for (int r = 0; r < NR; ++r) w1[r] = ld_stream(wrow[r] + c);
#pragma unroll
    for (int i = 0; i < M; ++i) x1[i] = ldx(i * kc + c);
    fma_chunk<T, NR, M>(w1, x1, acc);
  }
  pdl_launch_dependents();

#pragma unroll
  for (int r = 0; r < NR; ++r)
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = warp_sum(acc[r][i]);

  if constexpr (kRope) {  // pair col0 / 2 + t of row i: lane (t·M + i) mod 32
#pragma unroll
    for (int t = 0; t < R / 2; ++t) {
      const int64_t p = col0 / 2 + t;
      if (2 * p >= a.n_cols) break;
#pragma unroll
      for (int i = 0; i < M; ++i)
        if (lane == (t * M + i) % 32) rope_store<T>(a, p, i, acc[2 * t][i], acc[2 * t + 1][i]);
    }
  } else {
    // Output (col0 + r, row i) is written by lane (r·M + i) mod 32.
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t col = col0 + r;
      if (col >= a.n_cols) break;
#pragma unroll
      for (int i = 0; i < M; ++i) {
        if (lane != (r * M + i) % 32) continue;
        if constexpr (kGated) {
          const T* b = static_cast<const T*>(a.bias);
          const float g = to_f32(from_f32<T>(acc[r][i] + (b ? to_f32(b[col]) : 0.f)));
          const float u =
              to_f32(from_f32<T>(acc[R + r][i] + (b ? to_f32(b[a.n_cols + col]) : 0.f)));
          store<T>(a, col, i, act_f32(a.act, g) * u);
        } else {
          const float b = a.bias ? to_f32(static_cast<const T*>(a.bias)[col]) : 0.f;
          store<T>(a, col, i, acc[r][i] + b);
        }
      }
    }
  }
}

// ---- tensor-core variant (m >= 3: the CUDA-core kernel above is issue-bound there) ----------
// One block owns 16 weight rows (plain: columns j0..j0+15; gated: gate rows j0..j0+7 as A rows
// 0..7 and their up rows as A rows 8..15) and its W warps split k. Each mma.m16n8k16 takes
// A = 16 weight rows x 16 k, B = 16 k x 8 x rows (x rows >= m are zero), C = f32. Lane (g, c)
// (g = lane / 4, c = lane % 4) loads the 16-byte chunk 4·s + c of weight rows g and g + 8 and
// of x row g: the 8 k values of one chunk fill that lane's k slots of two mmas ({2c, 2c+1,
// 2c+8, 2c+9} <- chunk elements {0..3}, then {4..7}); A and B use the same slot -> k map, so
// the products are those of the real k. The warps' C fragments are summed in shared memory.
// Accumulation order therefore differs from the CUDA-core kernel (results agree to rounding).
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                          uint32_t a3, uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
}

constexpr int kMmaMaxWarps = 8;

template <typename T, int U, bool kGated>
__global__ void __launch_bounds__(256) gemv_mma_kernel(const GemvArgs a, int m) {
  __shared__ float red[kMmaMaxWarps][32][4];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  const int g = lane >> 2, c = lane & 3;
  constexpr int kColsPerBlock = kGated ? 8 : 16;
  const int64_t j0 = int64_t{blockIdx.x} * kColsPerBlock;
  // Weight rows of A rows g and g + 8 (clamped in range; their results are not stored).
  int64_t r0, r1;
  if constexpr (kGated) {
    r0 = min(j0 + g, a.n_cols - 1);
    r1 = r0 + a.n_cols;
  } else {
    r0 = min(j0 + g, a.n_cols - 1);
    r1 = min(j0 + 8 + g, a.n_cols - 1);
  }
  const int64_t kc = a.kc;
  const uint4* w0 = a.w + r0 * kc + c;
  const uint4* w1 = a.w + r1 * kc + c;
  const bool x_row = g < m;
  const uint4* xr = a.x + (x_row ? g : 0) * kc + c;
  // This warp's steps (4 chunks per row each): [s_begin, s_end).
  const int64_t steps = (kc + 3) / 4;
  const int64_t s_begin = steps * warp / n_warps, s_end = steps * (warp + 1) / n_warps;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  float acc[4] = {0.f, 0.f, 0.f, 0.f};

  uint4 wa[U], wb[U];
  auto load_w = [&](int64_t s) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t q = 4 * (s + u);
      const bool ok = s + u < s_end && q + c < kc;
      wa[u] = ok ? ld_stream(w0 + q) : zero;
      wb[u] = ok ? ld_stream(w1 + q) : zero;
    }
  };
  int64_t s = s_begin;
  if (s < s_end) load_w(s);
  pdl_wait();  // x may be the previous kernel's output
  while (s < s_end) {
    uint4 xv[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t q = 4 * (s + u);
      xv[u] = x_row && s + u < s_end && q + c < kc ? ld_activation(xr + q) : zero;
    }
    uint4 pa[U], pb[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      pa[u] = wa[u];
      pb[u] = wb[u];
    }
    s += U;
    if (s < s_end) load_w(s);  // the next weights are in flight during these mmas
#pragma unroll
    for (int u = 0; u < U; ++u) {
      mma_16816<T>(acc, pa[u].x, pb[u].x, pa[u].y, pb[u].y, xv[u].x, xv[u].y);
      mma_16816<T>(acc, pa[u].z, pb[u].z, pa[u].w, pb[u].w, xv[u].z, xv[u].w);
    }
  }
  pdl_launch_dependents();

#pragma unroll
  for (int v = 0; v < 4; ++v) red[warp][lane][v] = acc[v];
  __syncthreads();
  if (warp != 0) return;
  for (int w = 1; w < n_warps; ++w)
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[v] += red[w][lane][v];

  // acc[0..1]: A row g, x rows 2c and 2c + 1; acc[2..3]: A row g + 8, the same x rows.
  const T* bias = static_cast<const T*>(a.bias);
  if constexpr (kGated) {
    const int64_t col = j0 + g;
    if (col >= a.n_cols) return;
    const float bg = bias ? to_f32(bias[col]) : 0.f, bu = bias ? to_f32(bias[a.n_cols + col]) : 0.f;
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int i = 2 * c + e;
      if (i >= m) continue;
      const float gv = to_f32(from_f32<T>(acc[e] + bg));
      const float uv = to_f32(from_f32<T>(acc[2 + e] + bu));
      store<T>(a, col, i, act_f32(a.act, gv) * uv);
    }
  } else {
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const int64_t col = j0 + g + (v >= 2 ? 8 : 0);
      const int i = 2 * c + (v & 1);
      if (col >= a.n_cols || i >= m) continue;
      store<T>(a, col, i, acc[v] + (bias ? to_f32(bias[col]) : 0.f));
    }
  }
}

// Defaults per m (plain, gated). m <= 2: the CUDA-core kernel, 2 rows x 4 loads x 128 threads
// (docs/PERFORMANCE.md "Run 5 — GEMV", H200, and run 8, H100: in the layer chain it beats the
// tensor-core kernel there, 145 vs 153 us/layer for Llama-2-7B at m = 1). m >= 3: the
// tensor-core kernel, 4 chunks in flight x 256 threads (run 8, H100 layer chain: 155 / 164 us
// per layer for Llama-2-7B / Llama-3-8B at m = 4 and 8, against 165–288 for the CUDA-core
// kernel and 174–183 for cuBLASLt; m = 3 was not timed). Plain and gated stay the same kind
// per m (one table), so gated_matmul equals the unfused gate/up GEMVs bit for bit.
constexpr GemvConfig kDefaults[kGemvMaxM + 1] = {
    {},
    {2, 4, 128},
    {2, 4, 128},
    {0, 4, 256, true},
    {0, 4, 256, true},
    {0, 4, 256, true},
    {0, 4, 256, true},
    {0, 4, 256, true},
    {0, 4, 256, true},
};

template <typename T, int M, int R, int U, bool kGated, bool kNorm, bool kRope = false>
core::Status launch(const GemvArgs& a, int threads, cudaStream_t stream) {
  const int64_t warps = (a.n_cols + R - 1) / R;
  const int per_block = threads / 32;
  const dim3 grid(static_cast<unsigned>((warps + per_block - 1) / per_block));
  const size_t smem = kNorm ? static_cast<size_t>((M + 1) * a.kc) * sizeof(uint4) : 0;
  return LLM_CUDA_CHECK(launch_pdl(gemv_kernel<T, M, R, U, kGated, kNorm, kRope>, grid,
                                   dim3(static_cast<unsigned>(threads)), smem, stream, a));
}

template <typename T, int U, bool kGated>
core::Status launch_mma(const GemvArgs& a, int m, int threads, cudaStream_t stream) {
  constexpr int kCols = kGated ? 8 : 16;
  const dim3 grid(static_cast<unsigned>((a.n_cols + kCols - 1) / kCols));
  return LLM_CUDA_CHECK(launch_pdl(gemv_mma_kernel<T, U, kGated>, grid,
                                   dim3(static_cast<unsigned>(threads)), 0, stream, a, m));
}

template <typename T, bool kGated>
core::Status dispatch_mma(const GemvArgs& a, int m, const GemvConfig& c, cudaStream_t stream) {
  if (c.threads > 32 * kMmaMaxWarps)
    return core::invalid_argument("gemv: {} threads for the mma kernel (at most {})", c.threads,
                                  32 * kMmaMaxWarps);
  if (c.unroll == 4) return launch_mma<T, 4, kGated>(a, m, c.threads, stream);
  if (c.unroll == 8) return launch_mma<T, 8, kGated>(a, m, c.threads, stream);
  return core::invalid_argument("gemv: no mma kernel with unroll {}", c.unroll);
}

// The one shape of the rotary epilogue (gemv_supported).
constexpr int kRopeRows = 2, kRopeUnroll = 4;

template <typename T, int M, bool kGated, bool kNorm = false, bool kRope = false>
core::Status dispatch_config(const GemvArgs& a, const GemvConfig& c, cudaStream_t stream) {
  if constexpr (kRope) {
    return launch<T, M, kRopeRows, kRopeUnroll, kGated, kNorm, kRope>(a, c.threads, stream);
  } else {
    // The instantiated shapes (rows per warp R, loads in flight per row U); others rejected.
    if (c.rows_per_warp == 1 && c.unroll == 8)
      return launch<T, M, 1, 8, kGated, kNorm>(a, c.threads, stream);
    if (c.rows_per_warp == 2 && c.unroll == 4)
      return launch<T, M, 2, 4, kGated, kNorm>(a, c.threads, stream);
    if (c.rows_per_warp == 2 && c.unroll == 2)
      return launch<T, M, 2, 2, kGated, kNorm>(a, c.threads, stream);
    if (c.rows_per_warp == 4 && c.unroll == 2)
      return launch<T, M, 4, 2, kGated, kNorm>(a, c.threads, stream);
    return core::invalid_argument("gemv: no kernel for {} rows per warp x unroll {}",
                                  c.rows_per_warp, c.unroll);
  }
}

template <typename T, bool kGated>
core::Status dispatch_m(int64_t m, const GemvArgs& a, const GemvConfig& c, cudaStream_t stream) {
  if (c.mma) return dispatch_mma<T, kGated>(a, static_cast<int>(m), c, stream);
  if constexpr (!kGated) {
    if (a.rope.k_cache != nullptr) {  // gemv_supported: m <= kGemvRopeMaxM, 2 x 4
      if (a.norm_w == nullptr)
        return m == 1 ? dispatch_config<T, 1, false, false, true>(a, c, stream)
                      : dispatch_config<T, 2, false, false, true>(a, c, stream);
      return m == 1 ? dispatch_config<T, 1, false, true, true>(a, c, stream)
                    : dispatch_config<T, 2, false, true, true>(a, c, stream);
    }
  }
  if (a.norm_w != nullptr) {  // gemv_supported: m <= kGemvNormMaxM
    return m == 1 ? dispatch_config<T, 1, kGated, true>(a, c, stream)
                  : dispatch_config<T, 2, kGated, true>(a, c, stream);
  }
  switch (m) {
    case 1: return dispatch_config<T, 1, kGated>(a, c, stream);
    case 2: return dispatch_config<T, 2, kGated>(a, c, stream);
    case 3: return dispatch_config<T, 3, kGated>(a, c, stream);
    case 4: return dispatch_config<T, 4, kGated>(a, c, stream);
    case 5: return dispatch_config<T, 5, kGated>(a, c, stream);
    case 6: return dispatch_config<T, 6, kGated>(a, c, stream);
    case 7: return dispatch_config<T, 7, kGated>(a, c, stream);
    default: return dispatch_config<T, 8, kGated>(a, c, stream);
  }
}

bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

// m = 1 with the residual epilogue and rows of at most this many elements (the batch-1 decode
// layer's o projection, k = n_heads · head_dim): 1 row x 8 loads x 256 threads, half a
// 4096-element row in flight per warp. Measured in the layer chain (docs/PERFORMANCE.md run 10,
// H100, bench/cuda/layer_chain_tune.cpp plan "o 1x8x256"): 0.2-1.2 us per layer faster than
// 2 x 4 x 128 for Llama-2-7B / Llama-3-8B in 7 of 8 chains (two runs, contexts 256 and 1024;
// 0.3 us slower once), 1.8-2.2 us slower at m = 2; 1-row configurations for the down
// projection too (k = inter) were slower for Llama-3-8B at 1024 tokens: hence the limits. The
// CUDA-core configurations give the same values, so this never changes a result.
constexpr int64_t kShortRowMaxK = 4096;
constexpr GemvConfig kShortRowResidualM1 = {1, 8, 256};

// The configuration a launch uses: the block-rows kernel for the MLP's GEMVs at m = 1 (below),
// kGemvNormConfig with the RMSNorm prologue (gemv.h), the one above, or the default for m,
// with p.config's non-zero fields on top.
//
// The MLP's GEMVs at m = 1 (gated: gate/up; a residual GEMV with rows longer than its output:
// down) read their weights faster as block-rows GEMVs through the engine: 76.8 / 39.5 us
// instead of 79.7 / 42.2 a Llama-3-8B layer, Llama-2-7B and Llama-3-8B decode steps 0.6-1.5%
// faster (docs/PERFORMANCE.md run 22, kernel traces of `lightllm bench decode`). The QKV and o
// projections stay on the CUDA-core kernel: their 256-thread blocks start under the previous
// kernel's tail (the down projection's, the attention's), which block-rows blocks of up to 512
// threads do not, and lose 3-7 us a layer there.
bool mlp_block_rows(const GemvParams& p) {
  return p.m == 1 && (p.gated || (p.accumulate && p.k > p.n)) && rows_shape(p.k / 8).cpt > 0;
}

GemvConfig resolved_config(const GemvParams& p) {
  if (p.config.block_rows) return p.config;
  const bool overridden =
      p.config.rows_per_warp > 0 || p.config.unroll > 0 || p.config.threads > 0 || p.config.mma;
  if (!overridden && mlp_block_rows(p)) return {.block_rows = true};
  GemvConfig c = p.norm_weight != nullptr && p.m <= kGemvNormMaxM   ? kGemvNormConfig
                 : p.m == 1 && p.accumulate && p.k <= kShortRowMaxK ? kShortRowResidualM1
                                                                    : gemv_default_config(p.m);
  if (p.config.rows_per_warp > 0 || p.config.mma) {
    c.rows_per_warp = p.config.rows_per_warp;
    c.mma = p.config.mma;
  }
  if (p.config.unroll > 0) c.unroll = p.config.unroll;
  if (p.config.threads > 0) c.threads = p.config.threads;
  return c;
}

}  // namespace

GemvConfig gemv_default_config(int64_t m) {
  const auto i = static_cast<size_t>(std::clamp<int64_t>(m, 1, kGemvMaxM));
  return kDefaults[i];
}

bool gemv_supported(const GemvParams& p) {
  if (p.dtype != core::DType::bf16 && p.dtype != core::DType::f16) return false;
  if (p.m < 1 || p.m > kGemvMaxM || p.n <= 0 || p.k <= 0 || p.k % 8 != 0) return false;
  if (p.x == nullptr || p.w == nullptr || !aligned16(p.x) || !aligned16(p.w)) return false;
  if (p.n_seg < 1 || p.n_seg > kGemvMaxSegments) return false;
  if (p.gated) {
    if (p.n % 2 != 0 || p.n_seg != 1 || p.out_f32 || p.seg[0].cols != p.n / 2) return false;
  } else if (p.out_f32 && p.bias != nullptr) {
    return false;
  }
  const GemvConfig c = resolved_config(p);
  if (c.block_rows && (p.m > kGemvRowsMaxM || rows_shape(p.k / 8).cpt == 0)) return false;
  if (p.norm_weight != nullptr &&
      (p.m > kGemvNormMaxM || !aligned16(p.norm_weight) || c.mma ||
       (!c.block_rows && static_cast<size_t>((p.m + 1) * p.k) * 2 > kGemvNormMaxSmem)))
    return false;
  if (p.accumulate && (p.gated || p.out_f32 || p.n_seg != 1)) return false;
  if (p.rope.k_cache != nullptr) {
    const int hd = p.rope.head_dim;
    const bool pairs =
        c.block_rows || (c.rows_per_warp == kRopeRows && c.unroll == kRopeUnroll && !c.mma);
    if (p.m > kGemvRopeMaxM || !pairs || p.gated || p.out_f32 || p.accumulate || p.n_seg != 3 ||
        hd <= 0 || hd % 2 != 0 || p.rope.positions == nullptr || p.rope.inv_freq == nullptr ||
        p.rope.slots == nullptr || p.rope.v_cache == nullptr)
      return false;
    for (int s = 0; s < 3; ++s)
      if (p.seg[s].cols % hd != 0) return false;
    if (p.seg[1].cols != p.seg[2].cols) return false;
  }
  int64_t cols = 0;
  for (int s = 0; s < p.n_seg; ++s) {
    if (p.seg[s].out == nullptr || p.seg[s].cols <= 0 || p.seg[s].ld < p.seg[s].cols) return false;
    cols += p.seg[s].cols;
  }
  return cols == (p.gated ? p.n / 2 : p.n);
}

core::Status gemv(const GemvParams& p, cudaStream_t stream) {
  if (!gemv_supported(p)) {
    return core::invalid_argument(
        "gemv: unsupported parameters ({} m={} n={} k={}, {} segments{}): needs 1 <= m <= {}, "
        "k % 8 == 0, 16-byte aligned x and w, segments covering the output; norm: m <= {}, "
        "m·k·2 <= {} bytes; accumulate: plain, one segment, 16-bit out",
        core::dtype_name(p.dtype), p.m, p.n, p.k, p.n_seg, p.gated ? ", gated" : "", kGemvMaxM,
        kGemvNormMaxM, kGemvNormMaxSmem);
  }
  GemvArgs a{};
  a.x = static_cast<const uint4*>(p.x);
  a.w = static_cast<const uint4*>(p.w);
  a.bias = p.bias;
  a.n_cols = p.gated ? p.n / 2 : p.n;
  a.kc = p.k / 8;
  int64_t end = 0;
  for (int s = 0; s < kGemvMaxSegments; ++s) {
    const bool used = s < p.n_seg;
    end += used ? p.seg[s].cols : 0;
    a.out[s] = used ? p.seg[s].out : nullptr;
    a.seg_end[s] = end;
    a.ld[s] = used ? p.seg[s].ld : 0;
  }
  a.n_seg = p.n_seg;
  a.out_f32 = p.out_f32;
  a.act = p.act;
  a.norm_w = static_cast<const uint4*>(p.norm_weight);
  a.norm_eps = p.norm_eps;
  a.accumulate = p.accumulate;
  a.rope = p.rope;
  a.n_kv_heads = p.rope.head_dim > 0 ? static_cast<int>(p.seg[1].cols / p.rope.head_dim) : 0;
  a.early_dependents = p.early_dependents;
  const GemvConfig c = resolved_config(p);
  if (!c.block_rows && (c.threads % 32 != 0 || c.threads < 32 || c.threads > 256))
    return core::invalid_argument("gemv: {} threads per block (32..256, a multiple of 32)",
                                  c.threads);
  if (c.block_rows) return launch_block_rows(a, p.dtype, p.gated, p.m, stream);
  if (p.dtype == core::DType::bf16) {
    return p.gated ? dispatch_m<__nv_bfloat16, true>(p.m, a, c, stream)
                   : dispatch_m<__nv_bfloat16, false>(p.m, a, c, stream);
  }
  return p.gated ? dispatch_m<__half, true>(p.m, a, c, stream)
                 : dispatch_m<__half, false>(p.m, a, c, stream);
}

}  // namespace lightllm::kernels::cuda
