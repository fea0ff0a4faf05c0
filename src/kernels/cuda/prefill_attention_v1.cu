// src/kernels/cuda/prefill_attention_v1.cu — the first FlashAttention-2-style prefill kernel
// (PrefillAttentionParams::variant = 1), kept so benchmarks can put it beside the current one.
// Layout per block (W = 4 or 8 warps, warp w owns query rows [16w, 16w+16) of the 16W-row tile):
//   smem: Q [16W][D+8], K [2][64][D+8], V [2][64][D+8] (bf16/f16; +8 pad = conflict-free ldmatrix)
//   regs: Q fragments [D/16][4], S [8][4] f32, O [D/8][4] f32, row max / sum for 2 rows.
// Each K/V ldmatrix fragment feeds two MMAs (16 rows per warp), so this kernel is bound by
// shared-memory bandwidth. No ALiBi and no int8 KV: the dispatcher rejects those for variant 1.
#include <cmath>

#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/prefill_attention_mma.cuh"

namespace lightllm::kernels::cuda::prefill_detail {
namespace {

constexpr int kBN = 64;

// W warps per block; the query tile is 16 * W rows (64 or 128).
template <typename T, int D, int W>
__global__ void __launch_bounds__(32 * W) prefill_v1_kernel(PrefillAttentionParams p) {
  constexpr int kBM = 16 * W, kThreads = 32 * W;
  constexpr int LD = D + 8;       // smem row pitch in elements
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + kBM * LD;      // [2][kBN][LD]
  T* sV = sK + 2 * kBN * LD;  // [2][kBN][LD]

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

  // Key range this tile needs.
  const int last_row_pos = prefix + min(m0 + kBM, q_len) - 1;
  const int kv_hi = p.causal ? min(kv_len, last_row_pos + 1) : kv_len;
  int kv_lo = 0;
  if (p.sliding_window > 0) kv_lo = max(0, prefix + m0 - p.sliding_window + 1);
  const int tile_lo = kv_lo / kBN, tile_hi = (kv_hi + kBN - 1) / kBN;

  const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * D;
  const T* qbase = static_cast<const T*>(p.q) + static_cast<int64_t>(q0) * qs + int64_t{h} * D;
  const int32_t* slot_row =
      p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const T* kc = static_cast<const T*>(p.k_cache);
  const T* vc = static_cast<const T*>(p.v_cache);

  // Q tile (rows past q_len are zero-filled).
  for (int idx = tid; idx < kBM * kChunks; idx += kThreads) {
    const int row = idx / kChunks, c = idx % kChunks;
    const bool valid = m0 + row < q_len;
    const T* src = valid ? qbase + static_cast<int64_t>(m0 + row) * qs + c * 8 : qbase;
    cp_async16(sQ + row * LD + c * 8, src, valid);
  }
  auto load_kv = [&](int tile, int buf) {
    const int n0 = tile * kBN;
    T* dk = sK + buf * kBN * LD;
    T* dv = sV + buf * kBN * LD;
    for (int idx = tid; idx < kBN * kChunks; idx += kThreads) {
      const int row = idx / kChunks, c = idx % kChunks;
      const bool valid = n0 + row < kv_len;
      const int64_t off =
          valid ? (static_cast<int64_t>(slot_row[n0 + row]) * p.n_kv_heads + kvh) * D + c * 8 : 0;
      cp_async16(dk + row * LD + c * 8, kc + off, valid);
      cp_async16(dv + row * LD + c * 8, vc + off, valid);
    }
  };
  load_kv(tile_lo, 0);
  cp_async_commit();

  uint32_t qf[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};
  const float scale_log2 = p.softmax_scale * 1.4426950408889634f;
  // Absolute positions of this thread's two rows.
  const int pos0 = prefix + m0 + warp * 16 + g, pos1 = pos0 + 8;

  for (int tile = tile_lo; tile < tile_hi; ++tile) {
    const int buf = (tile - tile_lo) & 1;
    if (tile + 1 < tile_hi) {
      load_kv(tile + 1, buf ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (tile == tile_lo) {
#pragma unroll
      for (int ks = 0; ks < D / 16; ++ks) {
        ldmatrix_x4(qf[ks], sQ + (warp * 16 + (lane & 15)) * LD + ks * 16 + (lane >> 4) * 8);
      }
    }
    const T* k_s = sK + buf * kBN * LD;
    const T* v_s = sV + buf * kBN * LD;

    // S = Q K^T for this warp's 16 rows x 64 keys.
    float s[kBN / 8][4];
#pragma unroll
    for (int i = 0; i < kBN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
      for (int np = 0; np < kBN / 16; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, k_s + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * LD + ks * 16 +
                           ((lane >> 3) & 1) * 8);
        mma16816<T>(s[2 * np], qf[ks], b[0], b[1]);
        mma16816<T>(s[2 * np + 1], qf[ks], b[2], b[3]);
      }
    }

    // Scale, mask, online softmax.
    const int n0 = tile * kBN;
    const bool need_mask = n0 + kBN > kv_len || (p.causal && n0 + kBN - 1 > prefix + m0) ||
                           (p.sliding_window > 0 && n0 <= last_row_pos - p.sliding_window);
    float mx[2] = {row_m[0], row_m[1]};
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        float v = s[nb][i] * scale_log2;
        if (need_mask) {
          const int j = n0 + nb * 8 + 2 * t + (i & 1);
          const int pos = i < 2 ? pos0 : pos1;
          const bool masked = j >= kv_len || (p.causal && j > pos) ||
                              (p.sliding_window > 0 && j <= pos - p.sliding_window);
          if (masked) v = -INFINITY;
        }
        s[nb][i] = v;
        mx[i >> 1] = fmaxf(mx[i >> 1], v);
      }
    }
    float corr[2], m_use[2];
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      mx[rr] = fmaxf(mx[rr], __shfl_xor_sync(0xffffffffu, mx[rr], 1));
      mx[rr] = fmaxf(mx[rr], __shfl_xor_sync(0xffffffffu, mx[rr], 2));
      m_use[rr] = mx[rr] == -INFINITY ? 0.f : mx[rr];
      corr[rr] = exp2f(row_m[rr] - m_use[rr]);  // row_m = -inf gives 0: nothing to rescale
      row_m[rr] = mx[rr];
      row_l[rr] *= corr[rr];
    }
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      o[i][0] *= corr[0];
      o[i][1] *= corr[0];
      o[i][2] *= corr[1];
      o[i][3] *= corr[1];
    }
#pragma unroll
    for (int nb = 0; nb < kBN / 8; ++nb) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float e = exp2f(s[nb][i] - m_use[i >> 1]);
        s[nb][i] = e;
        row_l[i >> 1] += e;
      }
    }

    // O += P V: P re-packed from the S accumulators as A fragments, V^T via ldmatrix.trans.
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t a[4];
      a[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      a[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      a[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      a[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_s + (kk * 16 + (lane & 15)) * LD + dp * 16 + (lane >> 4) * 8);
        mma16816<T>(o[2 * dp], a, b[0], b[1]);
        mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // the next iteration's loads overwrite the buffer read here
  }

  // Finish: full row sums, normalize, store rows < q_len.
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    row_l[rr] += __shfl_xor_sync(0xffffffffu, row_l[rr], 1);
    row_l[rr] += __shfl_xor_sync(0xffffffffu, row_l[rr], 2);
    row_l[rr] = row_l[rr] > 0.f ? 1.f / row_l[rr] : 0.f;
  }
  T* obase = static_cast<T*>(p.out) + static_cast<int64_t>(q0) * p.n_heads * D + int64_t{h} * D;
  const int row0 = m0 + warp * 16 + g;
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int row = row0 + rr * 8;
    if (row >= q_len) continue;
    T* orow = obase + static_cast<int64_t>(row) * p.n_heads * D;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      const uint32_t v = pack2<T>(o[i][2 * rr] * row_l[rr], o[i][2 * rr + 1] * row_l[rr]);
      *reinterpret_cast<uint32_t*>(orow + i * 8 + 2 * t) = v;
    }
  }
}

