// src/kernels/cuda/gemv_rows.cu — the block-rows GEMV (m <= kGemvRowsMaxM; GemvConfig::
// block_rows; gemv.cu makes it the default for the MLP's GEMVs at m = 1).
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/gemv_common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda::gemv_detail {
namespace {

// Block b owns UB consecutive units (plain: a column = one weight row; gated: a column = its gate
// row and its up row; rotary: a pair of columns (j, j + head_dim/2) = two rows) and its T threads
// split every row along k: thread t takes chunks t, t + T, ... (CPT of them, CPT·T >= kc). All
// of the block's weight loads (UB·NR·CPT per thread, about 4) are issued before the PDL wait, so
// each block reads its rows, a few consecutive KiB, in one go: the access pattern that reads
// HBM fastest at the projections' sizes (docs/PERFORMANCE.md run 21: 135.6 us a Llama-2-7B layer
// against 139.1 for a grid-stride read and 164.4 for the warp-per-row pattern of the kernel
// above). x is loaded once per block (every row uses the same chunks of it); each row's sum is
// the thread partials reduced per warp by shuffles, then over the warps in order.
constexpr int kRowsMaxThreads = 512, kRowsMaxWarps = kRowsMaxThreads / 32;
// Weight loads per thread (UB·NR·CPT): 4, or 8 for rows of 4+ chunks per thread (k > 8192: the
// down projection; 2 rows a block, so that 2 blocks of up to 512 threads fill an SM's loads).
template <int CPT>
constexpr int rows_loads() {
  return CPT >= 4 ? 8 : 4;
}

template <int NR, int CPT>
constexpr int rows_units_per_block() {
  return rows_loads<CPT>() / (NR * CPT) > 0 ? rows_loads<CPT>() / (NR * CPT) : 1;
}

// The kernel's __launch_bounds__: blocks of up to max_threads, min_blocks of them resident on an
// SM. A block's loads are all issued at its start and none while it reduces and exits, so the
// SM keeps reading HBM across those ends only through its other blocks. Two kernels of the
// batch-1 decode step fit three blocks an SM instead of two without spilling (ptxas -v): the
// gate/up projection with its RMSNorm prologue for k <= 4096 (512 threads, 40 registers instead
// of 43) and the down projection with rows of 4 chunks a thread in up to 352 threads
// (4096 < k <= 11264, e.g. Llama-2-7B's 11008; 56 registers instead of 60). A step of
// Llama-2-7B 1.2% faster, of Llama-3-8B 0.2% (its down projection, 448 threads, would spill at
// three); docs/PERFORMANCE.md run 30. Every other instantiation keeps min_blocks 0, which
// leaves the count to the compiler: an explicit 1 is not the same (it gave the gate/up kernel
// 52 registers instead of 43 and cost Llama-3-8B 1.1% a step, run 30).
// Measured on Hopper only; on sm_80 the down kernel would spill at three (12 bytes), so there
// every instantiation leaves the count to the compiler.
struct RowsBounds {
  int max_threads;
  int min_blocks;
};
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define LIGHTLLM_ROWS_MIN_BLOCKS(n) 0
#else
#define LIGHTLLM_ROWS_MIN_BLOCKS(n) (n)
#endif
template <int M, int CPT, bool kGated, bool kNorm, bool kRope>
constexpr RowsBounds rows_bounds() {
  if (M == 1 && CPT == 1 && kGated && kNorm && !kRope) return {kRowsMaxThreads, 3};
  if (M == 1 && CPT == 4 && !kGated && !kNorm && !kRope) return {352, 3};
  return {kRowsMaxThreads, 0};
}

// Sum over the block of one value per thread with a single barrier: every warp adds the warps'
// shuffle sums in warp order, so all threads get the same bits. `scratch` holds a float per warp.
__device__ __forceinline__ float block_sum_once(float v, float* scratch) {
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = 0.f;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) t += scratch[w];
  return t;
}

template <typename T, int M, int CPT, bool kGated, bool kNorm, bool kRope, int kMaxThreads,
          int kMinBlocks>
__global__ void __launch_bounds__(kMaxThreads, LIGHTLLM_ROWS_MIN_BLOCKS(kMinBlocks))
    gemv_rows_kernel(const GemvArgs a) {
  static_assert(!(kGated && kRope), "gated or rotary");
  constexpr int NR = kGated || kRope ? 2 : 1;
  constexpr int UB = rows_units_per_block<NR, CPT>();
  __shared__ float red[kRowsMaxWarps][UB * NR * M];
  __shared__ float norm_ss[M][kRowsMaxWarps];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, n_warps = blockDim.x >> 5;
  const int64_t kc = a.kc, n_units = kRope ? a.n_cols / 2 : a.n_cols;
  const int64_t u0 = int64_t{blockIdx.x} * UB;
  auto weight_row = [&](int64_t u, int r) -> int64_t {
    if constexpr (kRope) {
      const int64_t half = a.rope.head_dim / 2;
      return u / half * 2 * half + u % half + r * half;
    } else {
      return kGated ? u + r * a.n_cols : u;
    }
  };
  auto chunk = [&](int i) { return tid + int64_t{blockDim.x} * i; };
  // Weights and norm weights do not depend on the previous kernel: loaded before the wait.
  uint4 wv[UB][NR][CPT];
#pragma unroll
  for (int j = 0; j < UB; ++j)
#pragma unroll
    for (int r = 0; r < NR; ++r)
#pragma unroll
      for (int i = 0; i < CPT; ++i)
        if (u0 + j < n_units && chunk(i) < kc)
          wv[j][r][i] = __ldcg(a.w + weight_row(u0 + j, r) * kc + chunk(i));
  uint4 nw[CPT];
  if constexpr (kNorm) {
#pragma unroll
    for (int i = 0; i < CPT; ++i)
      if (chunk(i) < kc) nw[i] = __ldg(a.norm_w + chunk(i));
  }
  pdl_wait();
  uint4 xv[CPT][M];
#pragma unroll
  for (int i = 0; i < CPT; ++i)
#pragma unroll
    for (int m = 0; m < M; ++m)
      xv[i][m] = chunk(i) < kc ? ld_activation(a.x + m * kc + chunk(i)) : make_uint4(0, 0, 0, 0);
  if constexpr (kNorm) {  // x = round(x · rsqrt(mean(x²) + eps) · norm_w), rmsnorm()'s rounding
    float inv[M];
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float ss = 0.f;
#pragma unroll
      for (int i = 0; i < CPT; ++i) {
        float f[8];
        unpack8<T>(xv[i][m], f);
#pragma unroll
        for (int e = 0; e < 8; ++e) ss += f[e] * f[e];
      }
      inv[m] = rsqrtf(block_sum_once(ss, norm_ss[m]) / static_cast<float>(kc * 8) + a.norm_eps);
    }
#pragma unroll
    for (int i = 0; i < CPT; ++i) {
      if (chunk(i) >= kc) continue;
      float wf[8];
      unpack8<T>(nw[i], wf);
#pragma unroll
      for (int m = 0; m < M; ++m) {
        float f[8];
        unpack8<T>(xv[i][m], f);
#pragma unroll
        for (int e = 0; e < 8; ++e) f[e] = f[e] * inv[m] * wf[e];
        xv[i][m] = pack8<T>(f);
      }
    }
  }
  // Each row's partial over this thread's chunks, in chunk order; then the warp's shuffle sum.
#pragma unroll
  for (int j = 0; j < UB; ++j)
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      float part[1][M];
#pragma unroll
      for (int m = 0; m < M; ++m) part[0][m] = 0.f;
#pragma unroll
      for (int i = 0; i < CPT; ++i)
        if (u0 + j < n_units && chunk(i) < kc) {
          const uint4 w1[1] = {wv[j][r][i]};
          fma_chunk<T, 1, M>(w1, xv[i], part);
        }
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const float v = warp_sum(part[0][m]);
        if (lane == 0) red[warp][(j * NR + r) * M + m] = v;
      }
    }
  pdl_launch_dependents();
  __syncthreads();
  if (tid >= UB * M) return;
  const int j = tid / M, m = tid % M;  // unit u0 + j, x row m
  const int64_t u = u0 + j;
  if (u >= n_units) return;
  float v[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    float t = 0.f;
    for (int w = 0; w < n_warps; ++w) t += red[w][(j * NR + r) * M + m];
    v[r] = t;
  }
  const T* b = static_cast<const T*>(a.bias);
  if constexpr (kRope) {
    rope_store<T>(a, u, m, v[0], v[NR - 1]);
  } else if constexpr (kGated) {
    const float g = to_f32(from_f32<T>(v[0] + (b ? to_f32(b[u]) : 0.f)));
    const float up = to_f32(from_f32<T>(v[NR - 1] + (b ? to_f32(b[a.n_cols + u]) : 0.f)));
    store<T>(a, u, m, act_f32(a.act, g) * up);
  } else {
    store<T>(a, u, m, v[0] + (b ? to_f32(b[u]) : 0.f));
  }
}

