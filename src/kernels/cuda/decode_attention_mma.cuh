// src/kernels/cuda/decode_attention_mma.cuh — the decode attention split kernel on the tensor
// cores (device code, included by decode_attention.cu only) and the merge of its warps' streams.
// Block = 4 warps, one (request, HB query heads of one kv head, split). Each warp walks its own
// 16-token tiles of the split (tiles warp, warp + 4, ...) through a kStages-deep cp.async ring
// of its own in shared memory (K and V rows gathered through req_to_token, 16-byte copies) and
// keeps its own online softmax; the 4 warps are merged at the end.
// Per tile: S = Q K^T by mma.sync m16n8k16 with the HB heads as the rows of A (rows >= HB are
// zero), two 8-token column blocks; P = exp2(S - m) stays in registers as the A fragment of
// O += P V. 16-bit K/V: K fragments by ldmatrix, V by ldmatrix.trans, mma in T. int8 K/V: the
// mma runs in f16 (int8 is exact in f16): K bytes are read as 4-byte words with the dims of a
// k-step permuted (logical k 2c, 2c+1, 2c+8, 2c+9 <-> stored 4c .. 4c+3; Q is permuted the
// same way), V as 2-byte pairs of dims (logical column g of n-blocks 2i, 2i+1 <-> stored dims
// 16i + 2g, 16i + 2g + 1), bytes turned into f16 by PRMT under the exponent of 1024 and one
// HSUB2; the K scale multiplies the score, the V scale P (one multiply per token).
// Splits (n_splits > 1): each block writes its normalized partial rows and their log2-sum-exp
// to the workspace, then arrives on its group's counter (p.counters, one per (request, HB
// heads)); the last block to arrive merges the group's splits into the output and resets the
// counter to 0 — no reduction launch. The counters must be zero before the first launch and
// stay at one address (a CUDA graph captures it), so they are the caller's own zeroed buffer,
// not part of the partials workspace (whose layout depends on the launch's shape). Chosen over
// Hopper thread-block clusters (splits of a group in one cluster, merged through distributed
// shared memory): clusters cap the splits at 8, must be co-scheduled while the previous kernel
// still holds SMs (PDL), and sm_80 would keep the reduction kernel — two ways to merge.
// Early K/V fetch (PDL): the block issues the ring's prologue copies of every cached token but
// the newest (kv_len - 1) before pdl_wait, so they overlap the tail of the previous kernel.
// Why that is safe: this kernel's blocks run only once every block of the previous kernel X
// (the QKV GEMV with the rotary + KV store epilogue, the KV store kernel, or a kernel launched
// without PDL) has called griddepcontrol.launch_dependents or exited, and X calls it only after
// its own pdl_wait (pdl.cuh: every kernel that may precede this one keeps that order). So the
// kernel before X has completed, and since every PDL kernel waits before it exits, completion
// is transitive: all kernels before X have completed and their writes reached L2 (the copies
// are cp.async.cg, through L2). The cached tokens' rows were written by such kernels (earlier
// steps, or this step's KV store of a prefill, which is X or earlier); only X may still be
// writing — q and the newest token's K/V row and scales, fetched after pdl_wait (the scales
// with ld.global.cg: a 4-byte cp.async goes through L1, where a line read before the wait may
// be stale). kv_len, req_row and req_to_token are copied before the step's first kernel.
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

constexpr int kMmaWarps = 4;
constexpr int kMaxSplits = 128;  // chunks per request at most (decode_attention_splits)
constexpr int kMmaTile = 16;     // tokens per warp tile (k of the P V mma)
// Ring depth per warp (tiles in flight + the one being computed). Compile-time tuning knobs for
// bench/cuda/attention_tune (tools/attention_tune.sh builds variants with -D).
#ifndef LIGHTLLM_DECODE_MMA_STAGES16
#define LIGHTLLM_DECODE_MMA_STAGES16 3
#endif
#ifndef LIGHTLLM_DECODE_MMA_STAGES8
#define LIGHTLLM_DECODE_MMA_STAGES8 3
#endif
// 0: wait for the previous kernel before the ring's prologue (the K/V fetch before pdl_wait off;
// docs/PERFORMANCE.md run 14 measures both).
#ifndef LIGHTLLM_DECODE_EARLY_KV
#define LIGHTLLM_DECODE_EARLY_KV 1
#endif
// Where a block lets the next kernel (the o projection) be scheduled: 0 at its start, 1 after
// its last K/V tile (before the merges), 2 at its exit.
#ifndef LIGHTLLM_DECODE_TRIGGER
#define LIGHTLLM_DECODE_TRIGGER 1
#endif

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

