// src/kernels/cuda/decode_attention.cu — split-K decode attention over token slots: the split
// rule, the launch of the two kernels (variant 2, the default: tensor cores, in
// decode_attention_mma.cuh; variant 1: the lane kernel below) and the reduction kernel.
// Lane kernel: block = 128 threads, one (request, cpb head chunks of HB query heads, split). The
// block is cut into lane groups of LG lanes (LG = next power of two >= D/E); a lane holds E = 8
// dims of one token as an 8-element chunk, so one K or V row is read with coalesced 16-byte
// copies (8-byte for int8). The groups are shared out among the block's cpb head chunks (1 unless
// the params ask: measured best); the groups of a chunk walk the split's tokens as interleaved
// streams, kU tokens at a time, through a kStages cp.async ring in shared memory (each lane
// reads back only its own copies), each with its own online softmax; groups are merged in
// shared memory. With one split the block writes the output row itself; otherwise the split's
// normalized partial output and log2-sum-exp go to the workspace for the reduction kernel.
#include "kernels/cuda/decode_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/decode_attention_mma.cuh"
#include "kernels/cuda/prefill_attention_mma.cuh"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMinChunk = 64;
constexpr int kMaxSplits = 128;
// Tokens a lane group loads per iteration (H200, run 3: 4 beats 2 by 10-50% and 8 by 2-8%).
constexpr int kTokensPerIter = 4;
constexpr int kStages = 3;  // K/V ring depth (cp.async)

template <typename KV>
constexpr size_t ring_bytes() {  // dynamic shared memory of decode_split_kernel
  return size_t{kStages} * kTokensPerIter * 2 * kThreads *
         (sizeof(KV) == 1 ? 8 + sizeof(float) : 16);
}
constexpr int kAutoChunksPerBlock = 1;  // head chunks per block when the params say 0
constexpr int kAutoVariant = 2;         // the tensor-core kernel when the params say 0

template <typename T>
struct Vec8 {  // 8 elements of T as one 16-byte load
  using Raw = uint4;
  __device__ static void to_float(const Raw& r, float (&f)[8]) {
    const T* e = reinterpret_cast<const T*>(&r);
#pragma unroll
    for (int i = 0; i < 8; ++i) f[i] = to_f32(e[i]);
  }
};
template <>
struct Vec8<int8_t> {  // 8 int8 as one 8-byte load
  using Raw = uint2;
  // int8 -> f32 without I2F: bias each byte by 128, splice it under the exponent of 2^23
  // (PRMT), subtract 2^23 + 128 (FADD).
  __device__ static void to_float(const Raw& r, float (&f)[8]) {
    const uint32_t w[2] = {r.x ^ 0x80808080u, r.y ^ 0x80808080u};
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int b = 0; b < 4; ++b) {
        f[4 * h + b] = __uint_as_float(__byte_perm(w[h], 0x4B000000u, 0x7540u | b)) - 8388736.f;
      }
    }
  }
};

constexpr int pow2_ceil(int x) {
  int p = 1;
  while (p < x) p *= 2;
  return p;
}

