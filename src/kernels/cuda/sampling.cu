// src/kernels/cuda/sampling.cu — device sampling (see sampling.h for the semantics).
// Batches of plain greedy rows take the split arg max (argmax_split_kernel). Otherwise one block
// of kThreads threads per row; every phase is a block-wide loop over the row, so the
// row's logits stay hot in L1/L2 across phases. Phases: raw log-sum-exp (logprobs only),
// penalties + masks in place, then greedy argmax or max → top-k select → top-p select →
// segmented inverse-CDF draw.
#include <cub/block/block_scan.cuh>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/sampling.h"
#include "kernels/philox.h"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kBins = 2048;  // 11-bit radix digits: passes over bits 31..21, 20..10, 9..0
constexpr int kBinsPerThread = kBins / kThreads;
static_assert(kBinsPerThread == 2, "the descending-bin scan gives each thread two bins");

using IntScan = cub::BlockScan<int, kThreads>;
using FloatScan = cub::BlockScan<float, kThreads>;
using DoubleScan = cub::BlockScan<double, kThreads>;

struct Smem {
  union {
    typename IntScan::TempStorage i;
    typename FloatScan::TempStorage f;
    typename DoubleScan::TempStorage d;
  } scan;
  int hist_count[kBins];
  float hist_mass[kBins];
  float red_f[32];
  int red_i[32];
  int sel_pos;   // descending position of the bin the target falls in (INT_MAX: none)
  int last_pos;  // descending position of the last non-empty bin
  float sel_above_mass;
  int sel_above_count;
  int sel_count;
  int token;
  int last_kept;
  float raw;
};

