// src/backend/cuda/caching_allocator.h — CachingAllocator: reusable device workspaces.
// Requests are rounded up to a size class (512 B granules below 1 MiB, then 1/8-power-of-two
// steps) and served from a free list of that class; freed blocks go back to the list, never
// to cudaFree, until release_cached() or destruction. Invariants (checked by tests):
// bytes_in_use() + bytes_cached() == bytes_reserved(); a block is returned exactly once.
// Thread-safe (one mutex). Stream semantics: the caller must free a block only after the
// work that uses it is ordered before the next user (same stream, or synchronized).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace lightllm::backend::cuda {

class CachingAllocator;

// A workspace block; returns itself to the allocator when destroyed. Move-only.
class Workspace {
 public:
  Workspace() = default;
  ~Workspace();
  Workspace(Workspace&& o) noexcept;
  Workspace& operator=(Workspace&& o) noexcept;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }  // the requested size (capacity may be larger)

 private:
  friend class CachingAllocator;
  CachingAllocator* owner_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class CachingAllocator {
 public:
  CachingAllocator() = default;
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` (256-byte aligned). bytes == 0 gives an empty Workspace.
  // On cudaMalloc failure the cache is released once and the allocation retried.
  core::Result<Workspace> allocate(size_t bytes);

  // cudaFree every cached (unused) block.
  void release_cached();

  size_t bytes_in_use() const;
  size_t bytes_cached() const;
  size_t bytes_reserved() const;

  static size_t size_class(size_t bytes);

 private:
  friend class Workspace;
  void give_back(void* ptr);

  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;         // capacity -> block
  std::unordered_map<void*, size_t> in_use_;  // block -> capacity
  size_t in_use_bytes_ = 0, cached_bytes_ = 0;
};

}  // namespace lightllm::backend::cuda
