// src/backend/cuda/device_buffer.cpp — DeviceBuffer and device queries.
#include "backend/cuda/device_buffer.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_check.h"

namespace lightllm::backend::cuda {

namespace {
std::atomic<uint64_t> g_allocation_failures{0};
}  // namespace

uint64_t allocation_failures() {
  return g_allocation_failures.load(std::memory_order_relaxed);
}

void note_allocation_failure() {
  g_allocation_failures.fetch_add(1, std::memory_order_relaxed);
}

DeviceBuffer::~DeviceBuffer() {
  reset();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (ptr_ != nullptr) cudaFree(ptr_);  // errors here are sticky ones already reported elsewhere
  ptr_ = nullptr;
  bytes_ = 0;
}

core::Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the (non-sticky) allocation error
    note_allocation_failure();
    return LLM_CUDA_CHECK(err).with_context(fmt::format("allocating {} bytes", bytes));
  }
  b.ptr_ = p;
  b.bytes_ = bytes;
  return b;
}

core::Status DeviceBuffer::upload(const void* host, size_t bytes) {
  if (bytes > bytes_) {
    return core::invalid_argument("upload of {} bytes into a device buffer of {}", bytes, bytes_);
  }
  if (bytes == 0) return {};
  return LLM_CUDA_CHECK(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice));
}

core::Status DeviceBuffer::download(void* host, size_t bytes) const {
  if (bytes > bytes_) {
    return core::invalid_argument("download of {} bytes from a device buffer of {}", bytes, bytes_);
  }
  if (bytes == 0) return {};
  return LLM_CUDA_CHECK(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost));
}

core::Status DeviceBuffer::memset_zero() {
  if (bytes_ == 0) return {};
  return LLM_CUDA_CHECK(cudaMemset(ptr_, 0, bytes_));
}

core::Result<int> device_count() {
  int n = 0;
  LLM_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&n));
  return n;
}

core::Result<DeviceInfo> device_info(int device) {
  cudaDeviceProp prop{};
  LLM_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  DeviceInfo info;
  info.index = device;
  info.name = prop.name;
  info.sm_count = prop.multiProcessorCount;
  info.major = prop.major;
  info.minor = prop.minor;
  info.total_memory = prop.totalGlobalMem;
  info.max_smem_per_block_optin = prop.sharedMemPerBlockOptin;
  return info;
}

core::Status set_device(int device) {
  return LLM_CUDA_CHECK(cudaSetDevice(device));
}

core::Status mem_info(size_t* free_bytes, size_t* total_bytes) {
  return LLM_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
}

core::Result<double> copy_bandwidth(size_t bytes, int repeats) {
  LLM_ASSIGN_OR_RETURN(DeviceBuffer src, DeviceBuffer::allocate(bytes));
  LLM_ASSIGN_OR_RETURN(DeviceBuffer dst, DeviceBuffer::allocate(bytes));
  LLM_RETURN_IF_ERROR(src.memset_zero());
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  LLM_RETURN_IF_ERROR(LLM_CUDA_CHECK(cudaEventCreate(&e0)));
  core::Status st = LLM_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int i = 0; st.ok() && i < std::max(1, repeats) + 2; ++i) {
    st = LLM_CUDA_CHECK(cudaEventRecord(e0));
    if (st.ok()) st = LLM_CUDA_CHECK(cudaMemcpy(dst.data(), src.data(), bytes, cudaMemcpyDefault));
    if (st.ok()) st = LLM_CUDA_CHECK(cudaEventRecord(e1));
    if (st.ok()) st = LLM_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    if (st.ok()) st = LLM_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (st.ok() && i >= 2) ms.push_back(t);
  }
  cudaEventDestroy(e0);
  if (e1 != nullptr) cudaEventDestroy(e1);
  LLM_RETURN_IF_ERROR(st);
  std::sort(ms.begin(), ms.end());
  return 2.0 * static_cast<double>(bytes) / (static_cast<double>(ms[ms.size() / 2]) * 1e-3);
}

}  // namespace lightllm::backend::cuda