// Order-preserving map of a float to uint32 (larger float → larger key); -0 is +0.
__device__ __forceinline__ uint32_t order_key(float x) {
  if (x == 0.0f) x = 0.0f;
  const uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ float block_max(float v, Smem& s) {
  v = warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) s.red_f[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? s.red_f[lane] : -INFINITY;
  return warp_max(v);
}

// (value, id) with the larger value, the lower id on equal values.
__device__ __forceinline__ void keep_better(float& v, int& i, float v2, int i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

// The warp's best (value, id) by keep_better, in every lane.
__device__ __forceinline__ void warp_keep_best(float& v, int& i) {
  for (int o = 16; o > 0; o >>= 1)
    keep_better(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
}

__device__ int block_argmax(float v, int i, Smem& s) {
  warp_keep_best(v, i);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) {
    s.red_f[warp] = v;
    s.red_i[warp] = i;
  }
  __syncthreads();
  v = s.red_f[lane];  // kThreads / 32 == 32 warps: every lane has one
  i = s.red_i[lane];
  warp_keep_best(v, i);
  return i;
}

// Greedy: the arg max of logits[0, V) (lowest id on ties, so the order of the reads does not
// matter). 16-byte loads, kU of them in flight per thread, when the row allows: the single
// block otherwise waits on ~V / kThreads dependent rounds of 4-byte loads (9 us for a 128k
// vocabulary on H100; docs/PERFORMANCE.md run 22).
__device__ int row_argmax(const float* logits, int64_t V, Smem& s) {
  float bv = -INFINITY;
  int bi = INT_MAX;
  auto keep4 = [&](const float4& v, int64_t first) {
    const int b = static_cast<int>(first);
    keep_better(bv, bi, v.x, b);
    keep_better(bv, bi, v.y, b + 1);
    keep_better(bv, bi, v.z, b + 2);
    keep_better(bv, bi, v.w, b + 3);
  };
  if (V % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0) {
    constexpr int kU = 4;
    const float4* l4 = reinterpret_cast<const float4*>(logits);
    const int64_t n4 = V / 4;
    int64_t i = threadIdx.x;
    for (; i + (kU - 1) * kThreads < n4; i += kU * kThreads) {
      float4 v[kU];
#pragma unroll
      for (int u = 0; u < kU; ++u) v[u] = l4[i + u * kThreads];
#pragma unroll
      for (int u = 0; u < kU; ++u) keep4(v[u], 4 * (i + u * kThreads));
    }
    for (; i < n4; i += kThreads) keep4(l4[i], 4 * i);
  } else {
    for (int64_t i = threadIdx.x; i < V; i += kThreads)
      keep_better(bv, bi, logits[i], static_cast<int>(i));
  }
  return block_argmax(bv, bi, s);
}

struct Selected {
  uint32_t key = 0;        // the selected key
  float above_mass = 0.f;  // mass of candidates with a larger key (by-mass selection)
  int above_count = 0;     // candidates with a larger key
  int count = 0;           // candidates with exactly this key
  bool found = false;      // false: the target was never reached (rounding); key = smallest
};

// Radix select over the candidates of a row. elem(i, key, mass) says whether element i is a
// candidate and gives its key (and its softmax mass when kByMass). Finds the key K where the
// target falls when candidates are walked from the largest key down:
//   by count: above_count < target_count <= above_count + count   (the target-th largest key)
//   by mass:  above_mass  < target_mass  <= above_mass + mass(K)
template <bool kByMass, typename Elem>
__device__ Selected radix_select(Smem& s, int64_t n, const Elem& elem, float target_mass,
                                 int target_count) {
  Selected out;
  out.found = true;
  uint32_t prefix = 0, mask = 0;
#pragma unroll
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass == 0 ? 21 : pass == 1 ? 10 : 0;
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      s.hist_count[b] = 0;
      s.hist_mass[b] = 0.f;
    }
    if (threadIdx.x == 0) {
      s.sel_pos = INT_MAX;
      s.last_pos = -1;
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      uint32_t key;
      float mass;
      if (!elem(i, key, mass) || (key & mask) != prefix) continue;
      const int bin = static_cast<int>((key >> shift) & (kBins - 1));
      atomicAdd(&s.hist_count[bin], 1);
      if constexpr (kByMass) atomicAdd(&s.hist_mass[bin], mass);
    }
    __syncthreads();
    // Thread t owns the bins at descending positions 2t and 2t + 1 (bin = kBins - 1 - pos).
    int cnt[kBinsPerThread], cnt_before[kBinsPerThread];
    float ms[kBinsPerThread], ms_before[kBinsPerThread] = {0.f, 0.f};
#pragma unroll
    for (int j = 0; j < kBinsPerThread; ++j) {
      const int bin = kBins - 1 - (kBinsPerThread * static_cast<int>(threadIdx.x) + j);
      cnt[j] = s.hist_count[bin];
      ms[j] = s.hist_mass[bin];
    }
    IntScan(s.scan.i).ExclusiveSum(cnt, cnt_before);
    __syncthreads();
    if constexpr (kByMass) FloatScan(s.scan.f).ExclusiveSum(ms, ms_before);
#pragma unroll
    for (int j = 0; j < kBinsPerThread; ++j) {
      if (cnt[j] == 0) continue;
      const int pos = kBinsPerThread * static_cast<int>(threadIdx.x) + j;
      atomicMax(&s.last_pos, pos);
      bool hit;
      if constexpr (kByMass) {
        const float before = out.above_mass + ms_before[j];
        hit = before < target_mass && target_mass <= before + ms[j];
      } else {
        const int before = out.above_count + cnt_before[j];
        hit = before < target_count && target_count <= before + cnt[j];
      }
      if (hit) atomicMin(&s.sel_pos, pos);
    }
    __syncthreads();
    if (s.last_pos < 0) {  // no candidates at all (uniform across the block)
      out.found = false;
      out.count = 0;
      out.key = prefix;
      return out;
    }
    const bool hit = s.sel_pos != INT_MAX;
    const int pos = hit ? s.sel_pos : s.last_pos;
    if (static_cast<int>(threadIdx.x) == pos / kBinsPerThread) {
      const int j = pos % kBinsPerThread;
      s.sel_above_mass = kByMass ? ms_before[j] : 0.f;
      s.sel_above_count = cnt_before[j];
      s.sel_count = cnt[j];
    }
    __syncthreads();
    out.found = out.found && hit;
    out.above_mass += s.sel_above_mass;
    out.above_count += s.sel_above_count;
    out.count = s.sel_count;
    prefix |= static_cast<uint32_t>(kBins - 1 - pos) << shift;
    mask |= static_cast<uint32_t>(kBins - 1) << shift;
    __syncthreads();  // everyone has read the results before the next pass resets them
  }
  out.key = prefix;
  return out;
}

