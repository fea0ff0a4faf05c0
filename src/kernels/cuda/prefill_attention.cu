// src/kernels/cuda/prefill_attention.cu — argument checks and variant choice of prefill_attention,
// and the current kernel (variant 2). Block = 4 warps over a tile of kBM = 16 * RB * 4 query rows
// of one (request, head); warp w owns rows [w * 16RB, (w + 1) * 16RB) as RB m16 row blocks.
//   smem: Q [kBM][D+8]; T caches: K, V [2 stages][64][D+8]; int8 caches: K8, V8 staging
//         [2 stages][64][D+16] bytes + scales [2][64] f32, converted into one K and one V tile
//         [64][D+8] of T per step; slot indices [2][64] (a tile ahead).
//   regs: S [RB][8][4] f32, O [RB][D/8][4] f32, row max / sum [RB][2]; Q fragments
//         [RB][D/16][4] when RB == 1 or D <= 64, else re-read from smem each step (ptxas
//         -v, sm_90a: 255 registers and 40 bytes of spill for RB = 2, D = 128).
// +8 elements (16 bytes) of row padding make every ldmatrix phase hit 32 distinct banks for all
// head dims (an XOR swizzle would not cover D = 80 and 96, whose 10 / 12 chunks per row are not
// a power of two).
// Pipeline (T caches): K(i+1) and V(i+1) are two cp.async groups issued at the top of step i;
// S = QK^T waits only for K(i), O += PV only for V(i). The slots of tile i+2 are read from
// req_to_token during step i (one int per thread of the first two warps) and stored to smem.
// Scores live in the log2 domain. RB = 2: the row max is taken over the raw scores and each
// probability is one FFMA + ex2.approx.ftz (exp2(s * c - m * c), c = scale * log2(e)); RB = 1
// keeps the previous form (s * c first, exp2f), measured faster there (PERFORMANCE.md run 5).
#include "kernels/cuda/prefill_attention.h"

#include <atomic>
#include <cmath>

#include "kernels/cuda/prefill_attention_mma.cuh"

namespace lightllm::kernels::cuda {
namespace prefill_detail {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kStages = 2;
constexpr float kLog2e = 1.4426950408889634f;

// Shared-memory plan in bytes (every region 16-byte aligned).
template <typename T, typename KV, int D, int RB, int kBN>
struct Smem {
  static constexpr bool kInt8 = sizeof(KV) == 1;
  static constexpr int LD = D + 8;    // T row pitch in elements
  static constexpr int LD8 = D + 16;  // int8 staging row pitch in bytes
  static constexpr int kBM = 16 * RB * kWarps;
  static constexpr int kTTiles = kInt8 ? 1 : kStages;  // T tiles of K (and of V)
  static constexpr size_t q = size_t{kBM} * LD * sizeof(T);
  static constexpr size_t kv = size_t{2} * kTTiles * kBN * LD * sizeof(T);
  static constexpr size_t staging = kInt8 ? size_t{2} * kStages * kBN * LD8 : 0;
  static constexpr size_t scales = kInt8 ? size_t{2} * kStages * kBN * sizeof(float) : 0;
  static constexpr size_t slots = size_t{2} * kBN * sizeof(int32_t);
  static constexpr size_t off_kv = q;
  static constexpr size_t off_staging = off_kv + kv;
  static constexpr size_t off_scales = off_staging + staging;
  static constexpr size_t off_slots = off_scales + scales;
  static constexpr size_t total = off_slots + slots;
};

template <typename T, typename KV, int D, int RB, int kBN>
__global__ void __launch_bounds__(kThreads) prefill_v2_kernel(PrefillAttentionParams p) {
  using SM = Smem<T, KV, D, RB, kBN>;
  constexpr int LD = SM::LD, LD8 = SM::LD8, kBM = SM::kBM, kRows = 16 * RB;
  constexpr bool kInt8 = SM::kInt8;
  constexpr bool kQRegs = RB == 1 || D <= 64;  // ptxas: spills at RB 2, D 80
  static_assert(kThreads >= kBN, "one slot per thread of the block");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);                               // [kBM][LD]
  T* sK = reinterpret_cast<T*>(smem_raw + SM::off_kv);                  // [kTTiles][kBN][LD]
  T* sV = sK + SM::kTTiles * kBN * LD;                                  // [kTTiles][kBN][LD]
  int8_t* sK8 = reinterpret_cast<int8_t*>(smem_raw + SM::off_staging);  // [kStages][kBN][LD8]
  int8_t* sV8 = sK8 + kStages * kBN * LD8;
  float* sKs = reinterpret_cast<float*>(smem_raw + SM::off_scales);  // [kStages][kBN]
  float* sVs = sKs + kStages * kBN;
  int32_t* sSlot = reinterpret_cast<int32_t*>(smem_raw + SM::off_slots);  // [2][kBN], -1 = none

