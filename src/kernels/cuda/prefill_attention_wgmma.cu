// src/kernels/cuda/prefill_attention_wgmma.cu — the Hopper prefill attention kernel (variant 3,
// the default on sm_90 for head_dim 128, bf16/f16 K/V): warpgroup MMAs (wgmma.mma_async) with
// Q, K and V read by the tensor cores straight from 128B-swizzled shared memory.
// Block = WG warpgroups over kBM = 64 * WG query rows of one (request, head); warpgroup w owns
// rows [64w, 64w + 64). Per K/V tile of kBN keys:
//   S[64][kBN] = Q K^T      wgmma m64n{kBN}k16, 8 steps over D = 128, A = Q, B = K (K-major)
//   online softmax in registers (exp2 domain; the accumulator layout is the mma.sync one)
//   O[64][128] += P V       wgmma m64n128k16, kBN / 16 steps, A = P from registers (bf16/f16),
//                           B = V read MN-major (transposed by the hardware)
// smem (1024-byte aligned blocks, see prefill_attention_wgmma.cuh):
//   Q [2 column blocks][kBM][64], K and V [2 stages][2 column blocks][kBN][64], slots [2][kBN]
//   (WgSmem in prefill_attention_wgmma.cuh, shared with variant 4, which uses [4][kBN] slots).
// Pipeline per step i (2 barriers): wait for tile i's cp.async copies, fence.proxy.async,
// barrier; S(i) issued and waited (which also retires P V(i-1)); barrier (every warpgroup is done
// with tile i-1's buffers); cp.async of tile i+1 into them; softmax; P V(i) issued, not waited.
// Slots of tile i+2 are read from req_to_token during step i and stored to smem after the
// second barrier. Masking (causal, window, kv_len) and ALiBi as in variant 2; the causal skip
// of tiles is per warpgroup (wgmma is warpgroup-collective). Only compiled into the sm_90a
// image; other images trap, and the host side only launches it when the loaded image holds the
// wgmma body (image_has_wgmma).
#include <atomic>
#include <cmath>

#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/prefill_attention_mma.cuh"
#include "kernels/cuda/prefill_attention_wgmma.cuh"