// The token drawn for a do_sample row (logits already penalised and masked).
__device__ int draw_row(Smem& s, const float* logits, int64_t V, const SampleRow& row) {
  const float inv_t = __fdiv_rn(1.0f, row.temperature);  // the host's 1.0f / temperature
  auto value = [&](int64_t i) { return __fmul_rn(logits[i], inv_t); };
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < V; i += kThreads) m = fmaxf(m, value(i));
  m = block_max(m, s);
  if (m == -INFINITY) return 0;  // everything masked: the host's draw also ends at id 0

  // top-k: keep x >= the k-th largest x (ties at the threshold stay, as HF).
  uint32_t k_key = 0;
  if (row.top_k > 0 && row.top_k < V) {
    auto all = [&](int64_t i, uint32_t& key, float& mass) {
      key = order_key(value(i));
      mass = 0.f;
      return true;
    };
    k_key = radix_select<false>(s, V, all, 0.f, row.top_k).key;
  }
  auto kept_k = [&](int64_t i, float& x) {
    x = value(i);
    return x != -INFINITY && order_key(x) >= k_key;
  };

  // top-p: keep a token when the mass of the tokens after it in descending (value, id) order
  // is below top_p * total, i.e. key > p_key, or key == p_key and id >= p_id.
  bool p_on = row.top_p < 1.0f;
  uint32_t p_key = 0, p_id = 0;
  if (p_on) {
    float total = 0.f;
    for (int64_t i = threadIdx.x; i < V; i += kThreads) {
      float x;
      if (kept_k(i, x)) total += expf(x - m);
    }
    total = block_sum(total);
    const float target = row.top_p * total;
    auto cand = [&](int64_t i, uint32_t& key, float& mass) {
      float x;
      if (!kept_k(i, x)) return false;
      key = order_key(x);
      mass = expf(x - m);
      return true;
    };
    const Selected sel = radix_select<true>(s, V, cand, target, 0);
    if (!sel.found) {
      p_on = false;  // rounding left the target unreached: nothing is cut
    } else {
      p_key = sel.key;
      // Tokens sharing the boundary value: the highest ids come first in the host's order;
      // keep the r of them whose predecessors' mass is still below the target.
      const float e = expf(key_value(p_key) - m);
      const float need = (target - sel.above_mass) / e;
      const int r =
          need >= static_cast<float>(sel.count) ? sel.count : max(1, static_cast<int>(ceilf(need)));
      if (r < sel.count) {
        auto tie = [&](int64_t i, uint32_t& key, float& mass) {
          float x;
          if (!kept_k(i, x) || order_key(x) != p_key) return false;
          key = static_cast<uint32_t>(i);
          mass = 0.f;
          return true;
        };
        p_id = radix_select<false>(s, V, tie, 0.f, r).key;
      }
    }
  }
  auto kept = [&](int64_t i, float& x) {
    if (!kept_k(i, x)) return false;
    if (!p_on) return true;
    const uint32_t k = order_key(x);
    return k > p_key || (k == p_key && static_cast<uint32_t>(i) >= p_id);
  };

  // Inverse CDF in id order: thread t owns ids [t * seg, (t + 1) * seg); a block scan of the
  // segment masses finds the segment holding u, whose owner walks it.
  const int64_t seg = (V + kThreads - 1) / kThreads;
  const int64_t b0 = static_cast<int64_t>(threadIdx.x) * seg;
  const int64_t b1 = min(V, b0 + seg);
  double sum = 0.0;
  int last = -1;
  for (int64_t i = b0; i < b1; ++i) {
    float x;
    if (kept(i, x)) {
      sum += static_cast<double>(expf(x - m));
      last = static_cast<int>(i);
    }
  }
  double before = 0.0, total = 0.0;
  if (threadIdx.x == 0) {
    s.token = INT_MAX;
    s.last_kept = -1;
  }
  __syncthreads();
  DoubleScan(s.scan.d).ExclusiveSum(sum, before, total);
  const double u = philox_uniform01(row.seed, row.counter) * total;
  if (last >= 0) atomicMax(&s.last_kept, last);
  if (sum > 0.0 && before <= u && u < before + sum) {
    double cum = before;
    int found = last;
    for (int64_t i = b0; i < b1; ++i) {
      float x;
      if (!kept(i, x)) continue;
      cum += static_cast<double>(expf(x - m));
      if (u < cum) {
        found = static_cast<int>(i);
        break;
      }
    }
    atomicMin(&s.token, found);
  }
  __syncthreads();
  if (s.token != INT_MAX) return s.token;
  return s.last_kept >= 0 ? s.last_kept : 0;  // rounding at the very end of the CDF
}

