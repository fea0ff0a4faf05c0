// src/kernels/cuda/prefill_attention_ws.cu — the warp-specialized Hopper prefill attention kernel
// (variant 5, the default on sm_90a for head_dim 128, bf16/f16 K/V): the FlashAttention-3
// structure on K/V gathered through req_to_token.
// Work item = kBM = 64 NC query rows (an m-tile) of one (request, head). m-tiles are aligned to
// the end of the request (the last ends at q_len; the ragged one at its start, where causal work
// is least, has idle rows < 0). Items are numbered longest causal tile first, the heads of a
// request adjacent (item_at); in round k of a grid of G CTAs CTA b takes item k G + b, or
// k G + G - 1 - b in odd rounds (serpentine: the CTA that took a round's longest item takes the
// next round's shortest) — one item per CTA with one CTA per item, several when persistent (one
// CTA per SM: the default, ws_ctas). CTA = 1 + NC warpgroups:
//   warpgroup 0, the producer (setmaxnreg.dec): only issues the cp.async gathers of K and V
//     tiles (kBN keys; slots read from req_to_token a tile ahead into shared memory) into a ring
//     of STAGES stages of 128B-swizzled smem; cp.async.mbarrier.arrive.noinc signals
//     full_k[s] / full_v[s] when its copies have landed; it waits on empty_k[s] / empty_v[s]
//     before overwriting a stage's K / V. The ring runs on across items (tile gt of the CTA is
//     in stage gt % STAGES), so the next item's first tiles land during this item's epilogue.
//   warpgroups 1 .. NC, the consumers (setmaxnreg.inc), rows [64c, 64c + 64) of the item for
//     consumer c: wait for their Q rows (cp.async, issued during the previous item's last P V),
//     then per K/V tile i its own 64 rows can see (key_tiles of those rows)
//       S(i) = Q K(i)^T issued; O *= corr(i-1) (skipped when no row max of the warp grew);
//       O += P(i-1) V(i-1) issued
//       wait for S(i) only, release K(i); online softmax of S(i) in place (exp2 domain, the
//       scale folded into the exponent's FFMA; masks / ALiBi in a separate loop, only on tiles
//       that need them) and P(i) = pack(S(i)) while P V(i-1) runs; the wait for P V(i-1) and
//       the release of V(i-1) open the next tile
//     so a warpgroup's softmax overlaps its own P V GEMM (intra-warpgroup overlap). P is
//     double-buffered (compile-time buffers: tiles go in pairs), and the wait for P V sits after
//     the next tile's mbarrier spin loops: ptxas hoists a wgmma wait to the top of its basic
//     block, and with one P buffer and the wait after the softmax it ran the exp2s only after
//     P V had finished (docs/PERFORMANCE.md prefill run 10). The GEMM issues of the consumers
//     take turns through named barriers (1 .. NC, 256 threads: a consumer waits for the
//     previous one's arrival; "ping-pong"), so one consumer's softmax runs while another's GEMMs
//     run. Every consumer takes n + 1 turns per item of n tiles, so the turn counts match: the
//     tiles of the item its rows cannot see (past its causal edge, before its window, or all of
//     them for a warpgroup without rows) are turns without GEMMs or softmax, which only wait for
//     the tile and release it (skip_tile; run 11). Masks are applied only on tiles crossing a
//     warpgroup's causal / window / kv_len edge (and always with ALiBi).
//   Shapes (NC, kBN, STAGES): (2, 128, 2) and (3, 64, 5); registers after setmaxnreg 40 / 232
//   and 32 / 160 (ptxas -v, sm_90a: 168 and 128 at entry, no spills, no stack, no C75xx).
// Invariants: the accumulators of an in-flight wgmma (S, O) and its register operand (P) are
// written only after the wgmma_wait that retires it; generic-proxy (cp.async) writes reach the
// wgmma async proxy through the mbarrier wait (K/V) or the cp.async wait (Q) followed by
// fence.proxy.async in the consumer; a warpgroup overwrites its Q rows only after its last S of
// the item retired. Producer and consumers walk the same items and tiles (next_valid).
// smem (1024-byte aligned): Q [2 column blocks][kBM][64], K and V [STAGES][2 column
// blocks][kBN][64], mbarriers full_k / full_v / empty_k / empty_v [STAGES], slots [2][kBN]
// (WsSmem).
// Only compiled into the sm_90a image; other images trap, and the host launches it only where
// prefill_wgmma_supported says the loaded image holds the wgmma body (image_has_wgmma).
#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/prefill_attention_mma.cuh"
#include "kernels/cuda/prefill_attention_wgmma.cuh"

