// bench/cuda/bench_l2.cu — the kernels of bench_l2.h (see there). Grid-stride loops over 16-byte
// chunks; 4 independent loads per thread per iteration keep enough bytes in flight for HBM.
#include "bench_l2.h"

#include <algorithm>

namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // the gather's and the default read's loads in flight per thread

__device__ __forceinline__ uint32_t fold(uint4 x) {
  return x.x ^ x.y ^ x.z ^ x.w;
}

// 16-byte load: ld.global.cg (L2 only), or with kNc the GEMV's ld.global.nc.L1::no_allocate.
template <bool kNc>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (kNc) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
    return v;
  } else {
    return __ldcg(p);
  }
}

// acc ^= every chunk i, i + stride, ... below `end` (U loads in flight, then the rest one by
// one); the grid-stride read of one thread.
template <int U, bool kNc = false>
__device__ __forceinline__ void fold_range(const uint4* buf, size_t i, size_t end, size_t stride,
                                           uint32_t& acc) {
  for (; i + (U - 1) * stride < end; i += U * stride) {
    uint4 x[U];
#pragma unroll
    for (int u = 0; u < U; ++u) x[u] = load16<kNc>(buf + i + u * stride);
#pragma unroll
    for (int u = 0; u < U; ++u) acc ^= fold(x[u]);
  }
  for (; i < end; i += stride) acc ^= fold(load16<kNc>(buf + i));
}

template <int U, bool kNc = false>
__global__ void read_kernel(const uint4* buf, size_t n, uint32_t* sink) {
  uint32_t acc = 0;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  fold_range<U, kNc>(buf, size_t{blockIdx.x} * blockDim.x + threadIdx.x, n, stride, acc);
  if (acc == 0x9e3779b9u) *sink = acc;
}

// Block b reads chunks [b·region, (b + 1)·region) of the n, its threads in block-stride order.
template <int U, bool kNc>
__global__ void blocked_read_kernel(const uint4* buf, size_t n, size_t region, uint32_t* sink) {
  uint32_t acc = 0;
  const size_t begin = size_t{blockIdx.x} * region;
  fold_range<U, kNc>(buf, begin + threadIdx.x, min(begin + region, n), blockDim.x, acc);
  if (acc == 0x9e3779b9u) *sink = acc;
}

// Every block waits until all gridDim.x blocks have arrived `round` times in total (the counter
// only grows; it is zeroed before the launch). All blocks must be resident (cooperative launch).
__device__ void grid_barrier(unsigned* counter, unsigned round) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    atomicAdd(counter, 1u);
    const unsigned target = round * gridDim.x;
    unsigned seen;
    do {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(seen) : "l"(counter) : "memory");
    } while (seen < target);
  }
  __syncthreads();
}