__global__ void __launch_bounds__(kThreads) sample_kernel(SampleParams p) {
  __shared__ Smem s;
  pdl_launch_dependents();  // the next step's upload may read the host meanwhile
  const int64_t r = blockIdx.x;
  const SampleRow row = p.rows[r];
  float* logits = p.logits + r * p.vocab;  // [vocab]
  const int64_t V = p.vocab;

  // 1. log-sum-exp of the raw logits (the reported logprob ignores every processing step).
  float lse = 0.f;
  if (p.out_logprobs != nullptr) {
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < V; i += kThreads) mx = fmaxf(mx, logits[i]);
    mx = block_max(mx, s);
    float sum = 0.f;
    for (int64_t i = threadIdx.x; i < V; i += kThreads) sum += expf(logits[i] - mx);
    sum = block_sum(sum);
    lse = mx + logf(sum);
  }
  __syncthreads();  // the raw row is read before the penalties change it

  // 2. repetition penalty on prompt ∪ output, presence/frequency on output (host order; the
  //    arithmetic is the host's, rounded the same way), then the min_new_tokens stop mask.
  const bool rep = row.repetition_penalty != 1.0f;
  const bool pres_freq = row.presence_penalty != 0.0f || row.frequency_penalty != 0.0f;
  for (int j = row.pen_begin + static_cast<int>(threadIdx.x); j < row.pen_end; j += kThreads) {
    const int32_t t = p.pen_tokens[j];
    float x = logits[t];
    p.pen_raw[j] = x;
    if (rep)
      x = x > 0 ? __fdiv_rn(x, row.repetition_penalty) : __fmul_rn(x, row.repetition_penalty);
    const int32_t c = p.pen_counts[j];
    if (pres_freq && c > 0)
      x = __fsub_rn(x, __fadd_rn(__fmul_rn(static_cast<float>(c), row.frequency_penalty),
                                 row.presence_penalty));
    logits[t] = x;
  }
  __syncthreads();
  for (int j = row.mask_begin + static_cast<int>(threadIdx.x); j < row.mask_end; j += kThreads)
    logits[p.mask_tokens[j]] = -INFINITY;
  __syncthreads();

  // 3. the token.
  int token;
  if (row.do_sample == 0) {
    token = row_argmax(logits, V, s);
    if (token == INT_MAX) token = 0;  // a row of NaN
  } else {
    token = draw_row(s, logits, V, row);
  }

  // 4. its raw logprob: a penalised token's raw logit was saved in pen_raw.
  if (p.out_logprobs != nullptr) {
    if (threadIdx.x == 0) s.raw = logits[token];
    __syncthreads();
    for (int j = row.pen_begin + static_cast<int>(threadIdx.x); j < row.pen_end; j += kThreads)
      if (p.pen_tokens[j] == token) s.raw = p.pen_raw[j];  // distinct tokens: one writer
    __syncthreads();
    if (threadIdx.x == 0) p.out_logprobs[r] = s.raw - lse;
  }
  if (threadIdx.x == 0) {
    p.out_ids[r] = token;
    if (p.out_ids_copy != nullptr) p.out_ids_copy[r] = token;
  }
}

// Plain greedy rows: block (x, r) finds the best (value, id) of its part of row r; the last of
// the row's blocks to finish (counted in row_done, the partials made visible by a fence before
// the count) merges the parts and resets the count. The order of the merge does not matter:
// keep_better is a total order on (value, -id) over non-NaN values, as in row_argmax.
constexpr int kArgmaxThreads = 256;
constexpr int64_t kArgmaxPerBlock = 2048;  // elements a block reads, at least: 2 x 16 B a thread

int argmax_splits(int64_t vocab) {
  return static_cast<int>(
      std::clamp<int64_t>((vocab + kArgmaxPerBlock - 1) / kArgmaxPerBlock, 1, kArgmaxMaxSplits));
}