// Partial results: o [n_reqs, n_heads, n_splits, D] f32, then lse [n_reqs, n_heads, n_splits].
template <typename T, typename KV, int D, int HB, int E, int U>
__global__ void __launch_bounds__(kThreads)
    decode_split_kernel(DecodeAttentionParams p, int n_splits, int chunk, int cpb) {
  constexpr int kActive = D / E;  // lanes of a group that hold data
  constexpr int LG = pow2_ceil(kActive);
  constexpr int NG = kThreads / LG;
  constexpr int NV = E / 8;  // 8-element chunks per lane
  constexpr int kU = U;      // tokens per group per iteration
  static_assert(D % E == 0 && LG <= 32, "head_dim must split evenly over the lanes");
  static_assert(E == 8 && U == kTokensPerIter, "ring_bytes() sizes one 8-element chunk per lane");
  using V8 = Vec8<KV>;
  using Raw = typename V8::Raw;

  pdl_launch_dependents();
  // The block owns cpb head chunks (HB query heads each); the NG groups are cut into cpb
  // sets of ts = NG / cpb token streams: group grp serves chunk grp / ts, stream grp % ts.
  const int ts = NG / cpb;
  const int grp = threadIdx.x / LG, gl = threadIdx.x % LG;
  const int st = grp % ts;
  const int group_size = p.n_heads / p.n_kv_heads;
  const int head_chunk = blockIdx.x * cpb + grp / ts;  // global chunk of HB heads
  const int head0 = head_chunk * HB;
  const int kvh = head0 / group_size;
  const int r = blockIdx.y, split = blockIdx.z;
  const int len = p.kv_len[r];
  const int t_begin = split * chunk, t_end = min(len, t_begin + chunk);

  float* part_o = static_cast<float*>(p.workspace);
  float* part_lse = part_o + static_cast<size_t>(p.n_reqs) * p.n_heads * n_splits * D;
  const size_t block_row0 =
      (static_cast<size_t>(r) * p.n_heads + static_cast<size_t>(blockIdx.x) * cpb * HB) * n_splits +
      split;

  // One split: the block writes the final rows [r, head, :] of out (T) itself.
  T* const out_rows =
      static_cast<T*>(p.out) +
      (static_cast<size_t>(r) * p.n_heads + static_cast<size_t>(blockIdx.x) * cpb * HB) * D;
  if (t_begin >= t_end) {  // empty chunk: contributes nothing (one split: a zero row)
    if (n_splits == 1) {
      for (int j = threadIdx.x; j < cpb * HB * D; j += blockDim.x) out_rows[j] = from_f32<T>(0.f);
    } else {
      for (int j = threadIdx.x; j < cpb * HB; j += blockDim.x)
        part_lse[block_row0 + static_cast<size_t>(j) * n_splits] = -INFINITY;
    }
    return;
  }

  const bool active = gl < kActive;
  const float qscale = p.softmax_scale * 1.4426950408889634f;  // fold log2(e): exp2 below

  float q[HB][E];
  {
    const int64_t qs = p.q_stride ? p.q_stride : int64_t{p.n_heads} * D;
    const T* qrow = static_cast<const T*>(p.q) + r * qs;
#pragma unroll
    for (int j = 0; j < HB; ++j) {
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        uint4 raw = make_uint4(0, 0, 0, 0);
        if (active)
          raw = *reinterpret_cast<const uint4*>(qrow + (head0 + j) * D + (gl + i * kActive) * 8);
        float f[8];
        Vec8<T>::to_float(raw, f);
#pragma unroll
        for (int e = 0; e < 8; ++e) q[j][i * 8 + e] = f[e] * qscale;
      }
    }
  }

  float alibi[HB];  // slope * log2(e) per head (0 without ALiBi)
#pragma unroll
  for (int j = 0; j < HB; ++j)
    alibi[j] = p.alibi_slopes != nullptr ? p.alibi_slopes[head0 + j] * 1.4426950408889634f : 0.f;

  float m[HB], l[HB], acc[HB][E];