template <typename T, int D, int W>
core::Status launch(const PrefillAttentionParams& p, cudaStream_t stream) {
  constexpr int kBM = 16 * W;
  constexpr size_t smem = size_t{kBM + 4 * kBN} * (D + 8) * sizeof(T);
  static bool attr_set = false;  // per instantiation; benign race (idempotent call)
  if (!attr_set) {
    LLM_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(prefill_v1_kernel<T, D, W>,
                                                  cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                  static_cast<int>(smem)));
    attr_set = true;
  }
  const dim3 grid((p.max_q_len + kBM - 1) / kBM, p.n_heads, p.n_reqs);
  prefill_v1_kernel<T, D, W><<<grid, 32 * W, smem, stream>>>(p);
  return LLM_CUDA_CHECK_LAUNCH();
}

template <typename T, int W>
core::Status launch_d(const PrefillAttentionParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 16: return launch<T, 16, W>(p, stream);
    case 32: return launch<T, 32, W>(p, stream);
    case 64: return launch<T, 64, W>(p, stream);
    case 80: return launch<T, 80, W>(p, stream);
    case 96: return launch<T, 96, W>(p, stream);
    case 128: return launch<T, 128, W>(p, stream);
    default:
      return core::unimplemented("prefill_attention: head_dim {} (have 16, 32, 64, 80, 96, 128)",
                                 p.head_dim);
  }
}

}  // namespace

core::Status prefill_attention_v1(const PrefillAttentionParams& p, cudaStream_t stream) {
  const int rows = p.block_rows != 0 ? p.block_rows : (p.max_q_len >= 128 ? 128 : 64);
  LLM_DISPATCH_HALF("prefill_attention", p.dtype,
                    return rows == 128 ? launch_d<T, 8>(p, stream) : launch_d<T, 4>(p, stream));
  return {};
}

}  // namespace lightllm::kernels::cuda::prefill_detail