  const int r = blockIdx.z, h = blockIdx.y;
  const int m_tile = gridDim.x - 1 - blockIdx.x;  // longest causal tiles first
  const int q0 = p.q_start[r];
  const int q_len = p.q_start[r + 1] - q0;
  const int m0 = m_tile * kBM;
  if (m0 >= q_len) return;
  const int kv_len = p.kv_len[r];
  const int prefix = kv_len - q_len;
  const int kvh = h / (p.n_heads / p.n_kv_heads);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int window = p.sliding_window;
  const bool causal = p.causal;

  const KeyTiles tiles = key_tiles(m0, kBM, q_len, kv_len, causal, window, kBN);
  const int tile_lo = tiles.lo, tile_hi = tiles.hi;

  // This warp's rows: positions [wp_lo, wp_hi]; a warp past q_len only joins the barriers.
  const int wr0 = m0 + warp * kRows;
  const bool warp_rows = wr0 < q_len;
  const int wp_lo = prefix + wr0, wp_hi = prefix + min(wr0 + kRows, q_len) - 1;

  const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * D;
  const T* qbase = static_cast<const T*>(p.q) + static_cast<int64_t>(q0) * qs + int64_t{h} * D;
  const int32_t* slot_row =
      p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const int n_kv_heads = p.n_kv_heads;
  auto fetch_slot = [&](int tile) -> int32_t {  // threads tid < kBN: slot of key tile*kBN + tid
    const int j = tile * kBN + tid;
    return tid < kBN && j < kv_len ? slot_row[j] : -1;
  };

  // Issues the cp.async copies of one K or V tile (rows with slot -1 are zero-filled).
  auto load_tile = [&](const void* cache, const float* scale, int stage, bool is_v) {
    const int32_t* slots = sSlot + (stage & 1) * kBN;
    if constexpr (kInt8) {
      constexpr int kChunks = D / 16;
      int8_t* dst = (is_v ? sV8 : sK8) + stage * kBN * LD8;
      const int8_t* c = static_cast<const int8_t*>(cache);
      for (int idx = tid; idx < kBN * kChunks; idx += kThreads) {
        const int row = idx / kChunks, ch = idx % kChunks;
        const int32_t slot = slots[row];
        const int8_t* src =
            slot >= 0 ? c + (static_cast<int64_t>(slot) * n_kv_heads + kvh) * D + ch * 16 : c;
        cp_async16(dst + row * LD8 + ch * 16, src, slot >= 0);
      }
      if (tid < kBN) {
        const int32_t slot = slots[tid];
        const float* src =
            slot >= 0 ? scale + static_cast<int64_t>(slot) * n_kv_heads + kvh : scale;
        cp_async4((is_v ? sVs : sKs) + stage * kBN + tid, src, slot >= 0);
      }
    } else {
      constexpr int kChunks = D / 8;
      T* dst = (is_v ? sV : sK) + stage * kBN * LD;
      const T* c = static_cast<const T*>(cache);
      for (int idx = tid; idx < kBN * kChunks; idx += kThreads) {
        const int row = idx / kChunks, ch = idx % kChunks;
        const int32_t slot = slots[row];
        const T* src =
            slot >= 0 ? c + (static_cast<int64_t>(slot) * n_kv_heads + kvh) * D + ch * 8 : c;
        cp_async16(dst + row * LD + ch * 8, src, slot >= 0);
      }
    }
  };
  // int8: staging stage -> the single T tile (values exact in bf16/f16; scales applied later).
  auto convert_tile = [&](int stage) {
    constexpr int kChunks = D / 16;
    for (int idx = tid; idx < 2 * kBN * kChunks; idx += kThreads) {
      const int which = idx / (kBN * kChunks), rest = idx % (kBN * kChunks);
      const int row = rest / kChunks, ch = rest % kChunks;
      const int8_t* src = (which ? sV8 : sK8) + (stage * kBN + row) * LD8 + ch * 16;
      const uint4 raw = *reinterpret_cast<const uint4*>(src);
      const int8_t* b = reinterpret_cast<const int8_t*>(&raw);
      uint32_t w[8];
#pragma unroll
      for (int e = 0; e < 8; ++e)
        w[e] = pack2<T>(static_cast<float>(b[2 * e]), static_cast<float>(b[2 * e + 1]));
      T* dst = (which ? sV : sK) + row * LD + ch * 16;
      *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
      *reinterpret_cast<uint4*>(dst + 8) = make_uint4(w[4], w[5], w[6], w[7]);
    }
  };