#pragma unroll
  for (int j = 0; j < HB; ++j) {
    m[j] = -INFINITY;
    l[j] = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[j][e] = 0.f;
  }

  const int32_t* row = p.req_to_token + static_cast<int64_t>(p.req_row[r]) * p.req_to_token_stride;
  const KV* kc = static_cast<const KV*>(p.k_cache);
  const KV* vc = static_cast<const KV*>(p.v_cache);

  // The loop bound is uniform per warp (shuffles below need all 32 lanes): every group of a
  // warp starts from the warp's first stream, and a group whose tokens are all past the end
  // sees only masked scores.
  constexpr int kGroupsPerWarp = 32 / LG;
  const int warp_st0 = ((grp / kGroupsPerWarp) * kGroupsPerWarp) % ts;
  const int stride = ts * kU;
  // Slot indices are prefetched an iteration before their loads are issued, so the K/V loads of an
  // iteration do not wait for a req_to_token load (-1: past the end of the chunk).
  int32_t next_slot[kU];
  auto fetch_slots = [&](int t0) {
#pragma unroll
    for (int u = 0; u < kU; ++u) next_slot[u] = t0 + u < t_end ? row[t0 + u] : -1;
  };
  // K/V rows (and int8 scales) stream through a kStages ring in shared memory by cp.async:
  // kStages - 1 iterations are in flight while one is scored and accumulated. Each lane reads
  // back only what it copied itself (no barrier). Rows of tokens past the end, and the lanes
  // of a group that hold no data, are zero-filled (a zero K/V never meets a NaN).
  // ring: Raw [kStages][kU][2 (K, V)][NV][kThreads]; int8 scales: f32 [kStages][kU][2][kThreads]
  extern __shared__ __align__(16) unsigned char s_ring_raw[];
  Raw* const ring = reinterpret_cast<Raw*>(s_ring_raw);
  float* const ring_scale = reinterpret_cast<float*>(ring + kStages * kU * 2 * NV * kThreads);
  auto ring_at = [&](int stage, int u, int kv, int i) {
    return ring + (((stage * kU + u) * 2 + kv) * NV + i) * kThreads + threadIdx.x;
  };
  auto scale_at = [&](int stage, int u, int kv) {
    return ring_scale + ((stage * kU + u) * 2 + kv) * kThreads + threadIdx.x;
  };
  uint32_t ok_bits = 0;  // bit stage * kU + u: that token is valid
  auto issue_loads = [&](int stage) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const bool ok = next_slot[u] >= 0;
      const uint32_t bit = 1u << (stage * kU + u);
      ok_bits = ok ? (ok_bits | bit) : (ok_bits & ~bit);
      const int64_t off = static_cast<int64_t>(ok ? next_slot[u] : 0) * p.n_kv_heads + kvh;
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        const KV* ksrc = kc + off * D + (gl + i * kActive) * 8;
        const KV* vsrc = vc + off * D + (gl + i * kActive) * 8;
        if constexpr (sizeof(Raw) == 16) {
          prefill_detail::cp_async16(ring_at(stage, u, 0, i), ksrc, ok && active);
          prefill_detail::cp_async16(ring_at(stage, u, 1, i), vsrc, ok && active);
        } else {
          prefill_detail::cp_async8(ring_at(stage, u, 0, i), ksrc, ok && active);
          prefill_detail::cp_async8(ring_at(stage, u, 1, i), vsrc, ok && active);
        }
      }
      if constexpr (sizeof(KV) == 1) {
        prefill_detail::cp_async4(scale_at(stage, u, 0), p.k_scale + off, ok);
        prefill_detail::cp_async4(scale_at(stage, u, 1), p.v_scale + off, ok);
      }
    }
    prefill_detail::cp_async_commit();
  };
  fetch_slots(t_begin + st * kU);
#pragma unroll
  for (int stage = 0; stage < kStages - 1; ++stage) {
    issue_loads(stage);
    fetch_slots(t_begin + st * kU + (stage + 1) * stride);
  }
  int stage = 0;
  for (int base = t_begin + warp_st0 * kU; base < t_end; base += stride) {
    const int t0 = base + (st - warp_st0) * kU;
    issue_loads(stage == 0 ? kStages - 1 : stage - 1);  // tokens t0 + (kStages - 1) * stride
    fetch_slots(t0 + kStages * stride);                 // their successors' slots
    prefill_detail::cp_async_wait<kStages - 1>();       // this stage has landed
    Raw kr[kU][NV], vr[kU][NV];
    bool ok[kU];
    float ks[kU], vs[kU];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      ok[u] = (ok_bits >> (stage * kU + u)) & 1u;
      ks[u] = 1.f;
      vs[u] = 1.f;
      if constexpr (sizeof(KV) == 1) {
        ks[u] = *scale_at(stage, u, 0);
        vs[u] = *scale_at(stage, u, 1);
      }
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        kr[u][i] = *ring_at(stage, u, 0, i);
        vr[u][i] = *ring_at(stage, u, 1, i);
      }
    }
    stage = stage + 1 == kStages ? 0 : stage + 1;
    float s[HB][kU];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      float d[HB];
#pragma unroll
      for (int j = 0; j < HB; ++j) d[j] = 0.f;
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        float kf[8];
        V8::to_float(kr[u][i], kf);
#pragma unroll
        for (int j = 0; j < HB; ++j) {
#pragma unroll
          for (int e = 0; e < 8; ++e) d[j] += q[j][i * 8 + e] * kf[e];
        }
      }