// Phases [phase_end[p - 1], phase_end[p]) (in chunks) read one after the other by the whole
// grid, a grid barrier between them. kPrefetch: before the barrier, each thread loads its
// first U chunks of the next phase (as a PDL kernel issues its first weight loads before its
// wait) and folds them after.
template <int U, bool kPrefetch>
__global__ void phased_read_kernel(const uint4* buf, const size_t* phase_end, int n_phases,
                                   unsigned* counter, uint32_t* sink) {
  uint32_t acc = 0;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  uint4 pre[U];
  bool have_pre = false;
  size_t begin = 0;
  for (int ph = 0; ph < n_phases; ++ph) {
    const size_t end = phase_end[ph];
    size_t i = begin + tid;
    if (have_pre) {  // chunks i + u * stride of this phase (zeros past its end)
#pragma unroll
      for (int u = 0; u < U; ++u) acc ^= fold(pre[u]);
      i += U * stride;
    }
    fold_range<U>(buf, i, end, stride, acc);
    if (ph + 1 == n_phases) break;
    if constexpr (kPrefetch) {
      const size_t next_end = phase_end[ph + 1];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const size_t j = end + tid + u * stride;
        pre[u] = j < next_end ? __ldcg(buf + j) : uint4{};
      }
      have_pre = true;
    }
    grid_barrier(counter, static_cast<unsigned>(ph + 1));
    begin = end;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

// The GEMV's access pattern without its arithmetic: warp g reads rows g·R .. g·R + R − 1 (and,
// with second_half > 0, the same rows + second_half: gate and up), each lane the chunks
// lane + 32·i of every row, U chunks of every row in flight before any is folded.
// kStaggered: warp g walks its rows' batches starting at batch g (mod the row's full batches),
// so the warps in flight together read every part of their rows, not the same offset of each.
// kSplitK: block b owns rows b·R .. b·R + R − 1 and its W warps split each row along k (warp w
// the w-th 1/W of the chunks): W times fewer rows in flight, each read W places at once.
template <int NR, int U, bool kNc = false>
__global__ void rowwise_read_kernel(const uint4* w, int64_t n_cols, int64_t second_half, int64_t kc,
                                    RowwiseOrder order, uint32_t* sink) {
  constexpr int R = NR;  // rows of the first half per warp (NR = R, or 2R with second_half)
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  const bool split_k = order == RowwiseOrder::kSplitK;
  const int64_t col0 = (split_k ? int64_t{blockIdx.x} : int64_t{blockIdx.x} * n_warps + warp) * R;
  if (col0 >= n_cols) return;
  const int64_t c_begin = split_k ? kc * warp / n_warps : 0;
  const int64_t c_end = split_k ? kc * (warp + 1) / n_warps : kc;
  const uint4* rows[2 * NR];
  const int n_rows = second_half > 0 ? 2 * NR : NR;
#pragma unroll
  for (int r = 0; r < 2 * NR; ++r) {
    const int64_t col = min(col0 + r % R, n_cols - 1) + (r >= R ? second_half : 0);
    rows[r] = w + col * kc;
  }
  uint32_t acc = 0;
  const int64_t span = kc / (32 * U) * (32 * U);  // chunks in full batches
  const int64_t shift =
      order == RowwiseOrder::kStaggered && span > 0 ? (col0 / R) * (32 * U) % span : 0;
  auto at = [&](int64_t chunk) {
    return chunk < span ? (chunk + shift < span ? chunk + shift : chunk + shift - span) : chunk;
  };
  int64_t c = c_begin + lane;
  for (; c + 32 * (U - 1) < c_end; c += 32 * U) {
    uint4 x[U][2 * NR];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < 2 * NR; ++r)
        if (r < n_rows) x[u][r] = load16<kNc>(rows[r] + at(c + 32 * u));
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < 2 * NR; ++r)
        if (r < n_rows) acc ^= fold(x[u][r]);
  }
  for (; c < c_end; c += 32)
    for (int r = 0; r < n_rows; ++r) acc ^= fold(load16<kNc>(rows[r] + c));
  if (acc == 0x9e3779b9u) *sink = acc;
}

