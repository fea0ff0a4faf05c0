// src/backend/cuda/device_buffer.h — DeviceBuffer: one plain cudaMalloc allocation, owned.
// Move-only; freed in the destructor. Used for weights, the KV pool and anything that lives
// as long as the model. Short-lived workspaces come from CachingAllocator instead.
// Also: device queries (count, name, SM count) and host<->device copies returning Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::backend::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Allocates `bytes` on the current device (bytes == 0 gives an empty buffer).
  static core::Result<DeviceBuffer> allocate(size_t bytes);

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t size() const { return bytes_; }
  bool empty() const { return ptr_ == nullptr; }

  // Synchronous copies of `bytes` from/to the start of this buffer; bounds are checked.
  core::Status upload(const void* host, size_t bytes);
  core::Status download(void* host, size_t bytes) const;
  core::Status memset_zero();

  void reset();  // frees now

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  int sm_count = 0;
  int major = 0, minor = 0;
  size_t total_memory = 0;
  size_t max_smem_per_block_optin = 0;
};

core::Result<int> device_count();
core::Result<DeviceInfo> device_info(int device);
core::Status set_device(int device);
// Free and total memory on the current device.
core::Status mem_info(size_t* free_bytes, size_t* total_bytes);

// Failed cudaMalloc calls in this process so far (DeviceBuffer and CachingAllocator), so a
// caller can tell that an error surfacing later came from memory running out.
uint64_t allocation_failures();
void note_allocation_failure();

// Device-to-device copy bandwidth of the current device in bytes per second, counting bytes
// read + written (STREAM convention): median of `repeats` cudaMemcpy of `bytes`, timed with
// events after two warm-up copies. The HBM yardstick of the benchmarks.
core::Result<double> copy_bandwidth(size_t bytes, int repeats);

}  // namespace lightllm::backend::cuda