#pragma unroll
      for (int j = 0; j < HB; ++j) {
#pragma unroll
        for (int o = LG / 2; o > 0; o >>= 1) d[j] += __shfl_xor_sync(0xffffffffu, d[j], o);
        s[j][u] =
            ok[u] ? d[j] * ks[u] + alibi[j] * static_cast<float>(t0 + u - (len - 1)) : -INFINITY;
      }
    }
#pragma unroll
    for (int j = 0; j < HB; ++j) {
      float mx = m[j];
#pragma unroll
      for (int u = 0; u < kU; ++u) mx = fmaxf(mx, s[j][u]);
      const float corr = mx == -INFINITY ? 1.f : exp2f(m[j] - mx);
      m[j] = mx;
      l[j] *= corr;
#pragma unroll
      for (int e = 0; e < E; ++e) acc[j][e] *= corr;
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      float pv[HB];
#pragma unroll
      for (int j = 0; j < HB; ++j) {
        const float pj = s[j][u] == -INFINITY ? 0.f : exp2f(s[j][u] - m[j]);
        l[j] += pj;
        pv[j] = pj * vs[u];
      }
#pragma unroll
      for (int i = 0; i < NV; ++i) {
        float vf[8];
        V8::to_float(vr[u][i], vf);
#pragma unroll
        for (int j = 0; j < HB; ++j) {
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[j][i * 8 + e] += pv[j] * vf[e];
        }
      }
    }
  }

  // The ring's last kStages - 1 stages (tokens past the chunk: zero-fills) may still be in
  // flight; none may land after the block has exited.
  prefill_detail::cp_async_wait<0>();

  // Merge the NG groups: smem [NG][HB][D] accumulators + [NG][HB] (m, l).
  __shared__ float s_acc[NG][HB][D];
  __shared__ float s_m[NG][HB], s_l[NG][HB];
#pragma unroll
  for (int j = 0; j < HB; ++j) {
    if (active) {
#pragma unroll
      for (int i = 0; i < NV; ++i) {
#pragma unroll
        for (int e = 0; e < 8; ++e) s_acc[grp][j][(gl + i * kActive) * 8 + e] = acc[j][i * 8 + e];
      }
    }
    if (gl == 0) {
      s_m[grp][j] = m[j];
      s_l[grp][j] = l[j];
    }
  }
  __syncthreads();
  decode_detail::merge_streams_store<T, HB, D>(&s_acc[0][0][0], &s_m[0][0], &s_l[0][0], cpb, ts,
                                               n_splits, out_rows, part_o, part_lse, block_row0);
}

// One block per (head, request): merges the splits by log2-sum-exp.
template <typename T, int D>
__global__ void decode_reduce_kernel(DecodeAttentionParams p, int n_splits) {
  pdl_wait();  // launched early (PDL): the partials must be complete
  const int h = blockIdx.x, r = blockIdx.y;
  const float* part_o = static_cast<const float*>(p.workspace);
  const float* part_lse = part_o + static_cast<size_t>(p.n_reqs) * p.n_heads * n_splits * D;
  const size_t base = (static_cast<size_t>(r) * p.n_heads + h) * n_splits;
  float mx = -INFINITY;
  for (int s = 0; s < n_splits; ++s) mx = fmaxf(mx, part_lse[base + s]);
  T* out = static_cast<T*>(p.out) + (static_cast<size_t>(r) * p.n_heads + h) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0.f, w_sum = 0.f;
    if (mx != -INFINITY) {
      for (int s = 0; s < n_splits; ++s) {
        const float lse = part_lse[base + s];
        if (lse == -INFINITY) continue;
        const float w = exp2f(lse - mx);
        w_sum += w;
        o += w * part_o[(base + s) * D + d];
      }
      o /= w_sum;
    }
    out[d] = from_f32<T>(o);
  }
}