namespace lightllm::kernels::cuda::prefill_detail {
namespace {

template <typename T, int kBN, int WG>
__global__ void __launch_bounds__(128 * WG) prefill_wgmma_kernel(PrefillAttentionParams p) {
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
  int32_t* sSlot = reinterpret_cast<int32_t*>(smem + SM::off_slots);  // [2][kBN], -1 = none

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
  // cp.async of one K and one V tile (16 chunks of 16 bytes per key) into stage `stage`, keys
  // through the slots of sSlot[stage]; keys without a slot are zero-filled.
  auto load_kv = [&](int stage) {
    const int32_t* slots = sSlot + stage * kBN;
    const T* kc = static_cast<const T*>(p.k_cache);
    const T* vc = static_cast<const T*>(p.v_cache);
    const uint32_t k_dst = sK + stage * static_cast<uint32_t>(SM::tile);
    const uint32_t v_dst = sV + stage * static_cast<uint32_t>(SM::tile);
    for (int idx = tid; idx < kBN * 16; idx += kThreads) {
      const int row = idx >> 4, c = idx & 15;
      const int32_t slot = slots[row];
      const int64_t off =
          slot >= 0 ? (static_cast<int64_t>(slot) * n_kv_heads + kvh) * kWgD + c * 8 : 0;
      const uint32_t dst = (c >> 3) * (kBN * 128) + swz_offset(row, c & 7);
      cp_async16_s(k_dst + dst, kc + off, slot >= 0);
      cp_async16_s(v_dst + dst, vc + off, slot >= 0);
    }
  };

  // Prologue: slots of the first tile, then Q + K/V(first) as one group.
  if (tid < kBN) sSlot[tid] = fetch_slot(tile_lo);
  __syncthreads();
  for (int idx = tid; idx < kBM * 16; idx += kThreads) {
    const int row = idx >> 4, c = idx & 15;
    const bool valid = m0 + row < q_len;
    const T* src = valid ? qbase + static_cast<int64_t>(m0 + row) * qs + c * 8 : qbase;
    cp_async16_s(sQ + (c >> 3) * (kBM * 128) + swz_offset(row, c & 7), src, valid);
  }
  load_kv(0);
  cp_async_commit();
  // Slots of the second tile (read by the loads of step 0, after its barriers).
  if (tid < kBN && tile_lo + 1 < tile_hi) sSlot[kBN + tid] = fetch_slot(tile_lo + 1);

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

  for (int tile = tile_lo; tile < tile_hi; ++tile) {
    const int buf = (tile - tile_lo) & 1;
    const bool has_next = tile + 1 < tile_hi;
    const int32_t next_slot = tile + 2 < tile_hi ? fetch_slot(tile + 2) : -1;
    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();  // K/V of this tile (and Q) are visible to every warpgroup's wgmma

    const int n0 = tile * kBN;
    const bool skip =
        !group_rows || (causal && n0 > gp_hi) || (window > 0 && n0 + kBN - 1 <= gp_lo - window);
    const bool need_mask = has_alibi || n0 + kBN > kv_len || (causal && n0 + kBN - 1 > gp_lo) ||
                           (window > 0 && n0 <= gp_hi - window);
    const uint32_t k_s = sK + buf * static_cast<uint32_t>(SM::tile);
    const uint32_t v_s = sV + buf * static_cast<uint32_t>(SM::tile);

    float s[kBN / 8][4];
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
    if (!skip) {
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < kWgD / 16; ++ks) {
        const uint64_t da = smem_desc(q_wg + (ks >> 2) * (kBM * 128) + (ks & 3) * 32, 16, 1024);
        const uint64_t db = smem_desc(k_s + (ks >> 2) * (kBN * 128) + (ks & 3) * 32, 16, 1024);
        wgmma_ss<T, kBN>(s, da, db, ks > 0 ? 1 : 0);
      }
      wgmma_commit();
    }
    wgmma_wait<0>();  // S(i) and P V(i-1) are done
    fence_operands(s);
    fence_operands(o);
    __syncthreads();  // every warpgroup is done with tile i-1's K/V: load tile i+1 there
    if (has_next) {
      load_kv(buf ^ 1);
      cp_async_commit();
    }
    if (tid < kBN && tile + 2 < tile_hi) sSlot[buf * kBN + tid] = next_slot;

    if (!skip) {
      // Online softmax (as variant 2): the max over raw scores, one FFMA + EX2 per score.
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
      float corr[2], neg_m[2];
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
      for (int i = 0; i < kWgD / 8; ++i) {
        o[i][0] *= corr[0];
        o[i][1] *= corr[0];
        o[i][2] *= corr[1];
        o[i][3] *= corr[1];
      }
      uint32_t pa[kBN / 16][4];
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        float e[2][4];
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            e[half][i] = fast_exp2(fmaf(s[2 * kk + half][i], mul, neg_m[i >> 1]));
            row_l[i >> 1] += e[half][i];
          }
        pa[kk][0] = pack2<T>(e[0][0], e[0][1]);
        pa[kk][1] = pack2<T>(e[0][2], e[0][3]);
        pa[kk][2] = pack2<T>(e[1][0], e[1][1]);
        pa[kk][3] = pack2<T>(e[1][2], e[1][3]);
      }
      // O += P V: 16 keys per step; V rows are 128 bytes of one column block, the two column
      // blocks kBN * 128 bytes apart (the MN-major leading offset).
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        const uint64_t db = smem_desc(v_s + kk * 16 * 128, kBN * 128, 1024);
        wgmma_rs<T, 128>(o, pa[kk], db, 1);
      }
      wgmma_commit();
    }
  }
  wgmma_wait<0>();
  fence_operands(o);

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
  LLM_RETURN_IF_ERROR(allow_smem(prefill_wgmma_kernel<T, kBN, WG>, SM::alloc, attr_done));
  const dim3 grid((p.max_q_len + SM::kBM - 1) / SM::kBM, p.n_heads, p.n_reqs);
  prefill_wgmma_kernel<T, kBN, WG><<<grid, 128 * WG, SM::alloc, stream>>>(p);
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
      "prefill_attention: variant 3 has block_rows 64 / 128 / 192 and kv_tile 64 / 128 (64 with "
      "64 rows), got {} / {}",
      c.rows, c.keys);
}

// Does the image loaded for this device hold the wgmma body? An sm_90 image of the kernel that
// is not sm_90a code holds the fallback body, which alone has static shared memory.
bool image_has_wgmma() {
  static const bool ok = [] {
    cudaFuncAttributes attr{};
    if (cudaFuncGetAttributes(&attr, prefill_wgmma_kernel<__nv_bfloat16, 64, 2>) != cudaSuccess) {
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

WgTiles wgmma_tiles(const PrefillAttentionParams& p) {
  // Defaults (H200, docs/PERFORMANCE.md run 5): 192 x 128 was the fastest of 128/192 rows x
  // 64/128 keys on both 16 x 1k and 4 x 4k; shorter batches take smaller tiles.
  const int rows = p.block_rows != 0 ? p.block_rows
                                     : (p.max_q_len >= 192   ? 192
                                        : p.max_q_len >= 128 ? 128
                                                             : 64);
  return {rows, p.kv_tile != 0 ? p.kv_tile : (rows >= 128 ? 128 : 64)};
}

core::Status prefill_attention_wgmma(const PrefillAttentionParams& p, cudaStream_t stream) {
  if (!prefill_wgmma_supported(p)) {
    return core::unimplemented(
        "prefill_attention: variant {} (wgmma) needs an sm_90a image, head_dim 128 and bf16/f16 "
        "K/V (head_dim {}, int8 K/V {})",
        p.variant, p.head_dim, p.kv_int8);
  }
  if (p.variant == 4) return prefill_attention_wgmma_pipe(p, stream);
  if (p.dtype == core::DType::bf16) return launch_cfg<__nv_bfloat16>(p, stream);
  return launch_cfg<__half>(p, stream);
}

}  // namespace lightllm::kernels::cuda::prefill_detail