  // Prologue: slots of the first tile, then Q + K(first) as one group, V(first) as the next.
  if (tid < kBN) sSlot[tid] = fetch_slot(tile_lo);
  __syncthreads();
  for (int idx = tid; idx < kBM * (D / 8); idx += kThreads) {
    const int row = idx / (D / 8), c = idx % (D / 8);
    const bool valid = m0 + row < q_len;
    const T* src = valid ? qbase + static_cast<int64_t>(m0 + row) * qs + c * 8 : qbase;
    cp_async16(sQ + row * LD + c * 8, src, valid);
  }
  load_tile(p.k_cache, p.k_scale, 0, false);
  if constexpr (!kInt8) cp_async_commit();
  load_tile(p.v_cache, p.v_scale, 0, true);
  cp_async_commit();
  // Slots of the second tile (its loads are issued at the top of the first step).
  if (tid < kBN && tile_lo + 1 < tile_hi) sSlot[kBN + tid] = fetch_slot(tile_lo + 1);

  uint32_t qf[kQRegs ? RB : 1][kQRegs ? D / 16 : 1][4];
  float o[RB][D / 8][4];
#pragma unroll
  for (int rb = 0; rb < RB; ++rb)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[rb][i][0] = o[rb][i][1] = o[rb][i][2] = o[rb][i][3] = 0.f;
  float row_m[RB][2], row_l[RB][2];
#pragma unroll
  for (int rb = 0; rb < RB; ++rb) {
    row_m[rb][0] = row_m[rb][1] = -INFINITY;
    row_l[rb][0] = row_l[rb][1] = 0.f;
  }
  const float scale_log2 = p.softmax_scale * kLog2e;
  const bool has_alibi = p.alibi_slopes != nullptr;
  const float alibi_log2 = has_alibi ? p.alibi_slopes[h] * kLog2e : 0.f;
  const bool pre_scale = kInt8 || has_alibi || !(scale_log2 > 0.f);
  const float mul = pre_scale ? 1.f : scale_log2;  // raw score -> log2 domain, see the softmax
  const int pos_base = wp_lo + g;                  // position of row g of row block 0