int sm_count_of_current_device() {
  static int cached[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 132;
  if (cached[dev] == 0) {
    int n = 0;
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    cached[dev] = n > 0 ? n : 132;
  }
  return cached[dev];
}

// Lanes holding one token's row (E = 8 dims per lane, rounded up to a power of two).
int lanes_per_token(int head_dim) {
  return pow2_ceil((head_dim + 7) / 8);
}

int heads_per_block(int group_size) {
  if (group_size % 8 == 0) return 8;
  if (group_size % 4 == 0) return 4;
  return 1;
}

// Sets the dynamic shared memory limit of `kernel` once per device (devices < 64).
template <auto kKernel>
void set_smem_attr_once(size_t bytes) {
  static std::atomic<uint64_t> attr_done{0};
  int dev = 0;
  cudaGetDevice(&dev);
  const uint64_t bit = dev < 64 ? uint64_t{1} << dev : 0;
  if (bit == 0 || !(attr_done.load() & bit)) {
    cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         static_cast<int>(bytes));
    attr_done.fetch_or(bit);
  }
}

template <typename T, typename KV, int D, int HB>
void launch_typed(const DecodeAttentionParams& p, int variant, int n_splits, int cpb,
                  cudaStream_t stream) {
  const int chunk = (p.max_kv_len + n_splits - 1) / n_splits;
  if (variant == 2) {
    constexpr auto kernel = decode_detail::decode_mma_kernel<T, KV, D, HB>;
    constexpr size_t smem = decode_detail::mma_smem_bytes<KV, D, HB>();
    set_smem_attr_once<kernel>(smem);
    kernel<<<dim3(p.n_heads / HB, p.n_reqs, n_splits), decode_detail::kMmaWarps * 32, smem,
             stream>>>(p, n_splits, chunk);
  } else {
    const dim3 grid(p.n_heads / HB / cpb, p.n_reqs, n_splits);
    // E = 8 for every head chunk: measured on an H200 (docs/PERFORMANCE.md, runs 1 and 2), E = 16
    // for HB <= 4 was 3-11% slower at batch >= 32, so it stays a tuning option only.
    constexpr int kE = 8;
    constexpr auto kernel = decode_split_kernel<T, KV, D, HB, kE, kTokensPerIter>;
    set_smem_attr_once<kernel>(ring_bytes<KV>());
    kernel<<<grid, kThreads, ring_bytes<KV>(), stream>>>(p, n_splits, chunk, cpb);
  }
  if (n_splits > 1) {  // one split: the split kernel wrote the output itself
    // Programmatic dependent launch (pdl.cuh): the reduction's launch overlaps the split kernel
    // (it waits for the partials itself), saving a launch gap at batch 1.
    launch_pdl(decode_reduce_kernel<T, D>, dim3(p.n_heads, p.n_reqs), dim3(128), 0, stream, p,
               n_splits);
  }
}

template <typename T, typename KV, int D>
void launch_hb(const DecodeAttentionParams& p, int variant, int n_splits, int cpb,
               cudaStream_t stream) {
  switch (heads_per_block(p.n_heads / p.n_kv_heads)) {
    case 8: launch_typed<T, KV, D, 8>(p, variant, n_splits, cpb, stream); break;
    case 4: launch_typed<T, KV, D, 4>(p, variant, n_splits, cpb, stream); break;
    default: launch_typed<T, KV, D, 1>(p, variant, n_splits, cpb, stream); break;
  }
}

template <typename T, typename KV>
core::Status launch_d(const DecodeAttentionParams& p, int variant, int n_splits, int cpb,
                      cudaStream_t stream) {
  switch (p.head_dim) {
    case 16: launch_hb<T, KV, 16>(p, variant, n_splits, cpb, stream); break;
    case 32: launch_hb<T, KV, 32>(p, variant, n_splits, cpb, stream); break;
    case 64: launch_hb<T, KV, 64>(p, variant, n_splits, cpb, stream); break;
    case 80: launch_hb<T, KV, 80>(p, variant, n_splits, cpb, stream); break;
    case 96: launch_hb<T, KV, 96>(p, variant, n_splits, cpb, stream); break;
    case 128: launch_hb<T, KV, 128>(p, variant, n_splits, cpb, stream); break;
    default:
      return core::unimplemented("decode_attention: head_dim {} (have 16, 32, 64, 80, 96, 128)",
                                 p.head_dim);
  }
  return {};
}

}  // namespace

int decode_attention_variant(const DecodeAttentionParams& p) {
  return p.variant == 1 || p.variant == 2 ? p.variant : kAutoVariant;
}

