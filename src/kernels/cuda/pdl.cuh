// src/kernels/cuda/pdl.cuh — programmatic dependent launch (PDL, Hopper griddepcontrol) for the
// kernels of a decode step: one launch helper and the two device-side controls, used by every
// kernel that may run back to back in a step (GEMV, norms, rotary, KV store, embedding, the
// decode-attention reduction, ...). Included by .cu files only.
//
// How it works: a kernel launched by launch_pdl() on sm_90+ may be scheduled while the previous
// kernel of the stream still runs (once all that kernel's blocks called pdl_launch_dependents()
// or exited). It must therefore call pdl_wait() — which returns when the previous kernel has
// completed and its memory is visible — before it reads anything an earlier kernel of the step
// writes, and before it writes anything an earlier kernel may still read. Before pdl_wait() it
// may only touch data that no kernel of the step writes (weights, norm weights, rotary tables,
// constants, the step's metadata uploaded before its first kernel, K/V rows of earlier steps).
// Invariants every PDL kernel keeps:
//  - every block executes pdl_wait() before it exits (so the kernel completes only after its
//    predecessor: completion stays transitive along a chain of PDL launches, and a kernel may
//    read what any earlier kernel of the stream wrote, not only its immediate predecessor);
//  - pdl_launch_dependents() is only a scheduling hint: where it sits never affects results;
//  - what an earlier kernel wrote is read with coherent loads (plain, ld.global.ca / .cg), never
//    ld.global.nc (__ldg, or a `const T* __restrict__` kernel argument the compiler turns into
//    one): ptxas takes those for reads of constant memory and may schedule them above
//    griddepcontrol.wait, the "memory" clobber notwithstanding — it did in the block-rows GEMV
//    (docs/PERFORMANCE.md run 22).
// On sm_80 (and whenever the attribute is off) both device calls are no-ops and the launch is a
// plain stream-ordered launch. PDL edges survive CUDA-graph stream capture.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <utility>

namespace lightllm::kernels::cuda {

// Waits until the previous kernel of the stream has completed and its writes are visible.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel of the stream be scheduled once every block of this one has called it
// (or exited).
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

namespace pdl_detail {
inline std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{true};
  return on;
}
}  // namespace pdl_detail

// Process-wide switch (default on): off, launch_pdl() launches without the attribute. For
// benchmarks that measure what PDL buys (bench/cuda/gemv_tune.cpp); results never depend on it.
inline void set_pdl_enabled(bool on) {
  pdl_detail::enabled_flag().store(on, std::memory_order_relaxed);
}
inline bool pdl_enabled() {
  return pdl_detail::enabled_flag().load(std::memory_order_relaxed);
}

// Whether the calling thread's current device supports PDL (compute capability 9.0+), asked
// once per device (devices 0..63; others: no).
inline bool device_has_pdl() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cached[kMaxDevices] = {};  // 0 unknown, 1 no, 2 yes
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return false;
  int v = cached[dev].load(std::memory_order_relaxed);
  if (v == 0) {
    int major = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
      return false;
    v = major >= 9 ? 2 : 1;
    cached[dev].store(v, std::memory_order_relaxed);
  }
  return v == 2;
}

// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream serialization when
// PDL is enabled and the device has it. Returns the launch error (cudaSuccess if none).
template <typename... KernelArgs, typename... Args>
cudaError_t launch_pdl(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem,
                       cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  if (pdl_enabled() && device_has_pdl()) {
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
  }
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace lightllm::kernels::cuda
