// src/kernels/cpu/matmul_cpu.cpp — nn.Linear on the CPU: out[m, n] = x[m, :] . w[n, :] + b[n].
// Dot-product tiles: MR rows of x against NR = 4 rows of w, MR*NR vector accumulators over
// the whole K, reduced once at the end. Each weight tile is loaded once per pass over the
// rows of x it serves, so for decode (m <= kDecodeRows) every weight row streams from memory
// exactly once; larger m is cut into row blocks whose x slice stays in L2.
// Paths: AVX-512 BF16 (vdpbf16ps, x rounded to bf16), AVX-512 and AVX2+FMA (weights widened
// to f32, exact f32 math), scalar. Threads split the n tiles (or the m rows when n is small).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/isa.h"

// GCC 12 warns inside its own AVX-512 headers (the self-initialised "undefined" vectors of
// _mm*_undefined_*): a known false positive, silenced for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lightllm::kernels::cpu {
namespace {

constexpr int kNr = 4;                       // weight rows per tile
constexpr int64_t kDecodeRows = 64;          // up to this many x rows: one pass over the weights
constexpr int64_t kXBlockBytes = 256 << 10;  // x slice per row block for larger m

// Tile signature: x [MR, ldx] (f32, or bf16 when the kernel packs x), w [NR, k] rows of the
// weight, out [MR, ldo], bias [NR] or null.
using TileFn = void (*)(const void* x, int64_t ldx, const void* w, int64_t k, float* out,
                        int64_t ldo, const float* bias);

// Weight tiles are contiguous rows: while a tile runs, ask for the same cache line three
// tiles (3 * NR rows) further on, into L2 (prefetcht1). Each row is short (k * 2 bytes) for
// the hardware prefetcher to lock on; measured on Zen 4, L2 prefetch three tiles ahead
// streams ~1.5x faster than L1 prefetch one tile ahead. Prefetches never fault.
template <DType WT, int NR>
inline void prefetch_next_tile(const void* w, int64_t elem, int64_t k) {
  const char* p = static_cast<const char*>(w) +
                  (elem + 3 * NR * k) * static_cast<int64_t>(core::dtype_size(WT));
  __builtin_prefetch(p, 0, 2);
}

// --- scalar -------------------------------------------------------------------------------
template <DType WT>
inline float load_w(const void* w, int64_t i) {
  if constexpr (WT == DType::f32) return static_cast<const float*>(w)[i];
  if constexpr (WT == DType::bf16) return core::bf16_to_f32(static_cast<const core::bf16*>(w)[i]);
  if constexpr (WT == DType::f16) return core::f16_to_f32(static_cast<const core::f16*>(w)[i]);
  return 0.0f;
}

template <DType WT, int MR, int NR>
void tile_scalar(const void* xv, int64_t ldx, const void* w, int64_t k, float* out, int64_t ldo,
                 const float* bias) {
  const float* x = static_cast<const float*>(xv);
  float acc[MR][NR] = {};
  for (int64_t kk = 0; kk < k; ++kk)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const float wj = load_w<WT>(w, j * k + kk);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] += x[i * ldx + kk] * wj;
    }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) out[i * ldo + j] = acc[i][j] + (bias ? bias[j] : 0.0f);
}

// --- AVX2 + FMA: 8 lanes, weights widened to f32 -------------------------------------------
template <DType WT>
LLM_TARGET_AVX2 inline __m256 load_w8(const void* w, int64_t i) {
  if constexpr (WT == DType::f32) return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  const __m128i h =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
  if constexpr (WT == DType::bf16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

LLM_TARGET_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <DType WT, int MR, int NR>
LLM_TARGET_AVX2 void tile_avx2(const void* xv, int64_t ldx, const void* w, int64_t k, float* out,
                               int64_t ldo, const float* bias) {
  const float* x = static_cast<const float*>(xv);
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      wv[j] = load_w8<WT>(w, j * k + kk);
      if (kk % 16 == 0) prefetch_next_tile<WT, NR>(w, j * k + kk, k);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 xi = _mm256_loadu_ps(x + i * ldx + kk);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xi, wv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      float s = hsum8(acc[i][j]);
      for (int64_t t = kk; t < k; ++t) s += x[i * ldx + t] * load_w<WT>(w, j * k + t);
      out[i * ldo + j] = s + (bias ? bias[j] : 0.0f);
    }
}

// --- AVX-512: 16 lanes, weights widened to f32 -----------------------------------------------
template <DType WT>
LLM_TARGET_AVX512 inline __m512 load_w16(const void* w, int64_t i, __mmask16 m) {
  if constexpr (WT == DType::f32) return _mm512_maskz_loadu_ps(m, static_cast<const float*>(w) + i);
  const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(w) + i);
  if constexpr (WT == DType::bf16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

// Horizontal sums of four vectors at once: returns {sum(a0), sum(a1), sum(a2), sum(a3)}.
// About 3x fewer shuffles/adds than four separate reductions.
LLM_TARGET_AVX512 inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 a01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 a23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512 b = _mm512_add_ps(
      _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a01), _mm512_castps_pd(a23))),
      _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a01), _mm512_castps_pd(a23))));
  const __m256 c = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
  return _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
}