// Chunk c of the (token, kv head) rows: row c / cpr, 16-byte part c % cpr; K and V both. The
// slots of kUnroll chunks are loaded first, then their 2 * kUnroll rows' chunks.
__global__ void gather_kernel(const unsigned char* k, const unsigned char* v, int cpr,
                              const int32_t* slots, int n_kv_heads, size_t n_chunks,
                              uint32_t* sink) {
  uint32_t acc = 0;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  for (size_t c0 = size_t{blockIdx.x} * blockDim.x + threadIdx.x; c0 < n_chunks;
       c0 += kUnroll * stride) {
    size_t off[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const size_t c = c0 + u * stride;
      const size_t row = c / cpr;
      const int64_t slot = c < n_chunks ? slots[row / n_kv_heads] : 0;
      off[u] = ((static_cast<size_t>(slot) * n_kv_heads + row % n_kv_heads) * cpr + c % cpr) *
               sizeof(uint4);
    }
    uint4 x[kUnroll][2];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const bool ok = c0 + u * stride < n_chunks;
      x[u][0] = ok ? __ldcg(reinterpret_cast<const uint4*>(k + off[u])) : uint4{};
      x[u][1] = ok ? __ldcg(reinterpret_cast<const uint4*>(v + off[u])) : uint4{};
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= fold(x[u][0]) ^ fold(x[u][1]);
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

// Blocks for `work` threads, at most `per_sm` per SM (8 of 256 threads: all resident at once).
int grid_for(size_t work, int per_sm = 8) {
  int dev = 0, sms = 132;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  const size_t want = (work + kThreads - 1) / kThreads, cap = static_cast<size_t>(sms) * per_sm;
  return static_cast<int>(want < cap ? want : cap);
}

}  // namespace

void l2_flush_clean(const void* buf, size_t bytes, void* sink, cudaStream_t stream) {
  stream_read(buf, bytes, sink, stream, kUnroll, 8);
}

void stream_read(const void* buf, size_t bytes, void* sink, cudaStream_t stream, int unroll,
                 int blocks_per_sm, bool nc_loads) {
  const size_t n = bytes / sizeof(uint4);
  const auto* b = static_cast<const uint4*>(buf);
  auto* out = static_cast<uint32_t*>(sink);
  const int grid = grid_for(n / unroll, blocks_per_sm);
  if (nc_loads) {  // 4 loads in flight
    read_kernel<kUnroll, true><<<grid, kThreads, 0, stream>>>(b, n, out);
    return;
  }
  switch (unroll) {
    case 2: read_kernel<2><<<grid, kThreads, 0, stream>>>(b, n, out); break;
    case 8: read_kernel<8><<<grid, kThreads, 0, stream>>>(b, n, out); break;
    case 16: read_kernel<16><<<grid, kThreads, 0, stream>>>(b, n, out); break;
    default: read_kernel<kUnroll><<<grid, kThreads, 0, stream>>>(b, n, out); break;
  }
}

cudaError_t phased_read(const void* buf, const size_t* phase_end_dev, int n_phases,
                        unsigned* counter, bool prefetch, void* sink, cudaStream_t stream) {
  int dev = 0, sms = 132;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  constexpr int kPhasedUnroll = 4, kBlocksPerSm = 4;
  const auto* b = static_cast<const uint4*>(buf);
  auto* out = static_cast<uint32_t*>(sink);
  void* args[] = {&b, &phase_end_dev, &n_phases, &counter, &out};
  const void* kernel =
      prefetch ? reinterpret_cast<const void*>(phased_read_kernel<kPhasedUnroll, true>)
               : reinterpret_cast<const void*>(phased_read_kernel<kPhasedUnroll, false>);
  if (cudaError_t e = cudaMemsetAsync(counter, 0, sizeof(unsigned), stream); e != cudaSuccess)
    return e;
  return cudaLaunchCooperativeKernel(kernel, dim3(static_cast<unsigned>(sms * kBlocksPerSm)),
                                     dim3(kThreads), args, 0, stream);
}

void rowwise_read(const void* w, int64_t n_cols, int64_t second_half, int64_t k_bytes,
                  int rows_per_warp, int unroll, int threads, RowwiseOrder order, void* sink,
                  cudaStream_t stream, bool nc_loads) {
  const int64_t kc = k_bytes / 16;
  const int64_t groups = (n_cols + rows_per_warp - 1) / rows_per_warp;
  const int per_block = order == RowwiseOrder::kSplitK ? 1 : threads / 32;
  if (order == RowwiseOrder::kSplitK) {  // at least one full batch of U loads per warp
    const int64_t warps = std::max<int64_t>(1, std::min<int64_t>(threads / 32, kc / (32 * unroll)));
    threads = static_cast<int>(32 * warps);
  }
  const dim3 grid(static_cast<unsigned>((groups + per_block - 1) / per_block));
  const auto* b = static_cast<const uint4*>(w);
  auto* out = static_cast<uint32_t*>(sink);
  auto go = [&](auto kernel) {
    kernel<<<grid, threads, 0, stream>>>(b, n_cols, second_half, kc, order, out);
  };
  if (rows_per_warp == 1 && unroll == 8)
    nc_loads ? go(rowwise_read_kernel<1, 8, true>) : go(rowwise_read_kernel<1, 8>);
  else if (rows_per_warp == 2 && unroll == 4)
    nc_loads ? go(rowwise_read_kernel<2, 4, true>) : go(rowwise_read_kernel<2, 4>);
}

void blocked_read(const void* buf, size_t bytes, size_t region_bytes, int threads, bool nc_loads,
                  void* sink, cudaStream_t stream) {
  const size_t n = bytes / sizeof(uint4), region = region_bytes / sizeof(uint4);
  const dim3 grid(static_cast<unsigned>((n + region - 1) / region));
  const auto* b = static_cast<const uint4*>(buf);
  auto* out = static_cast<uint32_t*>(sink);
  if (nc_loads)
    blocked_read_kernel<kUnroll, true><<<grid, threads, 0, stream>>>(b, n, region, out);
  else
    blocked_read_kernel<kUnroll, false><<<grid, threads, 0, stream>>>(b, n, region, out);
}

void kv_gather_read(const void* k, const void* v, size_t row_bytes, const int32_t* slots,
                    int64_t n_tokens, int n_kv_heads, void* sink, cudaStream_t stream) {
  const int cpr = static_cast<int>(row_bytes / sizeof(uint4));
  const size_t n_chunks = static_cast<size_t>(n_tokens) * n_kv_heads * cpr;
  gather_kernel<<<grid_for(n_chunks / kUnroll), kThreads, 0, stream>>>(
      static_cast<const unsigned char*>(k), static_cast<const unsigned char*>(v), cpr, slots,
      n_kv_heads, n_chunks, static_cast<uint32_t*>(sink));
}