template <typename T, int M, int CPT, bool kGated, bool kNorm, bool kRope>
core::Status launch_rows(const GemvArgs& a, int threads, cudaStream_t stream) {
  constexpr int NR = kGated || kRope ? 2 : 1;
  constexpr int UB = rows_units_per_block<NR, CPT>();
  const int64_t units = kRope ? a.n_cols / 2 : a.n_cols;
  const dim3 grid(static_cast<unsigned>((units + UB - 1) / UB));
  const dim3 block(static_cast<unsigned>(threads));
  constexpr RowsBounds kB = rows_bounds<M, CPT, kGated, kNorm, kRope>();
  if constexpr (kB.max_threads < kRowsMaxThreads) {
    if (threads > kB.max_threads)  // longer rows: the default bounds (0: the compiler's choice)
      return LLM_CUDA_CHECK(
          launch_pdl(gemv_rows_kernel<T, M, CPT, kGated, kNorm, kRope, kRowsMaxThreads, 0>, grid,
                     block, 0, stream, a));
  }
  return LLM_CUDA_CHECK(
      launch_pdl(gemv_rows_kernel<T, M, CPT, kGated, kNorm, kRope, kB.max_threads, kB.min_blocks>,
                 grid, block, 0, stream, a));
}

template <typename T, int M, bool kGated, bool kNorm, bool kRope>
core::Status dispatch_rows_cpt(const GemvArgs& a, cudaStream_t stream) {
  const RowsShape sh = rows_shape(a.kc);
  switch (sh.cpt) {
    case 1: return launch_rows<T, M, 1, kGated, kNorm, kRope>(a, sh.threads, stream);
    case 2: return launch_rows<T, M, 2, kGated, kNorm, kRope>(a, sh.threads, stream);
    case 4: return launch_rows<T, M, 4, kGated, kNorm, kRope>(a, sh.threads, stream);
    case 8: return launch_rows<T, M, 8, kGated, kNorm, kRope>(a, sh.threads, stream);
    default:
      return core::invalid_argument("gemv: k = {} too long for the block-rows kernel", a.kc * 8);
  }
}