template <typename KV, int D, int HB>
constexpr size_t mma_smem_bytes() {
  using L = MmaTileLayout<KV, D>;
  const size_t ring = size_t{kMmaWarps} * L::kStages * L::kStageBytes;
  const size_t merge = size_t{kMmaWarps} * HB * (D + 2) * sizeof(float);
  const size_t weights = size_t{HB} * kMaxSplits * sizeof(float);  // the split merge's s_w
  const size_t most = ring > merge ? ring : merge;
  return most > weights ? most : weights;
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

// The last of a group's n_splits blocks to arrive merges the group's partial rows (written by
// merge_streams_store; read through L2, __ldcg, after the counter's acquire fence) by their
// log2-sum-exp into out_rows and resets the group's counter to 0 for the next launch. One warp
// per head turns the splits' log2-sum-exps into normalized weights (s_w [HB][n_splits], shared
// memory), then every output sums its splits with independent loads (run 14's first merge
// re-read the log-sum-exps per output in a dependent chain of L2 loads: +9 us at 16 splits).
template <typename T, int HB, int D>
__device__ __forceinline__ void merge_splits_if_last(uint32_t* counter, int n_splits,
                                                     const float* part_o, const float* part_lse,
                                                     size_t group_row0, T* out_rows, float* s_w) {
  static_assert(kMaxSplits <= 4 * 32, "merge: a warp holds at most 4 splits per lane");
  __shared__ int s_last;
  __threadfence();  // release: this block's partial rows before its arrival
  __syncthreads();
  if (threadIdx.x == 0) s_last = atomicAdd(counter, 1u) == static_cast<uint32_t>(n_splits - 1);
  __syncthreads();
  if (!s_last) return;
  __threadfence();  // acquire: the other blocks' partial rows
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int j = warp; j < HB; j += kMmaWarps) {
    const float* lse = part_lse + group_row0 + static_cast<size_t>(j) * n_splits;
    float v[4], mx = -INFINITY;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[k] = lane + 32 * k < n_splits ? __ldcg(lse + lane + 32 * k) : -INFINITY;
      mx = fmaxf(mx, v[k]);
    }
#pragma unroll
    for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[k] = v[k] == -INFINITY ? 0.f : exp2f(v[k] - mx);  // empty splits: weight 0
      sum += v[k];
    }
#pragma unroll
    for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;  // 0: no split saw a token (a zero row)
#pragma unroll
    for (int k = 0; k < 4; ++k)
      if (lane + 32 * k < n_splits) s_w[j * n_splits + lane + 32 * k] = v[k] * inv;
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < HB * D; idx += blockDim.x) {
    const int j = idx / D, d = idx % D;
    const float* po = part_o + (group_row0 + static_cast<size_t>(j) * n_splits) * D + d;
    const float* w = s_w + j * n_splits;
    float o = 0.f;
#pragma unroll 4
    for (int s = 0; s < n_splits; ++s)
      if (w[s] != 0.f) o += w[s] * __ldcg(po + static_cast<size_t>(s) * D);  // empty: unwritten
    out_rows[idx] = from_f32<T>(o);
  }
  if (threadIdx.x == 0) *counter = 0u;  // the next launch starts after this one completed
}