  for (int tile = tile_lo; tile < tile_hi; ++tile) {
    const int buf = (tile - tile_lo) & 1;
    const bool has_next = tile + 1 < tile_hi;
    if (tile == tile_lo) __syncthreads();  // the prologue's slots of tile+1 are visible
    if (has_next) {
      load_tile(p.k_cache, p.k_scale, buf ^ 1, false);
      if constexpr (!kInt8) cp_async_commit();
      load_tile(p.v_cache, p.v_scale, buf ^ 1, true);
      cp_async_commit();
    }
    // Slots of tile+2 go to sSlot[buf] (its last reader issued tile's loads a step ago).
    const int32_t next_slot = tile + 2 < tile_hi ? fetch_slot(tile + 2) : -1;
    if constexpr (kInt8) {
      if (has_next) {
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
    } else {
      if (has_next) {
        cp_async_wait<3>();
      } else {
        cp_async_wait<1>();
      }
    }
    __syncthreads();  // K (int8: K and V) of this tile have landed
    if constexpr (kInt8) {
      convert_tile(buf);
      __syncthreads();
    }
    const T* k_s = sK + (kInt8 ? 0 : buf) * kBN * LD;
    const T* v_s = sV + (kInt8 ? 0 : buf) * kBN * LD;
    const float* ks_s = sKs + buf * kBN;
    const float* vs_s = sVs + buf * kBN;
    if constexpr (kQRegs) {
      if (tile == tile_lo) {
#pragma unroll
        for (int rb = 0; rb < RB; ++rb)
#pragma unroll
          for (int ks = 0; ks < D / 16; ++ks)
            ldmatrix_x4(qf[rb][ks], sQ + (warp * kRows + rb * 16 + (lane & 15)) * LD + ks * 16 +
                                        (lane >> 4) * 8);
      }
    }

    // Warp-uniform: does this warp see any key of the tile, and must it mask?
    const int n0 = tile * kBN;
    const bool warp_skip =
        !warp_rows || (causal && n0 > wp_hi) || (window > 0 && n0 + kBN - 1 <= wp_lo - window);
    const bool need_mask =
        has_alibi || tile_needs_mask(n0, kBN, wp_lo, wp_hi, kv_len, causal, window);

    float s[RB][kBN / 8][4];
    if (!warp_skip) {
      // S = Q K^T: each K fragment feeds 2 * RB MMAs.
#pragma unroll
      for (int rb = 0; rb < RB; ++rb)
#pragma unroll
        for (int i = 0; i < kBN / 8; ++i)
          s[rb][i][0] = s[rb][i][1] = s[rb][i][2] = s[rb][i][3] = 0.f;
#pragma unroll
      for (int ks = 0; ks < D / 16; ++ks) {
        uint32_t a[RB][4];
#pragma unroll
        for (int rb = 0; rb < RB; ++rb) {
          if constexpr (kQRegs) {
#pragma unroll
            for (int i = 0; i < 4; ++i) a[rb][i] = qf[rb][ks][i];
          } else {
            ldmatrix_x4(a[rb], sQ + (warp * kRows + rb * 16 + (lane & 15)) * LD + ks * 16 +
                                   (lane >> 4) * 8);
          }
        }
#pragma unroll
        for (int np = 0; np < kBN / 16; ++np) {
          uint32_t b[4];
          ldmatrix_x4(b, k_s + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * LD + ks * 16 +
                             ((lane >> 3) & 1) * 8);
#pragma unroll
          for (int rb = 0; rb < RB; ++rb) {
            mma16816<T>(s[rb][2 * np], a[rb], b[0], b[1]);
            mma16816<T>(s[rb][2 * np + 1], a[rb], b[2], b[3]);
          }
        }
      }

      if constexpr (RB == 2) {
        // Online softmax in the log2 domain. Plain path: the max is taken over the raw scores and
        // each probability is one FFMA + EX2, exp2(s * scale_log2 - m * scale_log2). int8 K, ALiBi
        // (or a non-positive scale): the scores are first mapped to the log2 domain (times the
        // key's scale, plus the bias) and `mul` is 1. Masked scores are -inf either way.
#pragma unroll
        for (int rb = 0; rb < RB; ++rb) {
          float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
          for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const int col = nb * 8 + 2 * t + (i & 1);
              float v = s[rb][nb][i];
              if (pre_scale) {
                v *= scale_log2;
                if constexpr (kInt8) v *= ks_s[col];
              }
              if (need_mask) {
                const int j = n0 + col;
                const int pos = pos_base + rb * 16 + (i >> 1) * 8;
                v = key_masked(j, pos, kv_len, causal, window)
                        ? -INFINITY
                        : v + alibi_log2 * static_cast<float>(j - pos);
              }
              s[rb][nb][i] = v;
              mx[i >> 1] = fmaxf(mx[i >> 1], v);
            }
          }
          float corr[2], neg_m[2];
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 1));
            mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 2));
            const float m_new = fmaxf(row_m[rb][hr], mx[hr] * mul);  // log2 domain
            const float m_use = m_new == -INFINITY ? 0.f : m_new;
            corr[hr] = fast_exp2(row_m[rb][hr] - m_use);  // row_m = -inf gives 0
            row_m[rb][hr] = m_new;
            row_l[rb][hr] *= corr[hr];
            neg_m[hr] = -m_use;
          }
#pragma unroll
          for (int i = 0; i < D / 8; ++i) {
            o[rb][i][0] *= corr[0];
            o[rb][i][1] *= corr[0];
            o[rb][i][2] *= corr[1];
            o[rb][i][3] *= corr[1];
          }
