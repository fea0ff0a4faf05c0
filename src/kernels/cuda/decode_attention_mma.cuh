// src/kernels/cuda/decode_attention_mma.cuh — the decode attention split kernel on the tensor
// cores (device code, included by decode_attention.cu only) and the merge of its warps' streams.
// Block = kWarps warps (4; 8 for a resident chunk of 129-256 tokens), one (request, HB query
// heads of one kv head, split). Each warp walks its own 16-token tiles of the split (tiles warp,
// warp + kWarps, ...) through a kStages-deep cp.async ring of its own in shared memory (K and V
// rows gathered through req_to_token, 16-byte copies) and keeps its own online softmax; the
// warps are merged at the end. With 16-bit K/V and one split (ring only), each issue also
// prefetches into L2 the K / V rows of the warp's tile kL2Ahead16 issues later (more bytes in
// flight than the ring holds; docs/PERFORMANCE.md run 16).
// Short chunks (kResident > 0: at most kResident tiles per warp, as at batch 1): every tile of
// the warp has its own stage (35 KB a tile per 4 warps at head_dim 128, against the ring's
// 104 KB), and the copies of every cached token but the newest are issued before the PDL wait:
// those rows were written by earlier steps. The newest token's row (and int8 scales), written
// by the previous kernel's KV store, is copied after the wait (docs/PERFORMANCE.md run 27:
// batch-1 decode steps 0.5-0.8% faster with one tile a warp; run 28: 1.2-1.6% more with one
// split of 4 tiles a warp at 129-256 tokens; run 29: 8 warps of 2 tiles, a shorter chain after
// the wait, 0.2-0.6% more).
// Per tile: S = Q K^T by mma.sync m16n8k16 with the HB heads as the rows of A (rows >= HB are
// zero), two 8-token column blocks; P = exp2(S - m) stays in registers as the A fragment of
// O += P V. 16-bit K/V: K fragments by ldmatrix, V by ldmatrix.trans, mma in T. int8 K/V: the
// mma runs in f16 (int8 is exact in f16): K bytes are read as 4-byte words with the dims of a
// k-step permuted (logical k 2c, 2c+1, 2c+8, 2c+9 <-> stored 4c .. 4c+3; Q is permuted the
// same way), V as 2-byte pairs of dims (logical column g of n-blocks 2i, 2i+1 <-> stored dims
// 16i + 2g, 16i + 2g + 1), bytes turned into f16 by PRMT under the exponent of 1024 and one
// HSUB2; the K scale multiplies the score, the V scale P (one multiply per token).
// Invariants: D % 16 == 0, HB <= 8; rows of tokens past the chunk are zero-filled (P = 0 there,
// so no NaN can enter O); the ring's trailing zero-fill copies are waited for before exit.
// Precision: P is rounded to T (16-bit K/V) or f16 (int8 K/V) before the P V mma, as in
// FlashAttention; the int8 path also rounds q * softmax_scale * log2(e) to f16 (finite for
// |q| < ~5e5 at head_dim 128) and P * v_scale to f16 (products below 6e-5 lose relative
// precision; their share of the output is that small too).
#pragma once

#include <type_traits>

#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/prefill_attention_mma.cuh"