// Partial results: o [n_reqs, n_heads, n_splits, D] f32, then lse [n_reqs, n_heads, n_splits].
template <typename T, typename KV, int D, int HB>
__global__ void __launch_bounds__(kMmaWarps * 32)
    decode_mma_kernel(DecodeAttentionParams p, int n_splits, int chunk) {
  using L = MmaTileLayout<KV, D>;
  constexpr bool kInt8 = L::kInt8;
  using MT = std::conditional_t<kInt8, __half, T>;  // mma operand type
  constexpr int kKs = D / 16;                       // k-steps of Q K^T
  constexpr int kNd = D / 8;                        // n-blocks of P V
  constexpr int kMmaStages = L::kStages;
  static_assert(HB <= 8, "decode mma: at most 8 heads per block (rows 0-7 of A)");

  if (LIGHTLLM_DECODE_TRIGGER == 0) pdl_launch_dependents();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, c = lane % 4;
  const int head0 = blockIdx.x * HB;
  const int kvh = head0 / (p.n_heads / p.n_kv_heads);
  const int r = blockIdx.y, split = blockIdx.z;
  // The step's metadata (kv_len, req_to_token, req_row) is copied before the step's first
  // kernel: read before pdl_wait.
  const int len = p.kv_len[r];
  const int t_begin = split * chunk, t_end = min(len, t_begin + chunk);

  float* part_o = static_cast<float*>(p.workspace);
  float* part_lse = part_o + static_cast<size_t>(p.n_reqs) * p.n_heads * n_splits * D;
  const size_t group_row0 = (static_cast<size_t>(r) * p.n_heads + head0) * n_splits;
  const size_t block_row0 = group_row0 + split;
  T* const out_rows = static_cast<T*>(p.out) + (static_cast<size_t>(r) * p.n_heads + head0) * D;
  uint32_t* const counter = p.counters + static_cast<size_t>(r) * (p.n_heads / HB) + blockIdx.x;

  extern __shared__ __align__(16) unsigned char s_dyn[];
  if (t_begin >= t_end) {  // empty chunk: contributes nothing (one split: a zero row)
    pdl_wait();            // the output / partials may still be read by an earlier kernel
    if (n_splits == 1) {
      for (int j = threadIdx.x; j < HB * D; j += blockDim.x) out_rows[j] = from_f32<T>(0.f);
      return;
    }
    for (int j = threadIdx.x; j < HB; j += blockDim.x)
      part_lse[block_row0 + static_cast<size_t>(j) * n_splits] = -INFINITY;
    merge_splits_if_last<T, HB, D>(counter, n_splits, part_o, part_lse, group_row0, out_rows,
                                   reinterpret_cast<float*>(s_dyn));
    return;
  }

  const int32_t* row = p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const KV* kc = static_cast<const KV*>(p.k_cache);
  const KV* vc = static_cast<const KV*>(p.v_cache);
  unsigned char* const ring = s_dyn + warp * kMmaStages * L::kStageBytes;

  const int n_tiles = (t_end - t_begin + kMmaTile - 1) / kMmaTile;
  // Lane l holds the slot of token (l % 16) of the next tile to issue in slot_next (-1 past the
  // chunk) and of the tile after it in slot_after: req_to_token is read two issues ahead, so a
  // slot's load latency never delays the K/V copies.
  int32_t slot_next = -1, slot_after = -1;
  auto load_slot = [&](int tile) {
    const int t = t_begin + tile * kMmaTile + (lane & 15);
    return t < t_end ? row[t] : -1;
  };
  auto fetch_slot = [&](int tile) {  // the tile issued after slot_after's
    slot_next = slot_after;
    slot_after = load_slot(tile);
  };
  // The request's newest token (kv_len - 1) when this split holds it: its K/V row (and int8
  // scales) are written by the previous kernel of the step (the QKV GEMV's epilogue or the KV
  // store), so they are fetched only after pdl_wait; every other row is fetched before it (see
  // the kernel's comment for why that is safe).
  const int newest = t_end == len ? len - 1 : -1;
  const int32_t newest_slot = newest >= 0 ? row[newest] : -1;
  // Issues (without committing) the copies of `tile` into ring stage `stage`. mode 0: every row;
  // 1 (before pdl_wait): every row but the newest token's; 2 (after it): only the newest token's.
  // The newest token's int8 scales are read through L2 (__ldcg) and stored directly: a 4-byte
  // cp.async goes through L1, which may hold the line from a copy issued before pdl_wait.
  auto issue = [&](int stage, int tile, int mode) {
    unsigned char* ks = ring + stage * L::kStageBytes;
    unsigned char* vs = ks + L::kMatBytes;
    const int nt = newest - (t_begin + tile * kMmaTile);  // the newest token's row, if < 16
    auto take = [&](int tok) { return mode == 0 || (mode == 1 ? tok != nt : tok == nt); };
#pragma unroll
    for (int j = 0; j < (L::kChunks + 31) / 32; ++j) {
      const int ch = lane + 32 * j;
      const int tok = ch / L::kChunksPerRow, part = ch % L::kChunksPerRow;
      const int32_t sl = mode == 2 ? newest_slot : __shfl_sync(0xffffffffu, slot_next, tok & 15);
      if ((L::kChunks % 32 == 0 || ch < L::kChunks) && take(tok)) {
        const int64_t off = (static_cast<int64_t>(sl >= 0 ? sl : 0) * p.n_kv_heads + kvh) * D +
                            part * (16 / static_cast<int>(sizeof(KV)));
        cp_async16(ks + tok * L::kRowBytes + part * 16, kc + off, sl >= 0);
        cp_async16(vs + tok * L::kRowBytes + part * 16, vc + off, sl >= 0);
      }
    }
    if constexpr (kInt8) {  // lane l: scale of token l % 16, K (l < 16) or V
      const int tok = lane & 15;
      const int32_t sl = mode == 2 ? newest_slot : slot_next;
      if (take(tok)) {
        const float* src = (lane < 16 ? p.k_scale : p.v_scale) +
                           (static_cast<int64_t>(sl >= 0 ? sl : 0) * p.n_kv_heads + kvh);
        float* sc = reinterpret_cast<float*>(vs + L::kMatBytes);
        if (tok == nt) {
          sc[lane] = __ldcg(src);
        } else {
          cp_async4(sc + lane, src, sl >= 0);
        }
      }
    }
  };

  // The ring's prologue, before pdl_wait: the cached tokens' rows of the first kMmaStages - 1
  // tiles; the newest token's row waits (deferred: its stage). All of it goes into the first
  // commit group (the others of the prologue are empty), so the loop's group accounting holds.
  if (!LIGHTLLM_DECODE_EARLY_KV) pdl_wait();
  slot_next = load_slot(warp);
  slot_after = load_slot(warp + kMmaWarps);
  int deferred = -1;
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    const int tile = warp + kMmaWarps * s;
    issue(s, tile, 1);
    const int nt = newest - (t_begin + tile * kMmaTile);
    if (nt >= 0 && nt < kMmaTile) deferred = s;
    fetch_slot(warp + kMmaWarps * (s + 2));
  }
  // q and the newest token's K/V row come from the previous kernel; the partials / output may
  // still be read by an earlier kernel.
  pdl_wait();
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
  if (deferred >= 0) issue(deferred, warp + kMmaWarps * deferred, 2);
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) cp_async_commit();
  const float alibi =
      p.alibi_slopes != nullptr && g < HB ? p.alibi_slopes[head0 + g] * 1.4426950408889634f : 0.f;
  const float sscale = kInt8 ? 1.f : qscale;  // int8: q already scaled

  float m_run = -INFINITY, l_run = 0.f;  // row g; l_run: this lane's columns only
  float o[kNd][4];
