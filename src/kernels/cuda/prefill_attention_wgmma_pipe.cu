// src/kernels/cuda/prefill_attention_wgmma_pipe.cu — EXPERIMENTAL pipelined variant of the
// Hopper prefill kernel (PrefillAttentionParams::variant = 4; never the default). Same tiles,
// shared-memory layout and softmax as variant 3 (prefill_attention_wgmma.cu), but step i issues
// S(i) = Q K(i)^T and O += P(i-1) V(i-1) back to back and waits only for S(i) before the
// softmax, so the softmax of tile i overlaps the P V MMAs of tile i-1 (FlashAttention-3's
// intra-warpgroup overlap). To keep every wgmma off data-dependent branches (ptxas serializes
// them there: C7520), every warpgroup runs every key tile of its block (fully masked tiles add
// zeros) and the first (S only) and last (P V only) steps are peeled off the loop.
// Copies: K(t) and V(t-1) form one cp.async group committed in step t-2 (K two tiles ahead, V
// one), slots of tile t live in ring entry (t - tile_lo) % 4.
// Status: compiled warning-free and without wgmma serialization (ptxas) except 192 x 128
// (register-limited: C7512); NOT yet run on a GPU when this was written — the cuda test
// PrefillAttention*.PipelinedWgmma and bench/cuda/attention_tune (variant 4) check it.
#include <atomic>
#include <cmath>

#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/prefill_attention_mma.cuh"
#include "kernels/cuda/prefill_attention_wgmma.cuh"

