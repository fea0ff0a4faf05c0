// bench/cuda/l2_prefetch.cu — the L2 prefetch kernel (see l2_prefetch.h). Work is cut
// into units of at most kUnit bytes (a row's prefix, in pieces); a bulk prefetch is one
// instruction per unit (a thread each), a line prefetch is one warp per unit, a lane per line.
#include "l2_prefetch.h"

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace bench {
namespace {

using lightllm::kernels::cuda::launch_pdl;
using lightllm::kernels::cuda::pdl_launch_dependents;
using lightllm::kernels::cuda::pdl_wait;
namespace core = lightllm::core;

constexpr int64_t kUnit = 8192;  // bytes per bulk instruction / per warp
constexpr int64_t kLine = 128;
constexpr int kThreads = 128;
constexpr int kMaxBlocks = 132;

struct RangeArgs {
  const char* base;
  int64_t row_bytes, prefix, pieces, units;  // prefix rounded; pieces per row; rows * pieces
};

struct Args {
  RangeArgs r[L2PrefetchParams::kMaxRanges];
  int n_ranges;
  bool evict_last, wait_first;
};

__device__ __forceinline__ void prefetch_line(const char* p, bool evict_last) {
  if (evict_last) {
    asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(p));
  } else {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
  }
}

// Unit u of range r: its first byte and length.
__device__ __forceinline__ const char* unit_at(const RangeArgs& r, int64_t u, int64_t& len) {
  const int64_t row = u / r.pieces, piece = u - row * r.pieces;
  len = min(kUnit, r.prefix - piece * kUnit);
  return r.base + row * r.row_bytes + piece * kUnit;
}

template <bool kBulk>
__global__ void __launch_bounds__(kThreads) l2_prefetch_kernel(const Args a) {
  if (a.wait_first) pdl_wait();
  pdl_launch_dependents();  // reads nothing of the step: the next kernel may be scheduled now
  const int64_t n_threads = int64_t{gridDim.x} * blockDim.x;
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  for (int i = 0; i < a.n_ranges; ++i) {
    const RangeArgs& r = a.r[i];
    if constexpr (kBulk) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      uint64_t policy = 0;
      if (a.evict_last)
        asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
      for (int64_t u = tid; u < r.units; u += n_threads) {
        int64_t len = 0;
        const char* p = unit_at(r, u, len);
        const auto bytes = static_cast<uint32_t>(len);
        if (a.evict_last) {
          asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;" ::"l"(p),
                       "r"(bytes), "l"(policy)
                       : "memory");
        } else {
          asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes)
                       : "memory");
        }
      }
#endif
    } else {
      const int lane = threadIdx.x & 31;
      for (int64_t u = tid >> 5; u < r.units; u += n_threads >> 5) {
        int64_t len = 0;
        const char* p = unit_at(r, u, len);
        for (int64_t off = lane * kLine; off < len; off += 32 * kLine)
          prefetch_line(p + off, a.evict_last);
      }
    }
  }
  pdl_wait();  // every block waits (pdl.cuh)
}

bool device_has_bulk_prefetch() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
    return false;
  return major >= 9;
}

}  // namespace

core::Status l2_prefetch(const L2PrefetchParams& p, cudaStream_t stream) {
  if (p.n_ranges < 0 || p.n_ranges > L2PrefetchParams::kMaxRanges)
    return core::invalid_argument("l2_prefetch: n_ranges {} not in [0, {}]", p.n_ranges,
                                  L2PrefetchParams::kMaxRanges);
  Args a{};
  a.evict_last = p.evict_last;
  a.wait_first = p.wait_first;
  int64_t units = 0;  // of the largest range
  for (int i = 0; i < p.n_ranges; ++i) {
    const L2PrefetchRange& r = p.range[i];
    if (r.rows < 0 || r.row_bytes < 0 || r.prefix_bytes < 0)
      return core::invalid_argument("l2_prefetch: negative rows / row_bytes / prefix_bytes");
    if (r.rows == 0 || r.row_bytes == 0 || r.prefix_bytes == 0) continue;
    if (r.base == nullptr) return core::invalid_argument("l2_prefetch: null base");
    if (reinterpret_cast<uintptr_t>(r.base) % 16 != 0 || r.row_bytes % 16 != 0)
      return core::invalid_argument("l2_prefetch: base and row_bytes must be 16-byte aligned");
    RangeArgs& ra = a.r[a.n_ranges++];
    ra.base = static_cast<const char*>(r.base);
    const bool whole = r.prefix_bytes >= r.row_bytes;  // whole rows: one contiguous range
    const int64_t rows = whole ? 1 : r.rows;
    ra.row_bytes = whole ? r.rows * r.row_bytes : r.row_bytes;
    ra.prefix = whole ? ra.row_bytes : (r.prefix_bytes + 15) / 16 * 16;
    ra.pieces = (ra.prefix + kUnit - 1) / kUnit;
    ra.units = rows * ra.pieces;
    units = std::max(units, ra.units);
  }
  if (a.n_ranges == 0) return {};
  const bool bulk = p.bulk && device_has_bulk_prefetch();
  const int64_t per_block = bulk ? kThreads : kThreads / 32;
  const auto blocks = static_cast<unsigned>(
      std::clamp<int64_t>((units + per_block - 1) / per_block, 1, kMaxBlocks));
  return LLM_CUDA_CHECK(
      bulk ? launch_pdl(l2_prefetch_kernel<true>, dim3(blocks), dim3(kThreads), 0, stream, a)
           : launch_pdl(l2_prefetch_kernel<false>, dim3(blocks), dim3(kThreads), 0, stream, a));
}

}  // namespace bench