int decode_attention_chunks_per_block(const DecodeAttentionParams& p) {
  if (decode_attention_variant(p) == 2) return 1;  // the tensor-core kernel: one head chunk
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.head_dim <= 0) return 1;
  const int n_chunks = p.n_heads / heads_per_block(std::max(1, p.n_heads / p.n_kv_heads));
  const int groups = kThreads / lanes_per_token(p.head_dim);
  int want = p.chunks_per_block > 0 ? p.chunks_per_block : kAutoChunksPerBlock;
  want = std::min(want, groups);
  while (want > 1 && n_chunks % want != 0) want /= 2;  // powers of two dividing both
  return std::max(1, want);
}

int decode_attention_splits(const DecodeAttentionParams& p) {
  if (p.n_splits > 0) return std::min(p.n_splits, kMaxSplits);
  const int max_by_len = std::max(1, (p.max_kv_len + kMinChunk - 1) / kMinChunk);
  const int hb = heads_per_block(std::max(1, p.n_heads / std::max(1, p.n_kv_heads)));
  // Blocks are long-lived (their fixed cost, q load to partial write, is worth ~100 tokens,
  // and one split skips the reduction kernel): as few splits as give every SM a block, with
  // chunks a multiple of kMinChunk tokens (H200, docs/PERFORMANCE.md run 3: one split at batch
  // >= 32 beat 2-3 by 5-15%; batch 1 x 4k: 16 splits 21.6 us, 17 splits 24.8 us).
  const int64_t base = int64_t{std::max(1, p.n_reqs)} * std::max(1, p.n_heads / hb) /
                       decode_attention_chunks_per_block(p);  // blocks per split
  const int64_t sms = sm_count_of_current_device();
  const int64_t by_sms = std::min<int64_t>((sms + base - 1) / base, max_by_len);
  const int64_t chunk = (p.max_kv_len + by_sms - 1) / by_sms;
  const int64_t chunk_rounded = (chunk + kMinChunk - 1) / kMinChunk * kMinChunk;
  const int want = static_cast<int>((p.max_kv_len + chunk_rounded - 1) / chunk_rounded);
  return std::clamp(want, 1, std::min(max_by_len, kMaxSplits));
}

size_t decode_attention_workspace_bytes(const DecodeAttentionParams& p) {
  const size_t rows = static_cast<size_t>(std::max(0, p.n_reqs)) * std::max(0, p.n_heads) *
                      decode_attention_splits(p);
  return rows * (static_cast<size_t>(std::max(0, p.head_dim)) + 1) * sizeof(float);
}

core::Status decode_attention(const DecodeAttentionParams& p, cudaStream_t stream) {
  if (p.q == nullptr || p.k_cache == nullptr || p.v_cache == nullptr || p.req_to_token == nullptr ||
      p.req_row == nullptr || p.kv_len == nullptr || p.out == nullptr ||
      (p.kv_int8 && (p.k_scale == nullptr || p.v_scale == nullptr))) {
    return core::invalid_argument("decode_attention: null pointer");
  }
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.n_reqs < 0 ||
      p.max_kv_len < 0 || p.req_to_token_stride < p.max_kv_len) {
    return core::invalid_argument(
        "decode_attention: bad shape n_heads={} n_kv_heads={} max_kv_len={} req_to_token_stride={}",
        p.n_heads, p.n_kv_heads, p.max_kv_len, p.req_to_token_stride);
  }
  if (p.n_reqs == 0) return {};
  if (p.workspace_bytes < decode_attention_workspace_bytes(p) || p.workspace == nullptr) {
    return core::invalid_argument("decode_attention: workspace of {} bytes, need {}",
                                  p.workspace_bytes, decode_attention_workspace_bytes(p));
  }
  const int n_splits = decode_attention_splits(p);
  const int cpb = decode_attention_chunks_per_block(p);
  const int variant = decode_attention_variant(p);
  if (p.kv_int8) {
    LLM_DISPATCH_HALF(
        "decode_attention", p.dtype,
        LLM_RETURN_IF_ERROR((launch_d<T, int8_t>(p, variant, n_splits, cpb, stream))));
  } else {
    LLM_DISPATCH_HALF("decode_attention", p.dtype,
                      LLM_RETURN_IF_ERROR((launch_d<T, T>(p, variant, n_splits, cpb, stream))));
  }
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
