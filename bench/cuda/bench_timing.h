// bench/cuda/bench_timing.h — how the CUDA benchmarks time a launch: a warm-up call, then
// `iters` timed calls, each after a memset that flushes L2 (`flush`, at least the L2 size; or
// any flush function: median_ms_after),
// timed alone with CUDA events on the default stream; the median in ms; or a whole captured
// sequence replayed as a CUDA graph (median_graph_ms_flushed / _after). A CUDA error during timing
// ends the run (benchmarks are programs, not tests). Header-only (attention_tune.cpp, gemv_tune.cpp
// and layer_chain_tune.cpp are built with nvcc alone on the GPU machine).
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

// `body` (work enqueued on `stream`) run once eagerly (warm-up: plans, tables), captured into a
// CUDA graph, then replayed 12 times on `stream`, each replay after `flush` (enqueued on
// `stream`: a memset as median_graph_ms_flushed, or bench_l2.h's clean read); the median ms of
// the last 10. A CUDA error ends the run.
inline double median_graph_ms_after(cudaStream_t stream, const std::function<void()>& flush,
                                    const std::function<void()>& body) {
  auto check = [](cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  };
  body();
  check(cudaStreamSynchronize(stream), "warm-up");
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
  body();
  check(cudaStreamEndCapture(stream, &graph), "capture");
  check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int i = 0; i < 12; ++i) {
    flush();
    cudaEventRecord(e0, stream);
    cudaGraphLaunch(exec, stream);
    cudaEventRecord(e1, stream);
    cudaEventSynchronize(e1);
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (i >= 2) ms.push_back(t);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  check(cudaGetLastError(), "graph replay");
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// median_graph_ms_after with a memset of `flush_bytes` of `flush` before each replay (dirty L2).
inline double median_graph_ms_flushed(cudaStream_t stream, void* flush, size_t flush_bytes,
                                      const std::function<void()>& body) {
  int i = 0;
  return median_graph_ms_after(
      stream, [&] { cudaMemsetAsync(flush, i++ & 0xff, flush_bytes, stream); }, body);
}