template <typename T, bool kGated>
core::Status dispatch_rows(int64_t m, const GemvArgs& a, cudaStream_t stream) {
  const bool norm = a.norm_w != nullptr;
  if constexpr (!kGated) {
    if (a.rope.k_cache != nullptr) {
      if (norm)
        return m == 1 ? dispatch_rows_cpt<T, 1, false, true, true>(a, stream)
                      : dispatch_rows_cpt<T, 2, false, true, true>(a, stream);
      return m == 1 ? dispatch_rows_cpt<T, 1, false, false, true>(a, stream)
                    : dispatch_rows_cpt<T, 2, false, false, true>(a, stream);
    }
  }
  if (norm)
    return m == 1 ? dispatch_rows_cpt<T, 1, kGated, true, false>(a, stream)
                  : dispatch_rows_cpt<T, 2, kGated, true, false>(a, stream);
  return m == 1 ? dispatch_rows_cpt<T, 1, kGated, false, false>(a, stream)
                : dispatch_rows_cpt<T, 2, kGated, false, false>(a, stream);
}

}  // namespace

RowsShape rows_shape(int64_t kc) {
  constexpr int kRowsMaxCpt = 8;
  int cpt = 1;
  while (cpt < kRowsMaxCpt && int64_t{cpt} * kRowsMaxThreads < kc) cpt *= 2;
  const int64_t threads = ((kc + cpt - 1) / cpt + 31) / 32 * 32;
  if (threads > kRowsMaxThreads) return {};
  return {cpt, static_cast<int>(threads)};
}

core::Status launch_block_rows(const GemvArgs& a, core::DType dtype, bool gated, int64_t m,
                               cudaStream_t stream) {
  if (dtype == core::DType::bf16) {
    return gated ? dispatch_rows<__nv_bfloat16, true>(m, a, stream)
                 : dispatch_rows<__nv_bfloat16, false>(m, a, stream);
  }
  return gated ? dispatch_rows<__half, true>(m, a, stream)
               : dispatch_rows<__half, false>(m, a, stream);
}

}  // namespace lightllm::kernels::cuda::gemv_detail
