// src/kv/token_pool.cpp — free-stack slot allocator; see token_pool.h for the invariants.
#include "kv/token_pool.h"

namespace lightllm::kv {

TokenPool::TokenPool(int64_t capacity)
    : capacity_(capacity < 0 ? 0 : capacity), in_use_(static_cast<size_t>(capacity_), 0) {
  free_stack_.reserve(static_cast<size_t>(capacity_));
  // Push in reverse so the first allocations hand out 0, 1, 2, ... (easier to read in tests).
  for (int64_t s = capacity_ - 1; s >= 0; --s) free_stack_.push_back(static_cast<int32_t>(s));
}

bool TokenPool::alloc(std::span<int32_t> out) {
  if (static_cast<int64_t>(out.size()) > free_count()) return false;
  for (auto& slot : out) {
    slot = free_stack_.back();
    free_stack_.pop_back();
    in_use_[static_cast<size_t>(slot)] = 1;
  }
  return true;
}

std::optional<std::vector<int32_t>> TokenPool::alloc(int64_t n) {
  if (n < 0 || n > free_count()) return std::nullopt;
  std::vector<int32_t> out(static_cast<size_t>(n));
  alloc(std::span<int32_t>(out));
  return out;
}

core::Status TokenPool::free(std::span<const int32_t> slots) {
  // Validate everything first so a bad call frees nothing (duplicates inside `slots` included).
  for (size_t i = 0; i < slots.size(); ++i) {
    const int32_t s = slots[i];
    if (s < 0 || s >= capacity_) {
      for (size_t j = 0; j < i; ++j) in_use_[static_cast<size_t>(slots[j])] = 1;  // undo marks
      return core::internal_error("TokenPool::free: slot {} out of range [0, {})", s, capacity_);
    }
    if (in_use_[static_cast<size_t>(s)] != 1) {
      for (size_t j = 0; j < i; ++j) in_use_[static_cast<size_t>(slots[j])] = 1;  // undo marks
      return core::internal_error("TokenPool::free: slot {} is not in use (double free?)", s);
    }
    in_use_[static_cast<size_t>(s)] = 2;  // temporary mark: catches duplicates within `slots`
  }
  for (const int32_t s : slots) {
    in_use_[static_cast<size_t>(s)] = 0;
    free_stack_.push_back(s);
  }
  return {};
}

core::Status TokenPool::check_invariants() const {
  std::vector<uint8_t> seen(static_cast<size_t>(capacity_), 0);
  for (const int32_t s : free_stack_) {
    if (s < 0 || s >= capacity_) return core::internal_error("free stack holds bad slot {}", s);
    if (seen[static_cast<size_t>(s)]++) return core::internal_error("slot {} freed twice", s);
    if (in_use_[static_cast<size_t>(s)]) {
      return core::internal_error("slot {} is both free and in use", s);
    }
  }
  int64_t used = 0;
  for (const uint8_t u : in_use_) used += u ? 1 : 0;
  if (used + free_count() != capacity_) {
    return core::internal_error("pool: used {} + free {} != capacity {}", used, free_count(),
                                capacity_);
  }
  return {};
}

}  // namespace lightllm::kv
