// src/kv/token_pool.h — the slot allocator of the Token Attention KV pool (DESIGN.md §3).
//
// A slot holds exactly one token's K and V for every layer; slots are numbered
// [0, capacity). This class is only the bookkeeping: the runner owns the K/V memory.
// Allocation pops from a free stack and freeing pushes back, both O(n) in the number of
// slots moved and O(1) per slot.
//
// Invariants (checked by check_invariants() and the tests):
//   free_count() + used_count() == capacity()
//   every slot is either on the free stack exactly once or marked in use, never both.
// alloc() never hands out a partial allocation: it succeeds for all n slots or changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"

namespace lightllm::kv {

class TokenPool {
 public:
  explicit TokenPool(int64_t capacity);

  int64_t capacity() const { return capacity_; }
  int64_t free_count() const { return static_cast<int64_t>(free_stack_.size()); }
  int64_t used_count() const { return capacity_ - free_count(); }

  // Fills `out` with out.size() fresh slots. Returns false (and allocates nothing) when fewer
  // than out.size() slots are free.
  bool alloc(std::span<int32_t> out);
  // Convenience: n fresh slots, or nullopt when fewer than n are free.
  std::optional<std::vector<int32_t>> alloc(int64_t n);

  // Returns slots to the pool. A slot out of range or not in use is a bug in the caller:
  // nothing is freed and an internal error names the slot.
  core::Status free(std::span<const int32_t> slots);

  bool is_used(int32_t slot) const { return in_use_[static_cast<size_t>(slot)] != 0; }

  // Full O(capacity) consistency check, for tests and debug builds.
  core::Status check_invariants() const;

 private:
  int64_t capacity_;
  std::vector<int32_t> free_stack_;  // top = back()
  std::vector<uint8_t> in_use_;      // [capacity] 1 when handed out
};

}  // namespace lightllm::kv
