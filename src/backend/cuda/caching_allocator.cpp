// src/backend/cuda/caching_allocator.cpp — size classes, free lists, give-back.
#include "backend/cuda/caching_allocator.h"

#include <bit>
#include <utility>

#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"

namespace lightllm::backend::cuda {

Workspace::~Workspace() {
  if (owner_ != nullptr && ptr_ != nullptr) owner_->give_back(ptr_);
}

Workspace::Workspace(Workspace&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)),
      ptr_(std::exchange(o.ptr_, nullptr)),
      bytes_(std::exchange(o.bytes_, 0)) {}

Workspace& Workspace::operator=(Workspace&& o) noexcept {
  if (this != &o) {
    if (owner_ != nullptr && ptr_ != nullptr) owner_->give_back(ptr_);
    owner_ = std::exchange(o.owner_, nullptr);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard lock(mu_);
  for (auto& [cap, p] : free_) cudaFree(p);
  // Blocks still in use when the allocator dies are freed too: their Workspaces must not outlive
  // it.
  for (auto& [p, cap] : in_use_) cudaFree(p);
}

size_t CachingAllocator::size_class(size_t bytes) {
  constexpr size_t kGranule = 512;
  constexpr size_t kSmall = size_t{1} << 20;
  if (bytes <= kSmall) return (bytes + kGranule - 1) / kGranule * kGranule;
  // Above 1 MiB: round up to a multiple of 1/8 of the enclosing power of two.
  const size_t pow2 = std::bit_floor(bytes);
  const size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

core::Result<Workspace> CachingAllocator::allocate(size_t bytes) {
  Workspace w;
  if (bytes == 0) return w;
  const size_t cap = size_class(bytes);
  std::lock_guard lock(mu_);
  void* p = nullptr;
  // Reuse a cached block of the same class, or a larger one up to 2x (bounded waste).
  auto it = free_.lower_bound(cap);
  if (it != free_.end() && it->first <= 2 * cap) {
    p = it->second;
    const size_t got = it->first;
    free_.erase(it);
    cached_bytes_ -= got;
    in_use_[p] = got;
    in_use_bytes_ += got;
  } else {
    cudaError_t err = cudaMalloc(&p, cap);
    if (err == cudaErrorMemoryAllocation && !free_.empty()) {
      cudaGetLastError();
      for (auto& [c, q] : free_) cudaFree(q);
      free_.clear();
      cached_bytes_ = 0;
      err = cudaMalloc(&p, cap);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      note_allocation_failure();
      return LLM_CUDA_CHECK(err).with_context(fmt::format("workspace of {} bytes", bytes));
    }
    in_use_[p] = cap;
    in_use_bytes_ += cap;
  }
  w.owner_ = this;
  w.ptr_ = p;
  w.bytes_ = bytes;
  return w;
}

void CachingAllocator::give_back(void* ptr) {
  std::lock_guard lock(mu_);
  auto it = in_use_.find(ptr);
  if (it == in_use_.end()) return;  // not ours (cannot happen through Workspace)
  const size_t cap = it->second;
  in_use_.erase(it);
  in_use_bytes_ -= cap;
  free_.emplace(cap, ptr);
  cached_bytes_ += cap;
}

void CachingAllocator::release_cached() {
  std::lock_guard lock(mu_);
  for (auto& [cap, p] : free_) cudaFree(p);
  free_.clear();
  cached_bytes_ = 0;
}

size_t CachingAllocator::bytes_in_use() const {
  std::lock_guard lock(mu_);
  return in_use_bytes_;
}
size_t CachingAllocator::bytes_cached() const {
  std::lock_guard lock(mu_);
  return cached_bytes_;
}
size_t CachingAllocator::bytes_reserved() const {
  std::lock_guard lock(mu_);
  return in_use_bytes_ + cached_bytes_;
}

}  // namespace lightllm::backend::cuda