#pragma unroll
          for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const float e = fast_exp2(fmaf(s[rb][nb][i], mul, neg_m[i >> 1]));
              row_l[rb][i >> 1] += e;
              if constexpr (kInt8) {
                s[rb][nb][i] = e * vs_s[nb * 8 + 2 * t + (i & 1)];
              } else {
                s[rb][nb][i] = e;
              }
            }
          }
        }
      } else {
        // 64-row tiles keep the previous form (scale multiply, exp2f): the FFMA + EX2 form
        // measured ~10% slower here (docs/PERFORMANCE.md run 5).
        // Scale (int8: times the key's scale), bias, mask, online softmax (log2 domain).
#pragma unroll
        for (int rb = 0; rb < RB; ++rb) {
          float mx[2] = {row_m[rb][0], row_m[rb][1]};
#pragma unroll
          for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const int col = nb * 8 + 2 * t + (i & 1);
              float v = s[rb][nb][i] * scale_log2;
              if constexpr (kInt8) v *= ks_s[col];
              if (need_mask) {
                const int j = n0 + col;
                const int pos = pos_base + rb * 16 + (i >> 1) * 8;
                v = key_masked(j, pos, kv_len, causal, window)
                        ? -INFINITY
                        : v + alibi_log2 * static_cast<float>(j - pos);
              }
              s[rb][nb][i] = v;
              mx[i >> 1] = fmaxf(mx[i >> 1], v);
            }
          }
          float corr[2], m_use[2];
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 1));
            mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 2));
            m_use[hr] = mx[hr] == -INFINITY ? 0.f : mx[hr];
            corr[hr] = exp2f(row_m[rb][hr] - m_use[hr]);  // row_m = -inf gives 0
            row_m[rb][hr] = mx[hr];
            row_l[rb][hr] *= corr[hr];
          }
#pragma unroll
          for (int i = 0; i < D / 8; ++i) {
            o[rb][i][0] *= corr[0];
            o[rb][i][1] *= corr[0];
            o[rb][i][2] *= corr[1];
            o[rb][i][3] *= corr[1];
          }
#pragma unroll
          for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const float e = exp2f(s[rb][nb][i] - m_use[i >> 1]);
              row_l[rb][i >> 1] += e;
              if constexpr (kInt8) {
                s[rb][nb][i] = e * vs_s[nb * 8 + 2 * t + (i & 1)];
              } else {
                s[rb][nb][i] = e;
              }
            }
          }
        }
      }
    }
    if (tid < kBN && tile + 2 < tile_hi) sSlot[buf * kBN + tid] = next_slot;
    if constexpr (!kInt8) {
      if (has_next) {
        cp_async_wait<2>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();  // V of this tile has landed
    }
    if (!warp_skip) {
      // O += P V: P re-packed from the S accumulators as A fragments, V^T via ldmatrix.trans.
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        uint32_t a[RB][4];
#pragma unroll
        for (int rb = 0; rb < RB; ++rb) {
          a[rb][0] = pack2<T>(s[rb][2 * kk][0], s[rb][2 * kk][1]);
          a[rb][1] = pack2<T>(s[rb][2 * kk][2], s[rb][2 * kk][3]);
          a[rb][2] = pack2<T>(s[rb][2 * kk + 1][0], s[rb][2 * kk + 1][1]);
          a[rb][3] = pack2<T>(s[rb][2 * kk + 1][2], s[rb][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, v_s + (kk * 16 + (lane & 15)) * LD + dp * 16 + (lane >> 4) * 8);
#pragma unroll
          for (int rb = 0; rb < RB; ++rb) {
            mma16816<T>(o[rb][2 * dp], a[rb], b[0], b[1]);
            mma16816<T>(o[rb][2 * dp + 1], a[rb], b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // the next step's loads overwrite the buffers read here
  }

  // Finish: full row sums, normalize, store rows < q_len.
  T* obase = static_cast<T*>(p.out) + static_cast<int64_t>(q0) * p.n_heads * D + int64_t{h} * D;
#pragma unroll
  for (int rb = 0; rb < RB; ++rb) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float l = row_l[rb][hr];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int row = wr0 + rb * 16 + g + hr * 8;
      if (row >= q_len) continue;
      T* orow = obase + static_cast<int64_t>(row) * p.n_heads * D;
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        const uint32_t v = pack2<T>(o[rb][i][2 * hr] * inv, o[rb][i][2 * hr + 1] * inv);
        *reinterpret_cast<uint32_t*>(orow + i * 8 + 2 * t) = v;
      }
    }
  }
}

template <typename T, typename KV, int D, int RB, int BN>
core::Status launch(const PrefillAttentionParams& p, cudaStream_t stream) {
  using SM = Smem<T, KV, D, RB, BN>;
  static std::atomic<uint64_t> attr_done{0};
  LLM_RETURN_IF_ERROR(allow_smem(prefill_v2_kernel<T, KV, D, RB, BN>, SM::total, attr_done));
  const dim3 grid((p.max_q_len + SM::kBM - 1) / SM::kBM, p.n_heads, p.n_reqs);
  prefill_v2_kernel<T, KV, D, RB, BN><<<grid, kThreads, SM::total, stream>>>(p);
  return LLM_CUDA_CHECK_LAUNCH();
}

// Keys per K/V tile: 64 (32 at D = 128 avoids the spills of 128-row tiles but measured 7-8%
// slower on the H200, docs/PERFORMANCE.md run 5).
template <typename T, typename KV, int D, int RB>
core::Status launch_bn(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (p.kv_tile != 0 && p.kv_tile != 64)
    return core::invalid_argument("prefill_attention: variant 2 has kv_tile 64, got {}", p.kv_tile);
  return launch<T, KV, D, RB, 64>(p, stream);
}

template <typename T, typename KV, int RB>
core::Status launch_d(const PrefillAttentionParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 16: return launch_bn<T, KV, 16, RB>(p, stream);
    case 32: return launch_bn<T, KV, 32, RB>(p, stream);
    case 64: return launch_bn<T, KV, 64, RB>(p, stream);
    case 80: return launch_bn<T, KV, 80, RB>(p, stream);
    case 96: return launch_bn<T, KV, 96, RB>(p, stream);
    case 128: return launch_bn<T, KV, 128, RB>(p, stream);
    default:
      return core::unimplemented("prefill_attention: head_dim {} (have 16, 32, 64, 80, 96, 128)",
                                 p.head_dim);
  }
}