namespace lightllm::kernels::cuda::prefill_detail {
namespace {

// NC consumer warpgroups (64 query rows each) + the producer; kBN keys per tile; STAGES tiles
// of K and of V in the ring.
template <int NC, int kBN, int STAGES>
struct WsSmem {
  static constexpr int kBM = 64 * NC;
  static constexpr size_t q = size_t{kBM} * kWgD * 2;     // [2][kBM][64] x 2 bytes
  static constexpr size_t tile = size_t{kBN} * kWgD * 2;  // one K or V tile
  static constexpr size_t off_k = q;                      // [STAGES] K tiles
  static constexpr size_t off_v = off_k + STAGES * tile;  // [STAGES] V tiles
  static constexpr size_t off_bar = off_v + STAGES * tile;
  static constexpr size_t off_slots = off_bar + size_t{4} * STAGES * sizeof(uint64_t);
  static constexpr size_t total = off_slots + size_t{2} * kBN * sizeof(int32_t);  // [2][kBN]
  static constexpr size_t alloc = total + 1024;  // room to align the base to 1024 bytes
};

template <typename T, int NC, int kBN, int STAGES>
__global__ void __launch_bounds__(128 * (NC + 1), 1) prefill_ws_kernel(PrefillAttentionParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using SM = WsSmem<NC, kBN, STAGES>;
  constexpr int kWsBM = SM::kBM;
  // Registers per thread after setmaxnreg (launch: 65536 / (128 (NC + 1)), i.e. 168 or 128):
  // NC = 2: 40 + 2 * 232 = 3 * 168; NC = 3: 32 + 3 * 160 = 512 = 4 * 128.
  constexpr int kProducerRegs = NC == 2 ? 40 : 32, kConsumerRegs = NC == 2 ? 232 : 160;
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t raw_addr = smem_addr(smem_raw);
  const uint32_t sQ = (raw_addr + 1023u) & ~1023u;
  const uint32_t sK = sQ + SM::off_k, sV = sQ + SM::off_v;
  const uint32_t bar_full_k = sQ + SM::off_bar;  // [STAGES] x 8 bytes each
  const uint32_t bar_full_v = bar_full_k + STAGES * 8;
  const uint32_t bar_empty_k = bar_full_v + STAGES * 8;
  const uint32_t bar_empty_v = bar_empty_k + STAGES * 8;
  int32_t* sSlot = reinterpret_cast<int32_t*>(smem_raw + (sQ - raw_addr) + SM::off_slots);
  // Named barriers: 1 .. NC the consumers' GEMM turns, NC + 1 .. 2 NC each consumer's Q load,
  // 2 NC + 1 the producer's slot ring.
  constexpr int kBarTurn = 1, kBarQ = 1 + NC, kBarProducer = 1 + 2 * NC;

  // Work items (m-tile, head, request), item w of ws_item; this CTA takes w = blockIdx.x,
  // blockIdx.x + gridDim.x, ... (one item per CTA when the grid has one CTA per item). Items
  // whose m-tile lies past their request's q_len are skipped by every role alike.
  const int n_m = (p.max_q_len + kWsBM - 1) / kWsBM;
  const int n_items = n_m * p.n_heads * p.n_reqs;
  const int window = p.sliding_window;
  const bool causal = p.causal;
  const int group = p.n_heads / p.n_kv_heads;
  struct Item {
    int r, h, q0, q_len, m0, kv_len, tile_lo, n_tiles;
  };
  auto item_at = [&](int w) -> Item {
    Item it;
    const int per_m = p.n_heads * p.n_reqs;
    const int m_back = w / per_m, rh = w - m_back * per_m;
    it.r = rh / p.n_heads;
    it.h = rh - it.r * p.n_heads;
    it.q0 = p.q_start[it.r];
    it.q_len = p.q_start[it.r + 1] - it.q0;
    // m-tiles end-aligned: the last one ends at q_len (m_back 0, the longest causal tile, comes
    // first), the ragged one starts at a negative row (its rows < 0 are idle).
    it.m0 = it.q_len - (m_back + 1) * kWsBM;
    it.kv_len = p.kv_len[it.r];
    it.tile_lo = it.n_tiles = 0;
    if (it.m0 + kWsBM > 0) {
      const KeyTiles kt = key_tiles(it.m0, kWsBM, it.q_len, it.kv_len, causal, window, kBN);
      it.tile_lo = kt.lo;
      it.n_tiles = kt.hi - kt.lo;
    }
    return it;
  };
  // Round k of the grid (G CTAs) covers items [k G, k G + G): CTA b takes item k G + b
  // (serpentine: k G + G - 1 - b in odd rounds). The item after w of this CTA:
  auto advance = [&](int w) {
    const int b = blockIdx.x, n_ctas = gridDim.x;
    return (w / n_ctas) & 1 ? w + 2 * b + 1 : w + 2 * (n_ctas - 1 - b) + 1;
  };
  // The first valid item from w on (n_items when none is left).
  auto next_valid = [&](int w) {
    for (; w < n_items; w = advance(w))
      if (item_at(w).n_tiles > 0) break;
    return w < n_items ? w : n_items;
  };
  const int w_first = next_valid(blockIdx.x);
  if (w_first >= n_items) return;  // CTA-uniform: before any barrier

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(bar_full_k + 8 * s, 128);  // every producer thread, cp.async-tracked
      mbar_init(bar_full_v + 8 * s, 128);
      mbar_init(bar_empty_k + 8 * s, 4 * NC);  // one lane of each consumer warp
      mbar_init(bar_empty_v + 8 * s, 4 * NC);
    }
  }
  __syncthreads();

