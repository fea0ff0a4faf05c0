// src/kernels/cuda/step_upload.cu — see step_upload.h.
// Block 0 owns the token ids and the feed (the feed overwrites ids the copy wrote, so the two
// must be ordered: one block, a barrier between them); blocks 1.. own the rest of the data.
// Every thread loads its first kPerThread elements from the host before the PDL wait (a read
// across the bus takes about a microsecond) and stores them after it; the grid is sized so that
// a decode step's data is loaded in that first round.
#include "kernels/cuda/step_upload.h"

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 4;
constexpr int64_t kChunk = int64_t{kThreads} * kPerThread;  // elements per block and round
constexpr int kMaxRestBlocks = 512;

// Where element e of src (e >= n_ids) goes.
__device__ __forceinline__ int32_t* destination(const StepUploadParams& p, int64_t e) {
  if (e < p.n) return p.dst + e;
  const int64_t q = e - p.n;
  return p.dst_rows + (q / p.src_stride) * p.dst_stride + q % p.src_stride;
}

// Copies src[begin, end) to its destinations in rounds of kChunk elements per block (block
// `block` of `blocks`), the first round loaded before the PDL wait.
__device__ void copy_range(const StepUploadParams& p, int64_t begin, int64_t end, int block,
                           int blocks) {
  const int64_t stride = kChunk * blocks;
  int64_t base = begin + kChunk * block;
  int32_t v[kPerThread];
  auto load = [&](int64_t at) {
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int64_t e = at + k * kThreads + threadIdx.x;
      if (e < end) v[k] = p.src[e];
    }
  };
  auto store = [&](int64_t at) {
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int64_t e = at + k * kThreads + threadIdx.x;
      if (e < end) *destination(p, e) = v[k];
    }
  };
  load(base);
  pdl_wait();  // the previous kernels may still read what we overwrite
  for (; base < end; base += stride) {
    store(base);
    if (base + stride < end) load(base + stride);
  }
}

__global__ void __launch_bounds__(kThreads) upload_step_kernel(StepUploadParams p) {
  const int64_t total = p.n + p.n_rows * p.src_stride;
  if (blockIdx.x > 0) {
    copy_range(p, p.n_ids, total, static_cast<int>(blockIdx.x) - 1,
               static_cast<int>(gridDim.x) - 1);
    return;
  }
  // Block 0: the ids, then the feed's pairs (read before the wait too).
  const int32_t* pairs = p.src + p.feed_at;
  int32_t to = 0, from = 0;
  const bool has_pair = threadIdx.x < p.n_feed;
  if (has_pair) {
    to = pairs[threadIdx.x];
    from = pairs[p.n_feed + threadIdx.x];
  }
  copy_range(p, 0, p.n_ids, 0, 1);
  __syncthreads();  // every id is written before the feed overwrites some
  if (has_pair) p.dst[to] = p.sampled[from];
  for (int64_t i = kThreads + threadIdx.x; i < p.n_feed; i += kThreads)
    p.dst[pairs[i]] = p.sampled[pairs[p.n_feed + i]];
}

}  // namespace

core::Status upload_step(const StepUploadParams& p, cudaStream_t stream) {
  const int64_t total = p.n + p.n_rows * p.src_stride;
  const bool bad_rows =
      p.n_rows < 0 ||
      (p.n_rows > 0 && (p.dst_rows == nullptr || p.src_stride <= 0 || p.dst_stride < p.src_stride));
  const bool bad_feed =
      p.n_feed < 0 || p.n_feed > p.n_ids || p.n_ids > p.n || (p.n_feed > 0 && p.sampled == nullptr);
  if (p.src == nullptr || p.dst == nullptr || p.n < 0 || p.n_ids < 0 || bad_rows || bad_feed)
    return core::invalid_argument(
        "upload_step: null pointer or bad sizes (n={} n_ids={} rows={} x {} -> {} feed={})", p.n,
        p.n_ids, p.n_rows, p.src_stride, p.dst_stride, p.n_feed);
  if (total == 0) return {};
  const int64_t rest_blocks = (total - p.n_ids + kChunk - 1) / kChunk;
  const unsigned grid = 1 + static_cast<unsigned>(std::min<int64_t>(rest_blocks, kMaxRestBlocks));
  return LLM_CUDA_CHECK(launch_pdl(upload_step_kernel, dim3(grid), dim3(kThreads), 0, stream, p));
}

}  // namespace lightllm::kernels::cuda
