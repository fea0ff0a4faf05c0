// bench/cuda/l2_prefetch.h — warming L2 with weights a later kernel of the step reads, for the
// batch-1 decode experiments of bench/cuda/layer_chain_tune.cpp (issue #7; docs/PERFORMANCE.md
// run 10: it did not pay, so no layer uses it). While rotary + KV store and decode attention run,
// HBM is almost idle; the o projection's weights (and the first columns of the next
// projection's) can be fetched into L2 then, for the GEMVs that read them later.
// A prefetch is only a hint: it reads nothing back, writes nothing, and never changes a result.
// Each range is `rows` rows of `row_bytes` bytes (the row stride) from `base`, of which the
// first `prefix_bytes` of every row are fetched (>= row_bytes: the whole range, contiguous).
// The kernel is a programmatic dependent launch (kernels/cuda/pdl.cuh) that reads no data of
// the step: it lets the next kernel be scheduled at once, issues its prefetches (after waiting
// for the previous kernel only with wait_first) and waits for the previous kernel before it
// exits. Built into the nvcc harness only (tools/layer_chain_tune.sh).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace bench {

struct L2PrefetchRange {
  const void* base = nullptr;  // 16-byte aligned
  int64_t rows = 0;
  int64_t row_bytes = 0;     // row stride, a multiple of 16
  int64_t prefix_bytes = 0;  // per row; rounded up to 16, clamped to row_bytes; 0: nothing
};

struct L2PrefetchParams {
  static constexpr int kMaxRanges = 2;
  L2PrefetchRange range[kMaxRanges];  // fetched in order (range 0's lines are issued first)
  int n_ranges = 1;
  bool bulk = true;         // sm_90: cp.async.bulk.prefetch.L2 (one instruction per 8 KiB);
                            // else one prefetch.global.L2 per 128-byte line
  bool evict_last = false;  // with the L2::evict_last policy
  bool wait_first = false;  // issue only once the previous kernel has completed
};

// Launches the prefetch on `stream` (nothing when every range is empty).
lightllm::core::Status l2_prefetch(const L2PrefetchParams& p, cudaStream_t stream);

}  // namespace bench