  // Warp-uniform role (the shuffle tells the compiler it is uniform).
  const int wg = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / 128, 0);
  const int tid = threadIdx.x & 127;
  if (wg == 0) {
    // ---- producer: K/V gathers only ----
    set_max_regs_dec<kProducerRegs>();
    const T* kc = static_cast<const T*>(p.k_cache);
    const T* vc = static_cast<const T*>(p.v_cache);
    const int64_t slot_pitch = int64_t{p.n_kv_heads} * kWgD;
    // This thread copies 16-byte chunk c of rows row0 + 8k of every tile. The slots of a tile
    // are read from req_to_token a tile ahead into sSlot[2][kBN] (one per thread, tid < kBN),
    // so no global-load latency sits between the stage becoming free and its copies. gt counts
    // the tiles of all items of this CTA: stage gt % STAGES, slot half gt & 1.
    const int c = tid & 15, row0 = tid >> 4;
    const uint32_t dst0 = (c >> 3) * (kBN * 128) + swz_offset(row0, c & 7);  // swizzle: row & 7
    int gt = 0;
    for (int w = w_first; w < n_items; w = next_valid(advance(w))) {
      const Item item = item_at(w);
      const int32_t* slot_row =
          p.req_to_token + static_cast<int64_t>(p.req_row[item.r]) * p.req_to_token_stride;
      const int64_t head_off = int64_t{item.h / group} * kWgD + c * 8;
      auto fetch_slot = [&](int it) -> int32_t {
        const int j = (item.tile_lo + it) * kBN + tid;
        return tid < kBN && it < item.n_tiles && j < item.kv_len ? slot_row[j] : -1;
      };
      // This thread wrote the same element last (the previous tile's look-ahead).
      if (tid < kBN) sSlot[(gt & 1) * kBN + tid] = fetch_slot(0);
      for (int it = 0; it < item.n_tiles; ++it, ++gt) {
        const int s = gt % STAGES;
        const uint32_t empty_parity = ((gt / STAGES) - 1) & 1;
        // sSlot[gt & 1] holds this tile's slots; every producer thread is done with the other.
        named_bar_sync(kBarProducer, 128);
        const int32_t next_slot = fetch_slot(it + 1);
        const int32_t* slots = sSlot + (gt & 1) * kBN + row0;
        if (gt >= STAGES) mbar_wait(bar_empty_k + 8 * s, empty_parity);
        const uint32_t k_dst = sK + s * static_cast<uint32_t>(SM::tile) + dst0;
        const uint32_t v_dst = sV + s * static_cast<uint32_t>(SM::tile) + dst0;
#pragma unroll
        for (int k = 0; k < kBN / 8; ++k) {
          const int32_t slot = slots[8 * k];
          const int64_t off = slot >= 0 ? slot * slot_pitch + head_off : 0;
          cp_async16_s(k_dst + k * 8 * 128, kc + off, slot >= 0);
        }
        mbar_arrive_cp_async(bar_full_k + 8 * s);
        if (gt >= STAGES) mbar_wait(bar_empty_v + 8 * s, empty_parity);
#pragma unroll
        for (int k = 0; k < kBN / 8; ++k) {
          const int32_t slot = slots[8 * k];
          const int64_t off = slot >= 0 ? slot * slot_pitch + head_off : 0;
          cp_async16_s(v_dst + k * 8 * 128, vc + off, slot >= 0);
        }
        mbar_arrive_cp_async(bar_full_v + 8 * s);
        if (tid < kBN) sSlot[((gt + 1) & 1) * kBN + tid] = next_slot;
      }
    }
    cp_async_wait<0>();  // no copies outstanding when the thread exits
    return;
  }

  // ---- consumers ----
  set_max_regs_inc<kConsumerRegs>();
  const int cw = wg - 1;  // consumer 0 .. NC-1: rows [64 cw, 64 cw + 64) of the block
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  // Issues the cp.async of this warpgroup's Q rows of `item` (zeros past q_len); the wait, the
  // proxy fence and the warpgroup barrier come before its first S.
  auto load_q = [&](const Item& item) {
    const int64_t q_stride = p.q_stride ? p.q_stride : int64_t{p.n_heads} * kWgD;
    const T* qbase = static_cast<const T*>(p.q) + static_cast<int64_t>(item.q0) * q_stride +
                     int64_t{item.h} * kWgD;
    for (int idx = tid; idx < 64 * 16; idx += 128) {
      const int row = cw * 64 + (idx >> 4), c = idx & 15;
      const bool valid = item.m0 + row >= 0 && item.m0 + row < item.q_len;
      const T* src = valid ? qbase + static_cast<int64_t>(item.m0 + row) * q_stride + c * 8 : qbase;
      cp_async16_s(sQ + (c >> 3) * (kWsBM * 128) + swz_offset(row, c & 7), src, valid);
    }
    cp_async_commit();
  };
  // Ping-pong (round robin): consumer c issues its GEMMs after named barrier 1 + c completes,
  // which needs the previous consumer's arrival; the last one lets consumer 0 go first.
  const int bar_next = kBarTurn + (cw + 1 == NC ? 0 : cw + 1);
  if (cw == NC - 1) named_bar_arrive(kBarTurn, 256);

  const float scale_log2 = p.softmax_scale * kLog2e;
  const bool has_alibi = p.alibi_slopes != nullptr;
  // ALiBi or a scale that is not positive: every tile takes the masked (pre-scaled) path.
  const bool pre_scale = has_alibi || !(scale_log2 > 0.f);
  const uint32_t q_wg = sQ + cw * 64 * 128;  // this warpgroup's Q rows
  // Per-item state, set at the top of each item.
  float o[kWgD / 8][4];
  float row_m[2], row_l[2];
  float alibi_log2 = 0.f;
  int kv_len = 0, pos_base = 0;

  float s[kBN / 8][4];
  // P of a tile, the register A operand of its P V, in two buffers used in turn: P(i) is packed
  // while P V(i-1) still reads the other one, so no register hazard makes ptxas hoist the wait
  // for P V(i-1) above the softmax (with one buffer it did: the exp2s ran after P V finished).
  using PFrag = uint32_t[kBN / 16][4];
  PFrag pa0, pa1;
  float corr[2] = {1.f, 1.f};

  // Descriptors are built once; a k-step or a stage adds its byte offset / 16 to the start
  // address field (shared addresses stay below 2^18, so the 14-bit field never carries).
  const uint64_t desc_q = smem_desc(q_wg, 16, 1024);
  const uint64_t desc_k = smem_desc(sK, 16, 1024);
  const uint64_t desc_v = smem_desc(sV, kBN * 128, 1024);
  constexpr uint32_t kTileDesc = static_cast<uint32_t>(SM::tile) >> 4;
  auto issue_s = [&](int stage) {
    const uint64_t db0 = desc_k + static_cast<uint32_t>(stage) * kTileDesc;
#pragma unroll
    for (int ks = 0; ks < kWgD / 16; ++ks) {
      const uint64_t da = desc_q + (((ks >> 2) * (kWsBM * 128) + (ks & 3) * 32) >> 4);
      const uint64_t db = db0 + (((ks >> 2) * (kBN * 128) + (ks & 3) * 32) >> 4);
      wgmma_ss<T, kBN>(s, da, db, ks > 0 ? 1 : 0);
    }
    wgmma_commit();
  };
  auto issue_pv = [&](int stage, const PFrag& pa) {
    // V rows are 128 bytes of one column block, the two column blocks kBN * 128 bytes apart.
    const uint64_t db0 = desc_v + static_cast<uint32_t>(stage) * kTileDesc;
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk)
      wgmma_rs<T, 128>(o, pa[kk], db0 + kk * (16 * 128 >> 4), 1);
    wgmma_commit();
  };
  // Online softmax of S (tile starting at key n0) in place: s becomes exp2(score - max);
  // corr gets the factor for O, row_m / row_l are updated. Tiles that need no mask (and no
  // ALiBi) take the max over raw scores and fold the scale into the exponent's FFMA; the others
  // first bring every score to the log2 domain with its mask / ALiBi in a separate loop, under
  // one warp-uniform branch (a per-element branch there bloats the loop with moves and jumps).
  auto softmax = [&](int n0) {
    // Positions of this warpgroup's first and last rows (derived, not kept: registers).
    const int gp_lo = pos_base - (warp * 16 + g), gp_hi = min(gp_lo + 63, kv_len - 1);
    const bool masked = pre_scale || tile_needs_mask(n0, kBN, gp_lo, gp_hi, kv_len, causal, window);
    if (masked) {
#pragma unroll
      for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int j = n0 + nb * 8 + 2 * t + (i & 1);
          const int pos = pos_base + (i >> 1) * 8;
          const float v = s[nb][i] * scale_log2 + alibi_log2 * static_cast<float>(j - pos);
          s[nb][i] = key_masked(j, pos, kv_len, causal, window) ? -INFINITY : v;
        }
      }
    }
    const float mul = masked ? 1.f : scale_log2;  // s -> log2 domain
    float mx[2] = {-INFINITY, -INFINITY}, neg_m[2];
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb)
#pragma unroll
      for (int i = 0; i < 4; ++i) mx[i >> 1] = fmaxf(mx[i >> 1], s[nb][i]);
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 1));
      mx[hr] = fmaxf(mx[hr], __shfl_xor_sync(0xffffffffu, mx[hr], 2));
      const float m_new = fmaxf(row_m[hr], mx[hr] * mul);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      corr[hr] = fast_exp2(row_m[hr] - m_use);
      row_m[hr] = m_new;
      row_l[hr] *= corr[hr];
      neg_m[hr] = -m_use;
    }
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float e = fast_exp2(fmaf(s[nb][i], mul, neg_m[i >> 1]));
        row_l[i >> 1] += e;
        s[nb][i] = e;
      }
    }
  };
  // O *= corr (rows of this thread); skipped when no row max of the warp grew (exact: corr is 1).
  auto rescale_o = [&] {
    if (!__any_sync(0xffffffffu, corr[0] != 1.f || corr[1] != 1.f)) return;
#pragma unroll
    for (int i = 0; i < kWgD / 8; ++i) {
      o[i][0] *= corr[0];
      o[i][1] *= corr[0];
      o[i][2] *= corr[1];
      o[i][3] *= corr[1];
    }
  };
  auto pack_p = [&](PFrag& pa) {
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      pa[kk][0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pa[kk][1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pa[kk][2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[kk][3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
  };
  auto release = [&](uint32_t bar, int stage) {  // this warp is done reading K or V of `stage`
    if (lane == 0) mbar_arrive(bar + 8 * stage);
  };

  // Tile gt (counted over all items of this CTA) is in stage gt % STAGES, phase
  // (gt / STAGES) & 1. Tile it >= 1 of an item (gt = gt0 + it): S(it) with P V(it-1) (P(it-1) in
  // pa_prev), P(it) packed into pa_next. The wait for P V(it-2) sits here, after the mbarrier
  // spin loops, not after the softmax of tile it-1: ptxas hoists a wgmma wait to the top of its
  // basic block, which put it above the softmax (the exp2s then ran after P V, not beside it).
  // O is rescaled by corr(it-1) between the S and P V issues (the FlashAttention-3 order).
  // The GEMM tiles of this warpgroup in the current item: tiles [tile_lo, tile_lo + n_tiles) of
  // keys, ring tiles gt0 .. gt0 + n_tiles - 1: those its own rows can see.
  int gt0 = 0, tile_lo = 0, n_tiles = 0;
  auto step = [&](int it, const PFrag& pa_prev, PFrag& pa_next) {
    const int gt = gt0 + it;
    const int st = gt % STAGES, prev = (gt - 1) % STAGES;
    mbar_wait(bar_full_v + 8 * prev, ((gt - 1) / STAGES) & 1);  // landed long ago, as a rule
    mbar_wait(bar_full_k + 8 * st, (gt / STAGES) & 1);
    wgmma_wait<0>();  // P V(it-2) is done: O, pa_next and its V stage are free
    fence_operands(o);
    if (it >= 2) release(bar_empty_v, (gt - 2) % STAGES);
    fence_proxy_async();
    named_bar_sync(kBarTurn + cw, 256);
    fence_operands(s);
    fence_operands(o);
    wgmma_fence();
    issue_s(st);
    rescale_o();  // by corr(it-1), while S(it) runs
    fence_operands(o);
    wgmma_fence();
    issue_pv(prev, pa_prev);
    named_bar_arrive(bar_next, 256);
    wgmma_wait<1>();  // S(it) is done; P V(it-1) may still run
    fence_operands(s);
    release(bar_empty_k, st);
    softmax((tile_lo + it) * kBN);
    pack_p(pa_next);
  };
  // The last P V, then (when there is a next item) its Q load, which overlaps this P V and the
  // stores (every S of this warpgroup, the only reader of its Q rows, has retired). `arrive`:
  // pass the turn on (not after the CTA's very last turn of the last consumer: consumer 0 syncs
  // no more).
  // The next item (w_next < n_items) is read from global memory only when its Q load is issued,
  // so it holds no registers during the tile loop.
  Item item = item_at(w_first), next_item{};
  int w_next = n_items;
  auto has_next = [&] { return w_next < n_items; };
  auto load_next_q = [&] {
    if (!has_next()) return;
    next_item = item_at(w_next);
    load_q(next_item);
  };
  auto last_pv = [&](const PFrag& pa, int n_tiles, bool arrive) {  // n_tiles: the loop's count
    const int gt = gt0 + n_tiles - 1, last = gt % STAGES;
    mbar_wait(bar_full_v + 8 * last, (gt / STAGES) & 1);
    wgmma_wait<0>();  // P V(n_tiles-2) is done
    fence_operands(o);
    if (n_tiles >= 2) release(bar_empty_v, (gt - 1) % STAGES);
    rescale_o();
    fence_proxy_async();
    named_bar_sync(kBarTurn + cw, 256);
    fence_operands(o);
    wgmma_fence();
    issue_pv(last, pa);
    if (arrive) named_bar_arrive(bar_next, 256);
    load_next_q();
    wgmma_wait<0>();
    fence_operands(o);
    release(bar_empty_v, last);
  };
  // A turn without GEMMs for ring tile gt, which this warpgroup's rows cannot see: it
  // waits for the tile's K and V (so its releases count toward that tile's phase), takes its
  // turn and releases the tile. Every warpgroup takes n + 1 turns per item of n tiles.
  auto skip_tile = [&](int gt, bool arrive) {
    const int st = gt % STAGES;
    const uint32_t parity = (gt / STAGES) & 1;
    mbar_wait(bar_full_k + 8 * st, parity);
    mbar_wait(bar_full_v + 8 * st, parity);
    named_bar_sync(kBarTurn + cw, 256);
    if (arrive) named_bar_arrive(bar_next, 256);
    release(bar_empty_k, st);
    release(bar_empty_v, st);
  };

  int gt_end = 0;  // ring tile after the current item's tiles
  load_q(item);
  for (int w = w_first; w < n_items;) {
    w_next = next_valid(advance(w));
    // Per-item state.
    const int prefix = item.kv_len - item.q_len;
    const int gr0 = item.m0 + cw * 64;
    kv_len = item.kv_len;
    pos_base = prefix + gr0 + warp * 16 + g;  // position of this thread's first row
    alibi_log2 = has_alibi ? p.alibi_slopes[item.h] * kLog2e : 0.f;
    // This warpgroup's tiles [lo, hi) of the item's tiles [item.tile_lo, item.tile_lo + n):
    // ring tiles gt_item + (lo - item.tile_lo) .. gt_end - 1, those before gt0 and from
    // gt0 + n_tiles on are turns without GEMMs.
    const int gt_item = gt_end;
    gt_end = gt_item + item.n_tiles;
    int lo = item.tile_lo, hi = lo;  // hi = lo: no row of this warpgroup in the item
    if (gr0 < item.q_len && gr0 + 64 > 0) {
      const KeyTiles kt = key_tiles(gr0, 64, item.q_len, kv_len, causal, window, kBN);
      lo = kt.lo;
      hi = kt.hi;
    }
    gt0 = gt_item + (lo - item.tile_lo);
    tile_lo = lo;
    n_tiles = hi - lo;
#pragma unroll
    for (int i = 0; i < kWgD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    row_m[0] = row_m[1] = -INFINITY;
    row_l[0] = row_l[1] = 0.f;
    // This warpgroup's Q rows, visible to its wgmma.
    cp_async_wait<0>();
    fence_proxy_async();
    named_bar_sync(kBarQ + cw, 128);

    for (int x = gt_item; x < gt0; ++x) skip_tile(x, true);
    if (n_tiles > 0) {
      // Tile 0: S only.
      mbar_wait(bar_full_k + 8 * (gt0 % STAGES), (gt0 / STAGES) & 1);
      fence_proxy_async();
      named_bar_sync(kBarTurn + cw, 256);
      wgmma_fence();
      issue_s(gt0 % STAGES);
      named_bar_arrive(bar_next, 256);
      wgmma_wait<0>();
      fence_operands(s);
      release(bar_empty_k, gt0 % STAGES);
      softmax(tile_lo * kBN);
      pack_p(pa0);
      // Tiles in pairs so that the P buffers are compile-time arrays.
      int it = 1;
      bool last_in_pa1 = false;
      for (;;) {
        if (it >= n_tiles) break;
        step(it++, pa0, pa1);
        if (it >= n_tiles) {
          last_in_pa1 = true;
          break;
        }
        step(it++, pa1, pa0);
      }
      const bool arrive = cw != NC - 1 || has_next() || gt0 + it < gt_end;
      if (last_in_pa1) {
        last_pv(pa1, it, arrive);
      } else {
        last_pv(pa0, it, arrive);
      }
    } else {
      // No tile: one turn keeps the count (n + 1); the next item's Q rows may load now.
      named_bar_sync(kBarTurn + cw, 256);
      if (cw != NC - 1 || has_next() || gt0 < gt_end) named_bar_arrive(bar_next, 256);
      load_next_q();
    }
    for (int x = gt0 + n_tiles; x < gt_end; ++x)
      skip_tile(x, cw != NC - 1 || has_next() || x + 1 < gt_end);

    // Finish: full row sums, normalize, store rows < q_len.
    T* obase = static_cast<T*>(p.out) + static_cast<int64_t>(item.q0) * p.n_heads * kWgD +
               int64_t{item.h} * kWgD;
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float l = row_l[hr];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int row = pos_base - (kv_len - item.q_len) + hr * 8;  // gr0 + warp * 16 + g + 8 hr
      if (row < 0 || row >= item.q_len) continue;
      T* orow = obase + static_cast<int64_t>(row) * p.n_heads * kWgD;
#pragma unroll
      for (int i = 0; i < kWgD / 8; ++i) {
        const uint32_t v = pack2<T>(o[i][2 * hr] * inv, o[i][2 * hr + 1] * inv);
        *reinterpret_cast<uint32_t*>(orow + i * 8 + 2 * t) = v;
      }
    }
    item = next_item;
    w = w_next;
  }
#else
  // Not an sm_90a image (e.g. sm_90 without the arch-specific features): a static shared
  // variable marks this body for image_has_wgmma(), and it traps if launched anyway.
  __shared__ int not_sm90a[1];
  reinterpret_cast<volatile int*>(not_sm90a)[0] = 1;
  (void)p;
  __trap();
#endif
}

template <typename T, int NC, int kBN, int STAGES>
core::Status launch(const PrefillAttentionParams& p, cudaStream_t stream) {
  using SM = WsSmem<NC, kBN, STAGES>;
  static_assert(SM::alloc <= 227 * 1024, "shared memory of one block");
  static std::atomic<uint64_t> attr_done{0};
  LLM_RETURN_IF_ERROR(allow_smem(prefill_ws_kernel<T, NC, kBN, STAGES>, SM::alloc, attr_done));
  const int64_t n_items = int64_t{(p.max_q_len + SM::kBM - 1) / SM::kBM} * p.n_heads * p.n_reqs;
  if (n_items > INT32_MAX) return core::invalid_argument("prefill_attention: too many blocks");
  int64_t ctas = n_items;
  const int want = ws_ctas(p);
  if (want == kPrefillCtasPerSm) {
    int dev = 0, sms = 0;
    LLM_CUDA_RETURN_IF_ERROR(cudaGetDevice(&dev));
    LLM_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    ctas = std::min<int64_t>(n_items, sms);
  } else if (want > 0) {
    ctas = std::min<int64_t>(n_items, want);
  }
  prefill_ws_kernel<T, NC, kBN, STAGES>
      <<<static_cast<unsigned>(ctas), 128 * (NC + 1), SM::alloc, stream>>>(p);
  return LLM_CUDA_CHECK_LAUNCH();
}

// The two shapes kept (H100, docs/PERFORMANCE.md prefill runs 8 and 10): 192 rows x 64 keys
// with 5 stages, the fastest at every measured length since run 10 (1k: +2-5%, 2k-16k: +10-30%);
// 128 rows x 128 keys with 2 stages for prompts below 1k (fewer idle rows; not measured there).
template <typename T>
core::Status launch_cfg(const PrefillAttentionParams& p, cudaStream_t stream) {
  const WsTiles c = ws_tiles(p);
  if (c.rows == 128 && c.keys == 128) return launch<T, 2, 128, 2>(p, stream);
  if (c.rows == 192 && c.keys == 64) return launch<T, 3, 64, 5>(p, stream);
  return core::invalid_argument(
      "prefill_attention: variant 5 has block_rows x kv_tile 128 x 128 and 192 x 64, got {} x {}",
      c.rows, c.keys);
}

// Does the image loaded for this device hold the wgmma body? An sm_90 image of the kernel that
// is not sm_90a code holds the fallback body, which alone has static shared memory.
bool image_has_wgmma() {
  static const bool ok = [] {
    cudaFuncAttributes attr{};
    if (cudaFuncGetAttributes(&attr, prefill_ws_kernel<__nv_bfloat16, 2, 128, 2>) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return attr.binaryVersion == 90 && attr.sharedSizeBytes == 0;
  }();
  return ok;
}

}  // namespace

bool prefill_wgmma_supported(const PrefillAttentionParams& p) {
  return !p.kv_int8 && p.head_dim == 128 &&
         (p.dtype == core::DType::bf16 || p.dtype == core::DType::f16) && image_has_wgmma();
}

int ws_ctas(const PrefillAttentionParams& p) {
  // Persistent (one CTA per SM): 5-10% faster than one CTA per item at 1k-2k new tokens, 2% at
  // 4k, and with the serpentine order as fast at 16k (docs/PERFORMANCE.md prefill runs 10, 11).
  return p.ctas != 0 ? p.ctas : kPrefillCtasPerSm;
}

WsTiles ws_tiles(const PrefillAttentionParams& p) {
  // 192-row blocks from 1024 new tokens: measured as fast as 128 x 128 at 1k and faster from 2k
  // (docs/PERFORMANCE.md prefill run 10; shorter prompts are not measured).
  const int rows = p.block_rows != 0 ? p.block_rows : (p.max_q_len >= 1024 ? 192 : 128);
  return {rows, p.kv_tile != 0 ? p.kv_tile : (rows == 192 ? 64 : 128)};
}

core::Status prefill_attention_ws(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (!prefill_wgmma_supported(p)) {
    return core::unimplemented(
        "prefill_attention: variant {} (warp-specialized wgmma) needs an sm_90a image, head_dim "
        "128 and bf16/f16 K/V (head_dim {}, int8 K/V {})",
        p.variant, p.head_dim, p.kv_int8);
  }
  if (p.dtype == core::DType::bf16) return launch_cfg<__nv_bfloat16>(p, stream);
  return launch_cfg<__half>(p, stream);
}

}  // namespace lightllm::kernels::cuda::prefill_detail
