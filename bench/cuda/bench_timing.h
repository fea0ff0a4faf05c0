// bench/cuda/bench_timing.h — how the CUDA benchmarks time a launch: a warm-up call, then
// `iters` timed calls, each after a memset that flushes L2 (`flush`, at least the L2 size; or
// any flush function: median_ms_after),
// timed alone with CUDA events on the default stream; the median in ms. A CUDA error during
// timing ends the run (benchmarks are programs, not tests). Header-only (attention_tune.cpp
// and gemv_tune.cpp are built with nvcc alone on the GPU machine).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <cuda_runtime_api.h>

// The same with any flush before each timed call (e.g. l2_flush_clean of bench_l2.h, which
// leaves clean lines in the L2 where the memset leaves dirty ones).
inline double median_ms_after(const std::function<void()>& flush, const std::function<void()>& fn,
                              int iters) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  fn();  // warm-up (and first-use setup such as cuBLASLt plans)
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    flush();
    cudaEventRecord(a);
    fn();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error during timing: %s\n", cudaGetErrorString(e));
    std::exit(1);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

inline double median_ms_flushed(void* flush, size_t flush_bytes, const std::function<void()>& fn,
                                int iters) {
  int i = 0;
  return median_ms_after([&] { cudaMemsetAsync(flush, i++ & 0xff, flush_bytes); }, fn, iters);
}