__global__ void __launch_bounds__(kArgmaxThreads) argmax_split_kernel(SampleParams p) {
  __shared__ float red_v[kArgmaxThreads / 32];
  __shared__ int red_i[kArgmaxThreads / 32];
  __shared__ bool last;
  pdl_launch_dependents();  // the next step's upload may read the host meanwhile
  const int64_t r = blockIdx.y, V = p.vocab;
  const int splits = static_cast<int>(gridDim.x);
  const float* logits = p.logits + r * V;
  // Parts of a multiple of 4 elements, so 16-byte loads stay aligned when the row is.
  const int64_t part = ((V + splits - 1) / splits + 3) / 4 * 4;
  const int64_t begin = blockIdx.x * part, end = std::min(V, begin + part);
  float bv = -INFINITY;
  int bi = INT_MAX;
  if (V % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0) {
    const float4* l4 = reinterpret_cast<const float4*>(logits);
    constexpr int kU = 2;  // loads in flight per thread
    for (int64_t i0 = begin / 4 + threadIdx.x; i0 < end / 4; i0 += kU * kArgmaxThreads) {
      float4 v[kU];
#pragma unroll
      for (int u = 0; u < kU; ++u)
        if (i0 + u * kArgmaxThreads < end / 4) v[u] = l4[i0 + u * kArgmaxThreads];
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        if (i0 + u * kArgmaxThreads >= end / 4) continue;
        const int b = static_cast<int>(4 * (i0 + u * kArgmaxThreads));
        keep_better(bv, bi, v[u].x, b);
        keep_better(bv, bi, v[u].y, b + 1);
        keep_better(bv, bi, v[u].z, b + 2);
        keep_better(bv, bi, v[u].w, b + 3);
      }
    }
  } else {
    for (int64_t i = begin + threadIdx.x; i < end; i += kArgmaxThreads)
      keep_better(bv, bi, logits[i], static_cast<int>(i));
  }
  warp_keep_best(bv, bi);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    red_v[warp] = bv;
    red_i[warp] = bi;
  }
  __syncthreads();
  if (warp == 0) {
    bv = lane < kArgmaxThreads / 32 ? red_v[lane] : -INFINITY;
    bi = lane < kArgmaxThreads / 32 ? red_i[lane] : INT_MAX;
    warp_keep_best(bv, bi);
    if (lane == 0) {
      p.part_value[r * kArgmaxMaxSplits + blockIdx.x] = bv;
      p.part_index[r * kArgmaxMaxSplits + blockIdx.x] = bi;
      __threadfence();
      last = atomicAdd(&p.row_done[r], 1u) == static_cast<unsigned>(splits - 1);
    }
  }
  __syncthreads();
  if (!last || warp != 0) return;
  __threadfence();
  bv = -INFINITY;
  bi = INT_MAX;
  for (int k = lane; k < splits; k += 32)
    keep_better(bv, bi, __ldcg(&p.part_value[r * kArgmaxMaxSplits + k]),
                __ldcg(&p.part_index[r * kArgmaxMaxSplits + k]));
  warp_keep_best(bv, bi);
  if (lane == 0) {
    const int token = bi == INT_MAX ? 0 : bi;  // a row of NaN: 0, as sample_kernel
    p.out_ids[r] = token;
    if (p.out_ids_copy != nullptr) p.out_ids_copy[r] = token;
    p.row_done[r] = 0;
  }
}

}  // namespace

core::Status sample(const SampleParams& p, cudaStream_t stream) {
  if (p.logits == nullptr || (p.rows == nullptr && !p.plain_greedy) || p.out_ids == nullptr ||
      p.n_rows < 0 || p.vocab <= 0 || p.vocab >= INT_MAX) {
    return core::invalid_argument("sample: null pointer or bad shape (n_rows={} vocab={})",
                                  p.n_rows, p.vocab);
  }
  if (p.n_rows == 0) return {};
  if (p.plain_greedy) {
    if (p.part_value == nullptr || p.part_index == nullptr || p.row_done == nullptr ||
        p.out_logprobs != nullptr || p.n_rows > 65535)
      return core::invalid_argument("sample: plain greedy without its scratch, or with logprobs");
    const dim3 grid(static_cast<unsigned>(argmax_splits(p.vocab)), static_cast<unsigned>(p.n_rows));
    argmax_split_kernel<<<grid, kArgmaxThreads, 0, stream>>>(p);
  } else {
    sample_kernel<<<static_cast<unsigned>(p.n_rows), kThreads, 0, stream>>>(p);
  }
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