// out[i, 0..NR) = row sums of acc[i] (+ bias).
template <int MR, int NR>
LLM_TARGET_AVX512 inline void store_sums(__m512 (&acc)[MR][NR], float* out, int64_t ldo,
                                         const float* bias) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if constexpr (NR == 4) {
      __m128 s = reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      if (bias) s = _mm_add_ps(s, _mm_loadu_ps(bias));
      _mm_storeu_ps(out + i * ldo, s);
    } else {
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j)
        out[i * ldo + j] = _mm512_reduce_add_ps(acc[i][j]) + (bias ? bias[j] : 0.0f);
    }
  }
}

template <DType WT, int MR, int NR>
LLM_TARGET_AVX512 void tile_avx512(const void* xv, int64_t ldx, const void* w, int64_t k,
                                   float* out, int64_t ldo, const float* bias) {
  const float* x = static_cast<const float*>(xv);
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; kk += 16) {
    const __mmask16 m = k - kk >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - kk)) - 1);
    __m512 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      wv[j] = load_w16<WT>(w, j * k + kk, m);
      prefetch_next_tile<WT, NR>(w, j * k + kk, k);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 xi = _mm512_maskz_loadu_ps(m, x + i * ldx + kk);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(xi, wv[j], acc[i][j]);
    }
  }
  store_sums<MR, NR>(acc, out, ldo, bias);
}

// --- AVX-512 BF16: vdpbf16ps on bf16 weights and x packed to bf16 ---------------------------
template <int MR, int NR>
LLM_TARGET_AVX512BF16 void tile_dpbf16(const void* xv, int64_t ldx, const void* w, int64_t k,
                                       float* out, int64_t ldo, const float* bias) {
  const uint16_t* x = static_cast<const uint16_t*>(xv);
  const uint16_t* wb = static_cast<const uint16_t*>(w);
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; kk += 32) {
    const __mmask32 m = k - kk >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << (k - kk)) - 1);
    __m512i wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      wv[j] = _mm512_maskz_loadu_epi16(m, wb + j * k + kk);
      prefetch_next_tile<DType::bf16, NR>(w, j * k + kk, k);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i xi = _mm512_maskz_loadu_epi16(m, x + i * ldx + kk);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j)
        acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xi, (__m512bh)wv[j]);
    }
  }
  store_sums<MR, NR>(acc, out, ldo, bias);
}

// x [m, k] f32 -> bf16 (round to nearest even) for the vdpbf16ps path.
LLM_TARGET_AVX512BF16 void pack_bf16(const float* x, int64_t n, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
  for (; i < n; ++i) dst[i] = core::f32_to_bf16(x[i]).bits;
}

// --- kernel tables --------------------------------------------------------------------------
struct Kernel {
  int mr = 1;               // rows of x per tile (tiles for 1..mr exist)
  TileFn full[4] = {};      // [mr_rows - 1], NR = kNr weight rows
  TileFn edge[4] = {};      // [mr_rows - 1], one weight row
  bool packs_bf16 = false;  // x is converted to bf16 before the tiles run
};

#define LLM_TABLE(FN, WT, MR)                                                             \
  Kernel {                                                                                \
    MR,                                                                                   \
        {&FN<WT, 1, kNr>, &FN<WT, (MR > 1 ? 2 : 1), kNr>, &FN<WT, (MR > 2 ? 3 : 1), kNr>, \
         &FN<WT, (MR > 3 ? 4 : 1), kNr>},                                                 \
        {&FN<WT, 1, 1>, &FN<WT, (MR > 1 ? 2 : 1), 1>, &FN<WT, (MR > 2 ? 3 : 1), 1>,       \
         &FN<WT, (MR > 3 ? 4 : 1), 1>},                                                   \
        false                                                                             \
  }

template <DType WT>
Kernel kernel_for(Isa isa) {
  if (isa >= Isa::avx512) return LLM_TABLE(tile_avx512, WT, 4);
  if (isa >= Isa::avx2) return LLM_TABLE(tile_avx2, WT, 2);
  return LLM_TABLE(tile_scalar, WT, 4);
}