#pragma unroll
  for (int nd = 0; nd < kNd; ++nd) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;

  int stage = 0;
  for (int tile = warp; tile < n_tiles; tile += kMmaWarps) {
    issue(stage == 0 ? kMmaStages - 1 : stage - 1, tile + (kMmaStages - 1) * kMmaWarps, 0);
    cp_async_commit();
    fetch_slot(tile + (kMmaStages + 1) * kMmaWarps);
    cp_async_wait<kMmaStages - 1>();  // this lane's copies of `stage` have landed
    __syncwarp();                     // ... and every other lane's
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
  if (LIGHTLLM_DECODE_TRIGGER == 1) pdl_launch_dependents();
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
  __syncthreads();  // every warp is done with its ring: the merge buffers alias it

  float* const s_acc = reinterpret_cast<float*>(s_dyn);  // [kMmaWarps][HB][D]
  float* const s_m = s_acc + kMmaWarps * HB * D;         // [kMmaWarps][HB]
  float* const s_l = s_m + kMmaWarps * HB;
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
  merge_streams_store<T, HB, D>(s_acc, s_m, s_l, kMmaWarps, n_splits, out_rows, part_o, part_lse,
                                block_row0);
  if (n_splits > 1)
    merge_splits_if_last<T, HB, D>(counter, n_splits, part_o, part_lse, group_row0, out_rows,
                                   s_acc);  // s_w: merge_streams_store is done with s_acc
}

}  // namespace lightllm::kernels::cuda::decode_detail
