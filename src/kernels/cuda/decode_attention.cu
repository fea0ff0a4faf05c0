// src/kernels/cuda/decode_attention.cu — split-K decode attention over token slots: the split
// rule, the launch of the tensor-core split kernel (decode_attention_mma.cuh) and the reduction
// kernel that merges the splits by their log2-sum-exp (none with one split, where the split
// kernel writes the output itself). Both are programmatic dependent launches on sm_90+.
#include "kernels/cuda/decode_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/decode_attention_mma.cuh"

namespace lightllm::kernels::cuda {
namespace {

using decode_detail::kMaxResident, decode_detail::kMmaTile, decode_detail::kMmaWarps,
    decode_detail::kWideWarps;

constexpr int kMinChunk = 64;
constexpr int kMaxSplits = 128;

constexpr int kReduceBatch = 16;  // splits whose partials the reduction loads at once

// One block per (head, request): merges the splits by log2-sum-exp, in one pass over them,
// kReduceBatch at a time: a batch's log-sum-exps and partials are loaded together (one L2 round
// trip, where the maxima and then the sums took two), and the running sums are rescaled when the
// maximum grows. The next kernel (the o projection) is scheduled right after the wait, so its
// blocks' first weight loads overlap the merge's one round trip (docs/PERFORMANCE.md run 27:
// −0.2% / −0.3% a batch-1 step against a trigger at the end, which run 22 had preferred while the
// merge made two dependent round trips; before the wait it cost 2.4%, run 22).

template <typename T, int D>
__global__ void decode_reduce_kernel(DecodeAttentionParams p, int n_splits) {
  pdl_wait();  // launched early (PDL): the partials must be complete
  pdl_launch_dependents();
  const int h = blockIdx.x, r = blockIdx.y;
  const float* part_o = static_cast<const float*>(p.workspace);
  const float* part_lse = part_o + static_cast<size_t>(p.n_reqs) * p.n_heads * n_splits * D;
  const size_t base = (static_cast<size_t>(r) * p.n_heads + h) * n_splits;
  T* out = static_cast<T*>(p.out) + (static_cast<size_t>(r) * p.n_heads + h) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float mx = -INFINITY, w_sum = 0.f, o = 0.f;  // o and w_sum relative to exp2(mx)
    for (int s0 = 0; s0 < n_splits; s0 += kReduceBatch) {
      float lse[kReduceBatch], po[kReduceBatch];
#pragma unroll
      for (int i = 0; i < kReduceBatch; ++i) {
        const bool in = s0 + i < n_splits;
        lse[i] = in ? part_lse[base + s0 + i] : -INFINITY;
        po[i] = in ? part_o[(base + s0 + i) * D + d] : 0.f;
      }
      float bmx = mx;
#pragma unroll
      for (int i = 0; i < kReduceBatch; ++i) bmx = fmaxf(bmx, lse[i]);
      if (bmx == -INFINITY) continue;       // no split so far saw a token
      const float scale = exp2f(mx - bmx);  // 0 while mx is -inf
      w_sum *= scale;
      o *= scale;
#pragma unroll
      for (int i = 0; i < kReduceBatch; ++i) {
        if (lse[i] == -INFINITY) continue;  // an empty split: its partial row is not written
        const float w = exp2f(lse[i] - bmx);
        w_sum += w;
        o += w * po[i];
      }
      mx = bmx;
    }
    out[d] = from_f32<T>(mx == -INFINITY ? 0.f : o / w_sum);
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

int heads_per_block(int group_size) {
  if (group_size % 8 == 0) return 8;
  if (group_size % 4 == 0) return 4;
  return 1;
}

// Blocks of the split kernel per split: a request's head groups (heads_per_block of its heads
// share one kv head's K/V).
int64_t blocks_per_split(const DecodeAttentionParams& p) {
  const int hb = heads_per_block(std::max(1, p.n_heads / std::max(1, p.n_kv_heads)));
  return int64_t{std::max(1, p.n_reqs)} * std::max(1, p.n_heads / hb);
}

// Whether n_splits splits make a small grid: at most half the SMs' worth of blocks.
bool grid_is_small(const DecodeAttentionParams& p, int n_splits) {
  return 2 * blocks_per_split(p) * n_splits <= sm_count_of_current_device();
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

template <typename T, typename KV, int D, int HB, int kResident, int kWarps = kMmaWarps>
void launch_split(const DecodeAttentionParams& p, int n_splits, int chunk, cudaStream_t stream) {
  constexpr auto kernel = decode_detail::decode_mma_kernel<T, KV, D, HB, kResident, kWarps>;
  constexpr size_t smem = decode_detail::mma_smem_bytes<KV, D, HB, kResident, kWarps>();
  set_smem_attr_once<kernel>(smem);
  // The next kernel (the reduction, or the o projection after one split) is scheduled at the
  // split kernel's start, except after one split of more than 64 resident tokens at batch 1 (the
  // split rule's one-split case): scheduled at the start, the o projection's weight loads slowed
  // the QKV GEMV still running (docs/PERFORMANCE.md run 28: Llama-2-7B 4.740 ms a step against
  // 4.726 after the wait; Llama-3-8B 5.197 against 5.213, the one shape that lost).
  const bool dependents_after_wait =
      kResident * kWarps > kMmaWarps && n_splits == 1 && p.n_reqs == 1;
  launch_pdl(kernel, dim3(p.n_heads / HB, p.n_reqs, n_splits), dim3(kWarps * 32), smem, stream, p,
             n_splits, chunk, dependents_after_wait);
}

template <typename T, typename KV, int D, int HB>
void launch_typed(const DecodeAttentionParams& p, int n_splits, cudaStream_t stream) {
  const int chunk = (p.max_kv_len + n_splits - 1) / n_splits;
  // Programmatic dependent launches (pdl.cuh): the split kernel's launch overlaps the previous
  // kernel of the step (rotary + KV store), the reduction's the split kernel; each waits for its
  // inputs itself, saving launch gaps at batch 1. Chunks of at most one tile per warp keep it
  // resident, and so do chunks of 2 tiles a warp in a small grid: over 4 warps up to 128 tokens,
  // over 8 warps up to 256 (35 KB of shared memory a tile per warp at head_dim 128: 139 KB at
  // 8 x 2); the cached tokens' K/V are then copied before the wait. Longer chunks stream through
  // the ring.
  const bool small = grid_is_small(p, n_splits);
  if (chunk <= kMmaWarps * kMmaTile)
    launch_split<T, KV, D, HB, 1>(p, n_splits, chunk, stream);
  else if (chunk <= kMaxResident * kMmaWarps * kMmaTile && small)
    launch_split<T, KV, D, HB, kMaxResident>(p, n_splits, chunk, stream);
  else if (chunk <= kMaxResident * kWideWarps * kMmaTile && small)
    launch_split<T, KV, D, HB, kMaxResident, kWideWarps>(p, n_splits, chunk, stream);
  else
    launch_split<T, KV, D, HB, 0>(p, n_splits, chunk, stream);
  if (n_splits > 1)  // one split: the split kernel wrote the output itself
    launch_pdl(decode_reduce_kernel<T, D>, dim3(p.n_heads, p.n_reqs), dim3(128), 0, stream, p,
               n_splits);
}

template <typename T, typename KV, int D>
void launch_hb(const DecodeAttentionParams& p, int n_splits, cudaStream_t stream) {
  switch (heads_per_block(p.n_heads / p.n_kv_heads)) {
    case 8: launch_typed<T, KV, D, 8>(p, n_splits, stream); break;
    case 4: launch_typed<T, KV, D, 4>(p, n_splits, stream); break;
    default: launch_typed<T, KV, D, 1>(p, n_splits, stream); break;
  }
}

template <typename T, typename KV>
core::Status launch_d(const DecodeAttentionParams& p, int n_splits, cudaStream_t stream) {
  switch (p.head_dim) {
    case 16: launch_hb<T, KV, 16>(p, n_splits, stream); break;
    case 32: launch_hb<T, KV, 32>(p, n_splits, stream); break;
    case 64: launch_hb<T, KV, 64>(p, n_splits, stream); break;
    case 80: launch_hb<T, KV, 80>(p, n_splits, stream); break;
    case 96: launch_hb<T, KV, 96>(p, n_splits, stream); break;
    case 128: launch_hb<T, KV, 128>(p, n_splits, stream); break;
    default:
      return core::unimplemented("decode_attention: head_dim {} (have 16, 32, 64, 80, 96, 128)",
                                 p.head_dim);
  }
  return {};
}

}  // namespace

int decode_attention_splits(const DecodeAttentionParams& p) {
  if (p.n_splits > 0) return std::min(p.n_splits, kMaxSplits);
  // Batch 1, 129-256 tokens, a small grid: one split, 8 warps of 2 tiles resident in shared
  // memory. Its blocks are scheduled at the QKV GEMV's start and copy the cached K/V before
  // their wait, and no reduction kernel runs (docs/PERFORMANCE.md run 28: batch-1 steps 1.2-1.6%
  // faster than with 4 one-tile splits, then 4 warps of 4 tiles; run 29: 8 warps of 2 tiles
  // 0.2-0.6% faster still, and with int8 K/V 1.7% faster than 4 splits, where 4 tiles a warp had
  // lost 2.6%). Up to 128 tokens (+0.3-0.4%) and batch 4 (+0.8-2%) lost with 4 tiles a warp, so
  // they keep the rule below.
  if (p.n_reqs == 1 && p.max_kv_len > kMaxResident * kMmaWarps * kMmaTile &&
      p.max_kv_len <= kMaxResident * kWideWarps * kMmaTile && grid_is_small(p, 1))
    return 1;
  const int max_by_len = std::max(1, (p.max_kv_len + kMinChunk - 1) / kMinChunk);
  // Blocks are long-lived (their fixed cost, q load to partial write, is worth ~100 tokens,
  // and one split skips the reduction kernel): as few splits as give every SM a block, with
  // chunks a multiple of kMinChunk tokens (H200, docs/PERFORMANCE.md run 3: one split at batch
  // >= 32 beat 2-3 by 5-15%; batch 1 x 4k: 16 splits 21.6 us, 17 splits 24.8 us). H100, run 8:
  // the best of 1-64 forced splits on every issue shape, bf16 and int8 (batch 1: 8 and 16 tie).
  // Run 18: a short second split to even out the SMs' ends at batch >= 32 lost (the reduction
  // kernel costs ~2.7 us a launch at 32 x 1k, and without it the balance gained nothing).
  const int64_t base = blocks_per_split(p);
  const int64_t sms = sm_count_of_current_device();
  const int64_t by_sms = std::min<int64_t>((sms + base - 1) / base, max_by_len);
  const int64_t chunk = (p.max_kv_len + by_sms - 1) / by_sms;
  const int64_t chunk_rounded = (chunk + kMinChunk - 1) / kMinChunk * kMinChunk;
  const int want = static_cast<int>((p.max_kv_len + chunk_rounded - 1) / chunk_rounded);
  return std::clamp(want, 1, std::min(max_by_len, kMaxSplits));
}

bool decode_attention_grid_is_small(const DecodeAttentionParams& p) {
  return grid_is_small(p, decode_attention_splits(p));
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
  if (p.kv_int8) {
    LLM_DISPATCH_HALF("decode_attention", p.dtype,
                      LLM_RETURN_IF_ERROR((launch_d<T, int8_t>(p, n_splits, stream))));
  } else {
    LLM_DISPATCH_HALF("decode_attention", p.dtype,
                      LLM_RETURN_IF_ERROR((launch_d<T, T>(p, n_splits, stream))));
  }
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