template <typename T, typename KV>
core::Status launch_rb(const PrefillAttentionParams& p, cudaStream_t stream) {
  const int rows = p.block_rows != 0 ? p.block_rows : (p.max_q_len >= 128 ? 128 : 64);
  return rows == 128 ? launch_d<T, KV, 2>(p, stream) : launch_d<T, KV, 1>(p, stream);
}

}  // namespace

core::Status prefill_attention_v2(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (p.kv_int8) {
    LLM_DISPATCH_HALF("prefill_attention", p.dtype, return (launch_rb<T, int8_t>(p, stream)));
  } else {
    LLM_DISPATCH_HALF("prefill_attention", p.dtype, return (launch_rb<T, T>(p, stream)));
  }
  return {};
}

}  // namespace prefill_detail

core::Status prefill_attention(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (p.q == nullptr || p.k_cache == nullptr || p.v_cache == nullptr || p.req_to_token == nullptr ||
      p.req_row == nullptr || p.q_start == nullptr || p.kv_len == nullptr || p.out == nullptr ||
      (p.kv_int8 && (p.k_scale == nullptr || p.v_scale == nullptr))) {
    return core::invalid_argument("prefill_attention: null pointer");
  }
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.n_reqs < 0 ||
      p.max_q_len < 0 || p.sliding_window < 0 ||
      (p.block_rows != 0 && p.block_rows != 64 && p.block_rows != 128 && p.block_rows != 192) ||
      (p.kv_tile != 0 && p.kv_tile != 64 && p.kv_tile != 128) || p.ctas < kPrefillCtasPerItem) {
    return core::invalid_argument(
        "prefill_attention: bad shape n_heads={} n_kv_heads={} max_q_len={} block_rows={} "
        "kv_tile={} ctas={}",
        p.n_heads, p.n_kv_heads, p.max_q_len, p.block_rows, p.kv_tile, p.ctas);
  }
  if (p.variant != 0 && p.variant != 2 && p.variant != 5) {
    return core::invalid_argument(
        "prefill_attention: variant {} (valid: 0 automatic, 2 mma.sync, 5 warp-specialized wgmma)",
        p.variant);
  }
  const bool ws = p.variant == 5 || (p.variant == 0 && prefill_detail::prefill_wgmma_supported(p));
  // Tile knobs the mma.sync kernel does not have.
  if (!ws && (p.block_rows == 192 || p.kv_tile == 128)) {
    return core::invalid_argument(
        "prefill_attention: block_rows 192 / kv_tile 128 are variant 5 (wgmma) only");
  }
  if (p.n_reqs == 0 || p.max_q_len == 0) return {};
  if (ws) return prefill_detail::prefill_attention_ws(p, stream);
  return prefill_detail::prefill_attention_v2(p, stream);
}

}  // namespace lightllm::kernels::cuda