namespace lightllm::kernels::cuda::prefill_detail {
namespace {

template <typename T, int kBN, int WG>
__global__ void __launch_bounds__(128 * WG) prefill_wgmma_pipe_kernel(PrefillAttentionParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using SM = WgSmem<WG, kBN>;
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr int kBM = SM::kBM, kThreads = 128 * WG;
  static_assert(kThreads >= kBN, "one slot per thread of the block");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // 1024-byte aligned base (the swizzle pattern is a function of the address bits).
  const uint32_t raw_addr = smem_addr(smem_raw);
  unsigned char* smem = smem_raw + (((raw_addr + 1023u) & ~1023u) - raw_addr);
  const uint32_t sQ = smem_addr(smem);
  const uint32_t sK = sQ + SM::off_k, sV = sQ + SM::off_v;
  int32_t* sSlot = reinterpret_cast<int32_t*>(smem + SM::off_slots);  // [4][kBN], -1 = none

  const int r = blockIdx.z, h = blockIdx.y;
  const int m_tile = gridDim.x - 1 - blockIdx.x;  // longest causal tiles first
  const int q0 = p.q_start[r];
  const int q_len = p.q_start[r + 1] - q0;
  const int m0 = m_tile * kBM;
  if (m0 >= q_len) return;
  const int kv_len = p.kv_len[r];
  const int prefix = kv_len - q_len;
  const int kvh = h / (p.n_heads / p.n_kv_heads);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = tid >> 7;
  const int g = lane >> 2, t = lane & 3;
  const int window = p.sliding_window;
  const bool causal = p.causal;

  // Key tiles the block needs (never empty: row m0 sees its own key).
  const int last_row_pos = prefix + min(m0 + kBM, q_len) - 1;
  const int kv_hi = causal ? min(kv_len, last_row_pos + 1) : kv_len;
  const int kv_lo = window > 0 ? max(0, prefix + m0 - window + 1) : 0;
  const int tile_lo = kv_lo / kBN, tile_hi = (kv_hi + kBN - 1) / kBN;

  // This warpgroup's rows: positions [gp_lo, gp_hi]; one past q_len only joins the barriers.
  const int gr0 = m0 + wg * 64;
  const bool group_rows = gr0 < q_len;
  const int gp_lo = prefix + gr0, gp_hi = prefix + min(gr0 + 64, q_len) - 1;

  const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * kWgD;
  const T* qbase = static_cast<const T*>(p.q) + static_cast<int64_t>(q0) * qs + int64_t{h} * kWgD;
  const int32_t* slot_row =
      p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const int n_kv_heads = p.n_kv_heads;
  auto fetch_slot = [&](int tile) -> int32_t {  // threads tid < kBN: slot of key tile*kBN + tid
    const int j = tile * kBN + tid;
    return tid < kBN && j < kv_len ? slot_row[j] : -1;
  };
  // cp.async of one K or V tile (16 chunks of 16 bytes per key) into `dst`, keys through the
  // slots of sSlot[ring]; keys without a slot are zero-filled.
  auto load_tile = [&](const void* cache, uint32_t dst, int ring) {
    const int32_t* slots = sSlot + ring * kBN;
    const T* c = static_cast<const T*>(cache);
    for (int idx = tid; idx < kBN * 16; idx += kThreads) {
      const int row = idx >> 4, ch = idx & 15;
      const int32_t slot = slots[row];
      const int64_t off =
          slot >= 0 ? (static_cast<int64_t>(slot) * n_kv_heads + kvh) * kWgD + ch * 8 : 0;
      cp_async16_s(dst + (ch >> 3) * (kBN * 128) + swz_offset(row, ch & 7), c + off, slot >= 0);
    }
  };
  auto k_stage = [&](int tile) {
    return sK + ((tile - tile_lo) & 1) * static_cast<uint32_t>(SM::tile);
  };
  auto v_stage = [&](int tile) {
    return sV + ((tile - tile_lo) & 1) * static_cast<uint32_t>(SM::tile);
  };
  auto load_q = [&] {
    for (int idx = tid; idx < kBM * 16; idx += kThreads) {
      const int row = idx >> 4, c = idx & 15;
      const bool valid = m0 + row < q_len;
      const T* src = valid ? qbase + static_cast<int64_t>(m0 + row) * qs + c * 8 : qbase;
      cp_async16_s(sQ + (c >> 3) * (kBM * 128) + swz_offset(row, c & 7), src, valid);
    }
  };

  float o[kWgD / 8][4];
#pragma unroll
  for (int i = 0; i < kWgD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};
  const float scale_log2 = p.softmax_scale * kLog2e;
  const bool has_alibi = p.alibi_slopes != nullptr;
  const float alibi_log2 = has_alibi ? p.alibi_slopes[h] * kLog2e : 0.f;
  const bool pre_scale = has_alibi || !(scale_log2 > 0.f);
  const float mul = pre_scale ? 1.f : scale_log2;    // raw score -> log2 domain
  const int pos_base = prefix + m0 + warp * 16 + g;  // position of this thread's first row
  // Q operand of this warpgroup: column block kb / 4, 32 bytes per k step inside the block.
  const uint32_t q_wg = sQ + wg * 64 * 128;

  // Does this warpgroup see any key of the tile?
  auto visible = [&](int tile) {
    const int n0 = tile * kBN;
    return group_rows && !(causal && n0 > gp_hi) && !(window > 0 && n0 + kBN - 1 <= gp_lo - window);
  };
  float s[kBN / 8][4];
  auto issue_s = [&](int tile) {  // S = Q K(tile)^T, one commit group
    const uint32_t k_s = k_stage(tile);
#pragma unroll
    for (int ks = 0; ks < kWgD / 16; ++ks) {
      const uint64_t da = smem_desc(q_wg + (ks >> 2) * (kBM * 128) + (ks & 3) * 32, 16, 1024);
      const uint64_t db = smem_desc(k_s + (ks >> 2) * (kBN * 128) + (ks & 3) * 32, 16, 1024);
      wgmma_ss<T, kBN>(s, da, db, ks > 0 ? 1 : 0);
    }
    wgmma_commit();
  };
  uint32_t pa[kBN / 16][4];
  auto issue_pv = [&](int tile) {  // O += P V(tile), one commit group
    const uint32_t v_s = v_stage(tile);
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      // 16 keys per step; the two 64-column blocks of V are kBN * 128 bytes apart.
      const uint64_t db = smem_desc(v_s + kk * 16 * 128, kBN * 128, 1024);
      wgmma_rs<T, 128>(o, pa[kk], db, 1);
    }
    wgmma_commit();
  };
  // Online softmax of S(tile) (as variant 2: the max over raw scores, one FFMA + EX2 per
  // score): s becomes the probabilities (f32), row_m / row_l are updated, corr is the factor
  // for O.
  auto softmax = [&](int tile, float(&corr)[2]) {
    const int n0 = tile * kBN;
    const bool need_mask = has_alibi || n0 + kBN > kv_len || (causal && n0 + kBN - 1 > gp_lo) ||
                           (window > 0 && n0 <= gp_hi - window);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        float v = s[nb][i];
        if (pre_scale) v *= scale_log2;
        if (need_mask) {
          const int j = n0 + nb * 8 + 2 * t + (i & 1);
          const int pos = pos_base + (i >> 1) * 8;
          const bool masked =
              j >= kv_len || (causal && j > pos) || (window > 0 && j <= pos - window);
          v = masked ? -INFINITY : v + alibi_log2 * static_cast<float>(j - pos);
        }
        s[nb][i] = v;
        mx[i >> 1] = fmaxf(mx[i >> 1], v);
      }
    }
    float neg_m[2];
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
    for (int nb = 0; nb < kBN / 8; ++nb)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        s[nb][i] = fast_exp2(fmaf(s[nb][i], mul, neg_m[i >> 1]));
        row_l[i >> 1] += s[nb][i];
      }
  };
  auto rescale_and_pack = [&](const float(&corr)[2]) {
#pragma unroll
    for (int i = 0; i < kWgD / 8; ++i) {
      o[i][0] *= corr[0];
      o[i][1] *= corr[0];
      o[i][2] *= corr[1];
      o[i][3] *= corr[1];
    }
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      pa[kk][0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pa[kk][1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pa[kk][2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[kk][3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
  };

  {
    // Step i issues S(i) and P V(i-1) back to back; the softmax of S(i) runs while the tensor
    // cores do P V(i-1). Tile t's K and V use stage (t - tile_lo) % 2, its slots ring entry
    // (t - tile_lo) % 4. Copies: K(t) and V(t-1) are one group, committed in step t-2 (every
    // step commits one, possibly empty), so step t waits for all but the newest group.
    if (tid < kBN) {
      sSlot[tid] = fetch_slot(tile_lo);
      sSlot[kBN + tid] = tile_lo + 1 < tile_hi ? fetch_slot(tile_lo + 1) : -1;
      sSlot[2 * kBN + tid] = tile_lo + 2 < tile_hi ? fetch_slot(tile_lo + 2) : -1;
    }
    __syncthreads();
    load_q();
    load_tile(p.k_cache, k_stage(tile_lo), 0);
    cp_async_commit();
    if (tile_lo + 1 < tile_hi) load_tile(p.k_cache, k_stage(tile_lo + 1), 1);
    load_tile(p.v_cache, v_stage(tile_lo), 0);
    cp_async_commit();

    // Every warpgroup runs every tile of the block (fully masked tiles add zeros), so no wgmma
    // sits on a data-dependent branch (ptxas would serialize them); the first step (S only)
    // and the last (P V only) are peeled off the loop.
    float corr[2];
    auto after_s = [&](int tile, bool pv_in_flight) {
      if (pv_in_flight) {
        wgmma_wait<1>();  // S(i) is done, P V(i-1) may still run
      } else {
        wgmma_wait<0>();
      }
      fence_operands(s);
      softmax(tile, corr);
      wgmma_wait<0>();
      fence_operands(o);
      rescale_and_pack(corr);
    };
    auto next_loads = [&](int tile, int32_t next_slot) {
      const int rel = tile - tile_lo;
      __syncthreads();  // K(i) and V(i-1) are free: K(i+2) and V(i+1) go there
      if (tile + 2 < tile_hi) load_tile(p.k_cache, k_stage(tile + 2), (rel + 2) & 3);
      if (tile + 1 < tile_hi) load_tile(p.v_cache, v_stage(tile + 1), (rel + 1) & 3);
      cp_async_commit();
      if (tid < kBN && tile + 3 < tile_hi) sSlot[((rel + 3) & 3) * kBN + tid] = next_slot;
    };
    auto wait_tile = [&] {
      cp_async_wait<1>();
      fence_proxy_async();
      __syncthreads();  // K(i) and V(i-1) are visible to every warpgroup's wgmma
    };
    {
      const int32_t next_slot = tile_lo + 3 < tile_hi ? fetch_slot(tile_lo + 3) : -1;
      wait_tile();
      wgmma_fence();
      issue_s(tile_lo);
      after_s(tile_lo, false);
      next_loads(tile_lo, next_slot);
    }
    for (int tile = tile_lo + 1; tile < tile_hi; ++tile) {
      const int32_t next_slot = tile + 3 < tile_hi ? fetch_slot(tile + 3) : -1;
      wait_tile();
      wgmma_fence();
      issue_s(tile);
      issue_pv(tile - 1);
      after_s(tile, true);
      next_loads(tile, next_slot);
    }
    wait_tile();
    wgmma_fence();
    issue_pv(tile_hi - 1);
    wgmma_wait<0>();
    fence_operands(o);
  }

  // Finish: full row sums, normalize, store rows < q_len.
  T* obase =
      static_cast<T*>(p.out) + static_cast<int64_t>(q0) * p.n_heads * kWgD + int64_t{h} * kWgD;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float l = row_l[hr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int row = m0 + warp * 16 + g + hr * 8;
    if (row >= q_len) continue;
    T* orow = obase + static_cast<int64_t>(row) * p.n_heads * kWgD;
#pragma unroll
    for (int i = 0; i < kWgD / 8; ++i) {
      const uint32_t v = pack2<T>(o[i][2 * hr] * inv, o[i][2 * hr + 1] * inv);
      *reinterpret_cast<uint32_t*>(orow + i * 8 + 2 * t) = v;
    }
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

template <typename T, int kBN, int WG>
core::Status launch(const PrefillAttentionParams& p, cudaStream_t stream) {
  using SM = WgSmem<WG, kBN>;
  static std::atomic<uint64_t> attr_done{0};
  LLM_RETURN_IF_ERROR(allow_smem(prefill_wgmma_pipe_kernel<T, kBN, WG>, SM::alloc, attr_done));
  const dim3 grid((p.max_q_len + SM::kBM - 1) / SM::kBM, p.n_heads, p.n_reqs);
  prefill_wgmma_pipe_kernel<T, kBN, WG><<<grid, 128 * WG, SM::alloc, stream>>>(p);
  return LLM_CUDA_CHECK_LAUNCH();
}

template <typename T>
core::Status launch_cfg(const PrefillAttentionParams& p, cudaStream_t stream) {
  const WgTiles c = wgmma_tiles(p);
  if (c.rows == 128 && c.keys == 64) return launch<T, 64, 2>(p, stream);
  if (c.rows == 128 && c.keys == 128) return launch<T, 128, 2>(p, stream);
  if (c.rows == 192 && c.keys == 64) return launch<T, 64, 3>(p, stream);
  if (c.rows == 192 && c.keys == 128) return launch<T, 128, 3>(p, stream);
  if (c.rows == 64 && c.keys == 64) return launch<T, 64, 1>(p, stream);
  return core::invalid_argument(
      "prefill_attention: variant 4 has block_rows 64 / 128 / 192 and kv_tile 64 / 128 (64 with "
      "64 rows), got {} / {}",
      c.rows, c.keys);
}

}  // namespace

// Called by prefill_attention_wgmma (arguments and sm_90a image already checked).
core::Status prefill_attention_wgmma_pipe(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (p.dtype == core::DType::bf16) return launch_cfg<__nv_bfloat16>(p, stream);
  return launch_cfg<__half>(p, stream);
}

}  // namespace lightllm::kernels::cuda::prefill_detail