namespace lightllm::kernels::cuda::decode_detail {

using prefill_detail::cp_async16;
using prefill_detail::cp_async4;
using prefill_detail::cp_async_commit;
using prefill_detail::cp_async_wait;

constexpr int kMmaWarps = 4;  // warps of a block (kWideWarps for resident chunks of 129-256 tokens)
constexpr int kMmaTile = 16;  // tokens per warp tile (k of the P V mma)
// Ring depth per warp (tiles in flight + the one being computed). Compile-time tuning knobs for
// bench/cuda/attention_tune (tools/attention_tune.sh builds variants with -D).
#ifndef LIGHTLLM_DECODE_MMA_STAGES16
#define LIGHTLLM_DECODE_MMA_STAGES16 3
#endif
#ifndef LIGHTLLM_DECODE_MMA_STAGES8
#define LIGHTLLM_DECODE_MMA_STAGES8 3
#endif
// L2 prefetch ahead of the ring (16-bit K/V, one split): when a warp issues the copies of
// tile t into its ring, its lanes also prefetch into L2 the K / V rows of tile
// t + kL2Ahead16 * kMmaWarps (its own tile kL2Ahead16 issues later), so more bytes are in flight
// per SM than the shared-memory ring holds. 0: no prefetch. docs/PERFORMANCE.md run 16, H100
// chain: 1 beats 0 at every batch >= 32 shape (32 x 4k -4%); 2 and 4 lost (+11% / +66% at
// 32 x 4k, bulk prefetches), and so did int8 K/V (+24% at 32 x 1k: instruction-bound) and
// several splits (batch 1: +4% at 1 x 4k), which therefore never prefetch.
#ifndef LIGHTLLM_DECODE_MMA_L2_AHEAD
#define LIGHTLLM_DECODE_MMA_L2_AHEAD 1
#endif
constexpr int kL2Ahead16 = LIGHTLLM_DECODE_MMA_L2_AHEAD;
static_assert(kL2Ahead16 >= 0 && kL2Ahead16 <= 8, "decode mma: L2 prefetch distance");

// (No L2 cache policies on the copies: cp.async's .L2::cache_hint form stops the kernel with
// cudaErrorIllegalInstruction on the H100 with nvcc 13, whether the policy comes from createpolicy
// or from a kernel parameter; docs/PERFORMANCE.md runs 16 and 25.)
// Hint: fetch the kBytes at `p` into L2, one prefetch.global.L2 per 128-byte line the range
// touches (run 16: one sm_90 bulk prefetch per row cost more at 32 x 1k and batch 1). Reads
// nothing back, changes no result; `p` must point into an allocation.
template <int kBytes>
__device__ __forceinline__ void prefetch_l2(const void* p) {
  const char* c = static_cast<const char*>(p);
#pragma unroll
  for (int b = 0; b < kBytes; b += 128) asm volatile("prefetch.global.L2 [%0];" ::"l"(c + b));
  if constexpr (kBytes % 128 != 0) asm volatile("prefetch.global.L2 [%0];" ::"l"(c + kBytes - 1));
}

template <typename KV, int D>
struct MmaTileLayout {  // one ring stage of one warp, in bytes
  static constexpr bool kInt8 = sizeof(KV) == 1;
  static constexpr int kStages = kInt8 ? LIGHTLLM_DECODE_MMA_STAGES8 : LIGHTLLM_DECODE_MMA_STAGES16;
  // Row stride: 16-bit rows padded by 16 bytes (an odd number of 16-byte units: ldmatrix rows
  // hit distinct banks); int8 rows 16 or 144 bytes (== 16 mod 128: the 4-byte K reads of 8
  // rows x 4 lanes and the 2-byte V reads hit distinct banks).
  static constexpr int kRowBytes = kInt8 ? (D <= 16 ? 16 : 144) : D * 2 + 16;
  static constexpr int kMatBytes = kMmaTile * kRowBytes;                              // K or V
  static constexpr int kStageBytes = 2 * kMatBytes + (kInt8 ? 2 * kMmaTile * 4 : 0);  // + scales
  static constexpr int kChunks = kMmaTile * D * static_cast<int>(sizeof(KV)) / 16;    // per matrix
  static constexpr int kChunksPerRow = D * static_cast<int>(sizeof(KV)) / 16;
  static_assert(D % 16 == 0 && (!kInt8 || D <= 128), "decode mma: head_dim");
};

// Most tiles a warp keeps resident (kResident), and the warps of a block whose chunk is longer
// than kMaxResident * kMmaWarps * kMmaTile tokens (128): chunks of up to kMaxResident *
// kWideWarps * kMmaTile tokens (256) can skip the ring. (8 warps of 2 tiles: shorter dependent
// chains after the PDL wait than 4 warps of 4, docs/PERFORMANCE.md run 29.)
constexpr int kMaxResident = 2;
constexpr int kWideWarps = 8;

// Stages of a warp: one per tile when its tiles are resident (kResident > 0), else the ring's.
template <typename KV, int D, int kResident>
constexpr int mma_stages() {
  return kResident > 0 ? kResident : MmaTileLayout<KV, D>::kStages;
}

template <typename KV, int D, int HB, int kResident, int kWarps = kMmaWarps>
constexpr size_t mma_smem_bytes() {
  using L = MmaTileLayout<KV, D>;
  const size_t ring = size_t{kWarps} * mma_stages<KV, D, kResident>() * L::kStageBytes;
  const size_t merge = size_t{kWarps} * HB * (D + 2) * sizeof(float);
  return ring > merge ? ring : merge;
}

// int8 bytes b_lo, b_hi (selected by PRMT selector `sel` from word w) -> f16x2 (exact): bias by
// 128 (the caller xors 0x80 into every byte), splice under 0x64 (1024 + byte), subtract 1152.
__device__ __forceinline__ uint32_t i8x2_to_h2(uint32_t biased, uint32_t sel) {
  const uint32_t h = __byte_perm(biased, 0x64646464u, sel);
  const __half2 r = __hsub2(*reinterpret_cast<const __half2*>(&h),
                            __half2half2(__ushort_as_half(0x6480)));  // 1152
  return *reinterpret_cast<const uint32_t*>(&r);
}

// Merge the ns token streams of a block (s_acc [ns][HB][D], s_m / s_l [ns][HB], in log2 units)
// and store: one split writes out_rows [HB][D] of T; otherwise the normalized partial rows and
// their log2-sum-exp go to the workspace at block_row0 (rows n_splits apart).
template <typename T, int HB, int D>
__device__ __forceinline__ void merge_streams_store(const float* s_acc, const float* s_m,
                                                    const float* s_l, int ns, int n_splits,
                                                    T* out_rows, float* part_o, float* part_lse,
                                                    size_t block_row0) {
  for (int idx = threadIdx.x; idx < HB * D; idx += blockDim.x) {
    const int j = idx / D, d = idx % D;
    float mx = -INFINITY;
    for (int g = 0; g < ns; ++g) mx = fmaxf(mx, s_m[g * HB + j]);
    float lsum = 0.f, o = 0.f;
    for (int g = 0; g < ns; ++g) {
      const float w = s_m[g * HB + j] == -INFINITY ? 0.f : exp2f(s_m[g * HB + j] - mx);
      lsum += s_l[g * HB + j] * w;
      o += s_acc[(g * HB + j) * D + d] * w;
    }
    if (n_splits == 1) {  // every chunk has >= 1 token: lsum > 0
      out_rows[idx] = from_f32<T>(o / lsum);
      continue;
    }
    const size_t prow = block_row0 + static_cast<size_t>(j) * n_splits;
    if (mx == -INFINITY) {  // no stream saw a token
      if (d == 0) part_lse[prow] = -INFINITY;
      continue;
    }
    part_o[prow * D + d] = o / lsum;
    if (d == 0) part_lse[prow] = mx + log2f(lsum);
  }
}

// Which rows of a tile issue() copies: all, all but the newest token's, or only the newest's.
enum class TileRows { all, cached, newest };

// Partial results: o [n_reqs, n_heads, n_splits, D] f32, then lse [n_reqs, n_heads, n_splits].
// kResident > 0: chunk <= kResident * kWarps * kMmaTile (the caller's choice; see the file
// comment).
template <typename T, typename KV, int D, int HB, int kResident, int kWarps = kMmaWarps>
__global__ void __launch_bounds__(kWarps * 32)
    decode_mma_kernel(DecodeAttentionParams p, int n_splits, int chunk,
                      bool dependents_after_wait) {
  using L = MmaTileLayout<KV, D>;
  constexpr bool kInt8 = L::kInt8;
  using MT = std::conditional_t<kInt8, __half, T>;  // mma operand type
  constexpr int kKs = D / 16;                       // k-steps of Q K^T
  constexpr int kNd = D / 8;                        // n-blocks of P V
  constexpr int kMmaStages = mma_stages<KV, D, kResident>();
  constexpr int kL2Ahead = kInt8 || kResident > 0 ? 0 : kL2Ahead16;
  static_assert(HB <= 8, "decode mma: at most 8 heads per block (rows 0-7 of A)");

  if (!dependents_after_wait) pdl_launch_dependents();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, c = lane % 4;
  const int head0 = blockIdx.x * HB;
  const int kvh = head0 / (p.n_heads / p.n_kv_heads);
  const int r = blockIdx.y, split = blockIdx.z;
  const int len = p.kv_len[r];
  const int t_begin = split * chunk, t_end = min(len, t_begin + chunk);

  float* part_o = static_cast<float*>(p.workspace);
  float* part_lse = part_o + static_cast<size_t>(p.n_reqs) * p.n_heads * n_splits * D;
  const size_t block_row0 = (static_cast<size_t>(r) * p.n_heads + head0) * n_splits + split;
  T* const out_rows = static_cast<T*>(p.out) + (static_cast<size_t>(r) * p.n_heads + head0) * D;
  const int32_t* row = p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const KV* kc = static_cast<const KV*>(p.k_cache);
  const KV* vc = static_cast<const KV*>(p.v_cache);
  extern __shared__ __align__(16) unsigned char s_dyn[];
  unsigned char* const ring = s_dyn + warp * kMmaStages * L::kStageBytes;

  const int n_tiles = (t_end - t_begin + kMmaTile - 1) / kMmaTile;
  // Lane l holds in slots[i] the slot of token (l % 16) of this warp's i-th next tile to issue
  // (-1 past the chunk): slots[0] is copied into the ring by the next issue(), slots[kL2Ahead]
  // prefetched into L2 by it (one split only), slots[kL2Ahead + 1] is loading. req_to_token is read
  // one issue before its first use, so a slot's load latency never delays the copies or prefetches.
  int32_t slots[kL2Ahead + 2];
  const bool l2_ahead = n_splits == 1;  // block-uniform
  auto load_slot = [&](int tile) {
    const int t = t_begin + tile * kMmaTile + (lane & 15);
    return t < t_end ? row[t] : -1;
  };
  auto fetch_slot = [&](int tile) {  // shift; `tile` is the new last one (kL2Ahead + 1 later)
#pragma unroll
    for (int i = 0; i < kL2Ahead + 1; ++i) slots[i] = slots[i + 1];
    slots[kL2Ahead + 1] = load_slot(tile);
  };
  // Copies into stage `stage` the rows of the tile whose first token is t0 (`rows`: which); lane
  // l's slot_next is the slot of the tile's token l % 16 (-1 past the chunk: zero-filled).
  auto issue = [&](int stage, int t0, int32_t slot_next, TileRows rows) {
    auto wanted = [&](int tok) {  // tok: row of the tile; the newest token's only if in the chunk
      return rows == TileRows::all ||
             (rows == TileRows::newest) == (t0 + tok == len - 1 && t_end == len);
    };
    unsigned char* ks = ring + stage * L::kStageBytes;
    unsigned char* vs = ks + L::kMatBytes;
#pragma unroll
    for (int j = 0; j < (L::kChunks + 31) / 32; ++j) {
      const int ch = lane + 32 * j;
      const int tok = ch / L::kChunksPerRow, part = ch % L::kChunksPerRow;
      const int32_t sl = __shfl_sync(0xffffffffu, slot_next, tok & 15);
      if ((L::kChunks % 32 == 0 || ch < L::kChunks) && wanted(tok)) {
        const int64_t off = (static_cast<int64_t>(sl >= 0 ? sl : 0) * p.n_kv_heads + kvh) * D +
                            part * (16 / static_cast<int>(sizeof(KV)));
        cp_async16(ks + tok * L::kRowBytes + part * 16, kc + off, sl >= 0);
        cp_async16(vs + tok * L::kRowBytes + part * 16, vc + off, sl >= 0);
      }
    }
    if constexpr (kInt8) {  // lane l: scale of token l % 16, K (l < 16) or V
      const int64_t off = static_cast<int64_t>(slot_next >= 0 ? slot_next : 0) * p.n_kv_heads + kvh;
      float* sc = reinterpret_cast<float*>(vs + L::kMatBytes);
      if (wanted(lane & 15))
        cp_async4(sc + lane, (lane < 16 ? p.k_scale : p.v_scale) + off, slot_next >= 0);
    }
    cp_async_commit();
    if constexpr (kL2Ahead > 0) {  // lanes 0-15: K row of token l % 16; 16-31: its V row
      const int32_t sl = slots[kL2Ahead];
      if (l2_ahead && sl >= 0) {
        const int64_t off = (static_cast<int64_t>(sl) * p.n_kv_heads + kvh) * D;
        prefetch_l2<D* static_cast<int>(sizeof(KV))>((lane < 16 ? kc : vc) + off);
      }
    }
  };

  // Resident tiles: lane l holds in res_slot[i] the slot of token l % 16 of the warp's i-th tile
  // (tile warp + kWarps * i of the chunk, in stage i); the cached tokens' rows are copied now.
  int32_t res_slot[kResident > 0 ? kResident : 1];
  if constexpr (kResident > 0) {
#pragma unroll
    for (int i = 0; i < kResident; ++i) res_slot[i] = load_slot(warp + kWarps * i);
#pragma unroll
    for (int i = 0; i < kResident; ++i)
      if (warp + kWarps * i < n_tiles)
        issue(i, t_begin + (warp + kWarps * i) * kMmaTile, res_slot[i], TileRows::cached);
  }
  // Launched early (PDL): q and the newest token's K/V come from the previous kernel, and the
  // partials / output may still be read by an earlier reduction. Only the step's metadata
  // (kv_len, req_to_token: copied before the step's first kernel) and K/V rows that earlier
  // steps wrote are read above.
  pdl_wait();
  if (dependents_after_wait) pdl_launch_dependents();
  if (t_begin >= t_end) {  // empty chunk: contributes nothing (one split: a zero row)
    if (n_splits == 1) {
      for (int j = threadIdx.x; j < HB * D; j += blockDim.x) out_rows[j] = from_f32<T>(0.f);
    } else {
      for (int j = threadIdx.x; j < HB; j += blockDim.x)
        part_lse[block_row0 + static_cast<size_t>(j) * n_splits] = -INFINITY;
    }
    return;
  }
  const float qscale = p.softmax_scale * 1.4426950408889634f;  // log2 units: exp2 below

  // A fragments of Q (row g = head head0 + g; rows >= HB and 8..15 zero): a0 (k 2c, 2c+1) and
  // a2 (k 2c+8, 2c+9) of each k-step. int8: stored dims 4c .. 4c+3, pre-scaled, in f16.
  uint32_t qa[kKs][2];
  {
    const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * D;
    const T* qrow = static_cast<const T*>(p.q) + r * qs + (head0 + min(g, HB - 1)) * D;
#pragma unroll
    for (int kk = 0; kk < kKs; ++kk) {
      if constexpr (kInt8) {
        const uint2 raw = *reinterpret_cast<const uint2*>(qrow + kk * 16 + 4 * c);
        const T* e = reinterpret_cast<const T*>(&raw);
        qa[kk][0] = prefill_detail::pack2<__half>(to_f32(e[0]) * qscale, to_f32(e[1]) * qscale);
        qa[kk][1] = prefill_detail::pack2<__half>(to_f32(e[2]) * qscale, to_f32(e[3]) * qscale);
      } else {
        qa[kk][0] = *reinterpret_cast<const uint32_t*>(qrow + kk * 16 + 2 * c);
        qa[kk][1] = *reinterpret_cast<const uint32_t*>(qrow + kk * 16 + 8 + 2 * c);
      }
      if (g >= HB) qa[kk][0] = qa[kk][1] = 0u;
    }
  }
  const float alibi =
      p.alibi_slopes != nullptr && g < HB ? p.alibi_slopes[head0 + g] * 1.4426950408889634f : 0.f;
  const float sscale = kInt8 ? 1.f : qscale;  // int8: q already scaled

  float m_run = -INFINITY, l_run = 0.f;  // row g; l_run: this lane's columns only
  float o[kNd][4];
#pragma unroll
  for (int nd = 0; nd < kNd; ++nd) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;

  if constexpr (kResident > 0) {
    if (t_end == len) {  // the newest token (len - 1) is in this chunk, in tile tl
      const int tl = (len - 1 - t_begin) / kMmaTile;
#pragma unroll
      for (int i = 0; i < kResident; ++i)
        if (tl == warp + kWarps * i)
          issue(i, t_begin + tl * kMmaTile, res_slot[i], TileRows::newest);
    }
  } else {
#pragma unroll
    for (int i = 0; i < kL2Ahead + 2; ++i) slots[i] = load_slot(warp + kWarps * i);
#pragma unroll
    for (int s = 0; s < kMmaStages - 1; ++s) {
      issue(s, 0, slots[0], TileRows::all);
      fetch_slot(warp + kWarps * (s + kL2Ahead + 2));
    }
  }
  int stage = 0;
  for (int tile = warp; tile < n_tiles; tile += kWarps) {
    if constexpr (kResident == 0) {
      issue(stage == 0 ? kMmaStages - 1 : stage - 1, 0, slots[0],
            TileRows::all);  // tile + (stages - 1) * warps
      fetch_slot(tile + (kMmaStages + kL2Ahead + 1) * kWarps);
    }
    // This lane's copies of `stage` have landed (resident: of every stage).
    cp_async_wait<(kResident > 0 ? 0 : kMmaStages - 1)>();
    __syncwarp();  // ... and every other lane's
    const unsigned char* ks = ring + stage * L::kStageBytes;
    const unsigned char* vs = ks + L::kMatBytes;
    stage = stage + 1 == kMmaStages ? 0 : stage + 1;
    const int tb = t_begin + tile * kMmaTile;

    // S = Q K^T: s[nb] = columns (tokens) nb * 8 + 2c, +1 of row g in [0], [1].
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < kKs; ++kk) {
      const uint32_t a[4] = {qa[kk][0], 0u, qa[kk][1], 0u};
      uint32_t b[4];
      if constexpr (kInt8) {
#pragma unroll
        for (int nb = 0; nb < 2; ++nb) {
          const uint32_t w = *reinterpret_cast<const uint32_t*>(ks + (nb * 8 + g) * L::kRowBytes +
                                                                kk * 16 + 4 * c) ^
                             0x80808080u;
          b[2 * nb] = i8x2_to_h2(w, 0x5140u);
          b[2 * nb + 1] = i8x2_to_h2(w, 0x5342u);
        }
      } else {
        prefill_detail::ldmatrix_x4(b, ks + ((lane & 7) + ((lane >> 4) << 3)) * L::kRowBytes +
                                           kk * 32 + ((lane >> 3) & 1) * 16);
      }
      prefill_detail::mma16816<MT>(s[0], a, b[0], b[1]);
      prefill_detail::mma16816<MT>(s[1], a, b[2], b[3]);
    }
    float ksc[4] = {1.f, 1.f, 1.f, 1.f}, vsc[4] = {1.f, 1.f, 1.f, 1.f};  // tokens 2c, 2c+1, 8+..
    if constexpr (kInt8) {
      const float* sc = reinterpret_cast<const float*>(vs + L::kMatBytes);
      const float2 k0 = *reinterpret_cast<const float2*>(sc + 2 * c);
      const float2 k1 = *reinterpret_cast<const float2*>(sc + 8 + 2 * c);
      const float2 v0 = *reinterpret_cast<const float2*>(sc + 16 + 2 * c);
      const float2 v1 = *reinterpret_cast<const float2*>(sc + 24 + 2 * c);
      ksc[0] = k0.x, ksc[1] = k0.y, ksc[2] = k1.x, ksc[3] = k1.y;
      vsc[0] = v0.x, vsc[1] = v0.y, vsc[2] = v1.x, vsc[3] = v1.y;
    }
    float sv[4];
    float mx = m_run;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int t = tb + (i >> 1) * 8 + 2 * c + (i & 1);
      sv[i] = t < t_end
                  ? s[i >> 1][i & 1] * sscale * ksc[i] + alibi * static_cast<float>(t - (len - 1))
                  : -INFINITY;
      mx = fmaxf(mx, sv[i]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    // mx == -inf: no valid token yet in this row (then l_run and o are 0 and stay 0).
    const float corr = mx == -INFINITY ? 1.f : exp2f(m_run - mx);
    m_run = mx;
    float pr[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) pr[i] = sv[i] == -INFINITY ? 0.f : exp2f(sv[i] - mx);
    l_run = l_run * corr + ((pr[0] + pr[1]) + (pr[2] + pr[3]));
#pragma unroll
    for (int nd = 0; nd < kNd; ++nd) {
      o[nd][0] *= corr;
      o[nd][1] *= corr;
    }
    const uint32_t pa[4] = {prefill_detail::pack2<MT>(pr[0] * vsc[0], pr[1] * vsc[1]), 0u,
                            prefill_detail::pack2<MT>(pr[2] * vsc[2], pr[3] * vsc[3]), 0u};
    // O += P V over n-blocks of 8 dims.
#pragma unroll
    for (int nd = 0; nd < kNd; nd += 2) {
      uint32_t b[4];
      if constexpr (kInt8) {
        // Tokens 2c, 2c+1, 2c+8, 2c+9; stored dims 8 nd + 2g, +1 (logical column g of
        // n-blocks nd, nd + 1).
        const unsigned char* vp = vs + 2 * c * L::kRowBytes + nd * 8 + 2 * g;
        const uint32_t h0 = *reinterpret_cast<const uint16_t*>(vp);
        const uint32_t h1 = *reinterpret_cast<const uint16_t*>(vp + L::kRowBytes);
        const uint32_t h8 = *reinterpret_cast<const uint16_t*>(vp + 8 * L::kRowBytes);
        const uint32_t h9 = *reinterpret_cast<const uint16_t*>(vp + 9 * L::kRowBytes);
        // [t2c d0, t2c+1 d0, t2c d1, t2c+1 d1], biased
        const uint32_t lo = __byte_perm(h0, h1, 0x5140u) ^ 0x80808080u;
        const uint32_t hi = __byte_perm(h8, h9, 0x5140u) ^ 0x80808080u;
        b[0] = i8x2_to_h2(lo, 0x5140u);  // n-block nd: tokens 2c, 2c+1
        b[1] = i8x2_to_h2(hi, 0x5140u);  //             tokens 2c+8, 2c+9
        b[2] = i8x2_to_h2(lo, 0x5342u);  // n-block nd + 1
        b[3] = i8x2_to_h2(hi, 0x5342u);
      } else {
        prefill_detail::ldmatrix_x4_trans(
            b,
            vs + ((lane & 7) + ((lane >> 3) & 1) * 8) * L::kRowBytes + nd * 16 + (lane >> 4) * 16);
      }
      prefill_detail::mma16816<MT>(o[nd], pa, b[0], b[1]);
      prefill_detail::mma16816<MT>(o[nd + 1], pa, b[2], b[3]);
    }
    __syncwarp();  // every lane is done with this stage before it is refilled
  }
  cp_async_wait<0>();  // the trailing zero-fill copies (tiles past the chunk)
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
  __syncthreads();  // every warp is done with its ring: the merge buffers alias it

  float* const s_acc = reinterpret_cast<float*>(s_dyn);  // [kWarps][HB][D]
  float* const s_m = s_acc + kWarps * HB * D;            // [kWarps][HB]
  float* const s_l = s_m + kWarps * HB;
  if (g < HB) {
    float* dst = s_acc + (warp * HB + g) * D;
#pragma unroll
    for (int nd = 0; nd < kNd; ++nd) {
      // Column 2c (+1) of n-block nd: stored dim 8 nd + 2c for 16-bit; int8 n-blocks pair up
      // (nd even: dims 8 nd + 2 (2c), +1 ... see the V read above).
      if constexpr (kInt8) {
        const int base = (nd & ~1) * 8 + (nd & 1);
        dst[base + 2 * (2 * c)] = o[nd][0];
        dst[base + 2 * (2 * c + 1)] = o[nd][1];
      } else {
        dst[nd * 8 + 2 * c] = o[nd][0];
        dst[nd * 8 + 2 * c + 1] = o[nd][1];
      }
    }
    if (c == 0) {
      s_m[warp * HB + g] = m_run;
      s_l[warp * HB + g] = l_run;
    }
  }
  __syncthreads();
  merge_streams_store<T, HB, D>(s_acc, s_m, s_l, kWarps, n_splits, out_rows, part_o, part_lse,
                                block_row0);
}

}  // namespace lightllm::kernels::cuda::decode_detail
