// bench/cuda/bench_l2.h — device helpers for the benchmarks' memory yardsticks (kernels in
// bench_l2.cu; built into kernel_bench and the nvcc harnesses):
//  - l2_flush_clean: reads `bytes` of `buf` (a flush buffer larger than the L2), so the L2 ends up
//    holding clean lines only. The memset flush of bench_timing.h leaves the L2 full of dirty
//    lines that the next kernel must write back to DRAM while it runs (~50 MB on an H100).
//  - stream_read: the same read with `unroll` (2, 4, 8 or 16) 16-byte loads in flight per thread
//    and at most `blocks_per_sm` blocks of 256 threads per SM: the HBM read roof (kernel_bench's
//    "read" line: the best of a few shapes), what a kernel that only streams weights can reach.
//    nc_loads: 4 loads in flight, each ld.global.nc.L1::no_allocate (the GEMV's load) instead of
//    ld.global.cg.
//  - phased_read: one cooperative launch (4 blocks of 256 threads per SM) that reads n_phases
//    consecutive ranges of `buf` (phase p ends at phase_end_dev[p] 16-byte chunks; device array)
//    one after the other, with a grid barrier between them (`counter`: a device unsigned the
//    call zeroes first), optionally loading the next range's first chunks before each barrier:
//    the read roof of a persistent kernel whose phases depend on each other (a decode layer's
//    projections) instead of one launch per phase.
//  - rowwise_read: the GEMV's access pattern (gemv.cu, CUDA-core kernel) without its arithmetic:
//    a warp per rows_per_warp weight rows of k_bytes (plus the rows second_half further: gate
//    and up), `unroll` 16-byte loads of each row in flight per lane, blocks of `threads`; only
//    the shapes the decode layer uses (1 x 8, 2 x 4). What the GEMVs' reads cost on their own.
//    `order`: kRows as the GEMV; kStaggered: warp g starts at batch g of its rows (mod the row)
//    instead of all at chunk 0; kSplitK: a block's warps share its rows and split them along k
//    (fewer rows in flight at once; at most as many warps as leave each a full batch).
//    nc_loads as for stream_read.
//  - blocked_read: block b reads its own region of region_bytes front to back, its threads in
//    block-stride order: the pattern of a GEMV whose blocks each own a few consecutive rows
//    (docs/PERFORMANCE.md run 21: 4 rows a block of 512 threads reads faster than stream_read
//    at the projections' launch boundaries).
//  - kv_gather_read: reads K and V rows of `row_bytes` each through a slot list (slot s, kv head
//    h at byte offset (s * n_kv_heads + h) * row_bytes), every 16-byte chunk once, with no
//    arithmetic beyond an xor: the bandwidth roof of a kernel that reads a KV cache in that order.
// All write a value to `sink` only when it equals a sentinel (never, for random data), so the
// loads are not optimized away. Launch errors surface at the next CUDA call.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

void l2_flush_clean(const void* buf, size_t bytes, void* sink, cudaStream_t stream);

void stream_read(const void* buf, size_t bytes, void* sink, cudaStream_t stream, int unroll,
                 int blocks_per_sm, bool nc_loads = false);

cudaError_t phased_read(const void* buf, const size_t* phase_end_dev, int n_phases,
                        unsigned* counter, bool prefetch, void* sink, cudaStream_t stream);

enum class RowwiseOrder { kRows, kStaggered, kSplitK };
void rowwise_read(const void* w, int64_t n_cols, int64_t second_half, int64_t k_bytes,
                  int rows_per_warp, int unroll, int threads, RowwiseOrder order, void* sink,
                  cudaStream_t stream, bool nc_loads = false);

// Block b reads bytes [b·region_bytes, (b + 1)·region_bytes) of buf, its threads in block-stride
// order (4 loads in flight per thread): a GEMV whose block owns region_bytes of consecutive
// weight rows and reads them front to back. nc_loads: the GEMV's ld.global.nc.L1::no_allocate
// instead of ld.global.cg.
void blocked_read(const void* buf, size_t bytes, size_t region_bytes, int threads, bool nc_loads,
                  void* sink, cudaStream_t stream);

void kv_gather_read(const void* k, const void* v, size_t row_bytes, const int32_t* slots,
                    int64_t n_tokens, int n_kv_heads, void* sink, cudaStream_t stream);