Kernel select_kernel(DType w_dtype) {
  const Isa isa = active_isa();
  switch (w_dtype) {
    case DType::bf16:
      if (isa >= Isa::avx512_bf16)
        return Kernel{
            4,
            {&tile_dpbf16<1, kNr>, &tile_dpbf16<2, kNr>, &tile_dpbf16<3, kNr>,
             &tile_dpbf16<4, kNr>},
            {&tile_dpbf16<1, 1>, &tile_dpbf16<2, 1>, &tile_dpbf16<3, 1>, &tile_dpbf16<4, 1>},
            true};
      return kernel_for<DType::bf16>(isa);
    case DType::f16: return kernel_for<DType::f16>(isa);
    default: return kernel_for<DType::f32>(isa);
  }
}

// The rows [m_lo, m_hi) x weight tiles [t_lo, t_hi) share of one thread.
void run_range(const Kernel& kern, const MatmulParams& p, const void* x, size_t x_elem,
               int64_t m_lo, int64_t m_hi, int64_t t_lo, int64_t t_hi) {
  const size_t w_elem = core::dtype_size(p.w_dtype);
  const char* xb = static_cast<const char*>(x);
  const char* wb = static_cast<const char*>(p.w);
  int64_t mb = p.m <= kDecodeRows ? p.m : kXBlockBytes / (p.k * static_cast<int64_t>(x_elem));
  mb = std::max<int64_t>(kern.mr, mb / kern.mr * kern.mr);
  for (int64_t b0 = m_lo; b0 < m_hi; b0 += mb) {
    const int64_t b1 = std::min(m_hi, b0 + mb);
    for (int64_t t = t_lo; t < t_hi; ++t) {
      const int64_t n0 = t * kNr;
      const int64_t nr = std::min<int64_t>(kNr, p.n - n0);
      for (int64_t i = b0; i < b1; i += kern.mr) {
        const int64_t rows = std::min<int64_t>(kern.mr, b1 - i);
        const void* xi = xb + static_cast<size_t>(i * p.k) * x_elem;
        float* oi = p.out + i * p.n + n0;
        if (nr == kNr) {
          kern.full[rows - 1](xi, p.k, wb + static_cast<size_t>(n0 * p.k) * w_elem, p.k, oi, p.n,
                              p.bias ? p.bias + n0 : nullptr);
        } else {
          for (int64_t j = 0; j < nr; ++j)
            kern.edge[rows - 1](xi, p.k, wb + static_cast<size_t>((n0 + j) * p.k) * w_elem, p.k,
                                oi + j, p.n, p.bias ? p.bias + n0 + j : nullptr);
        }
      }
    }
  }
}

}  // namespace

void matmul(const MatmulParams& p) {
  if (p.m <= 0 || p.n <= 0) return;
  if (p.k <= 0) {  // empty dot products: out = bias (or 0)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) p.out[i * p.n + j] = p.bias ? p.bias[j] : 0.0f;
    return;
  }
  const Kernel kern = select_kernel(p.w_dtype);
  const void* x = p.x;
  size_t x_elem = sizeof(float);
  thread_local std::vector<uint16_t> packed;
  if (kern.packs_bf16) {
    packed.resize(static_cast<size_t>(p.m * p.k));
    pack_bf16(p.x, p.m * p.k, packed.data());
    x = packed.data();
    x_elem = sizeof(uint16_t);
  }
  const int64_t n_tiles = (p.n + kNr - 1) / kNr;
  const bool parallel = p.m * p.n * p.k >= (1 << 15);
  // Work is cut into ~8 chunks per thread, handed out dynamically: on a shared machine a
  // descheduled thread then delays only its current chunk, not a fixed half of the op.
#pragma omp parallel if (parallel)
  {
    const int64_t nt = omp_get_num_threads();
    if (n_tiles >= 4 * nt || p.m < 2 * kern.mr * nt) {  // split the weight rows
      const int64_t chunks = std::min<int64_t>(n_tiles, 8 * nt);
#pragma omp for schedule(dynamic, 1)
      for (int64_t c = 0; c < chunks; ++c)
        run_range(kern, p, x, x_elem, 0, p.m, n_tiles * c / chunks, n_tiles * (c + 1) / chunks);
    } else {  // few weight rows, many x rows: split x rows in multiples of mr
      const int64_t groups = (p.m + kern.mr - 1) / kern.mr;
      const int64_t chunks = std::min<int64_t>(groups, 8 * nt);
#pragma omp for schedule(dynamic, 1)
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t g0 = groups * c / chunks, g1 = groups * (c + 1) / chunks;
        run_range(kern, p, x, x_elem, g0 * kern.mr, std::min(p.m, g1 * kern.mr), 0, n_tiles);
      }
    }
  }
}

}  // namespace lightllm::kernels::cpu
