// bench/cuda/bench_check.h — CHECK_OK(expr): a benchmark's way to stop on a failed Status or
// Result (prints file:line and the message, exits 1); print_device_and_copy_gbs(), the header
// line every harness prints. Benchmarks are programs, not tests: there
// is nothing to recover, so the first error ends the run. Header-only (attention_tune.cpp is
// built with nvcc alone on the GPU machine).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime_api.h>

#include "backend/cuda/device_buffer.h"

#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    auto _st = (expr);                                                                  \
    if (!_st.ok()) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, _st.to_string().c_str()); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

// Prints the device (name, SMs, memory) and the device copy bandwidth every harness reports
// beside its figures; returns the bandwidth in GB/s (read + write, cudaMemcpy D2D of 1 GiB).
inline double print_device_and_copy_gbs() {
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s, %d SMs, %.0f GiB\n", prop.name, prop.multiProcessorCount,
              double(prop.totalGlobalMem) / (1 << 30));
  auto bw = lightllm::backend::cuda::copy_bandwidth(size_t{1} << 30, 10);
  CHECK_OK(bw.status());
  const double gbs = *bw / 1e9;
  std::printf("device copy (cudaMemcpy D2D 1 GiB, read + write): %.0f GB/s\n", gbs);
  return gbs;
}
