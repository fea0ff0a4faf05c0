// src/kv/req_to_token.h — the req_to_token table: [max_reqs, max_len] int32 slot indices.
//
// Row r belongs to one running request; entry (r, pos) is the pool slot holding the K/V of
// that request's token at position pos. Attention reads K/V only through this table
// (DESIGN.md §3). Rows are handed out from a free list; entries of a free row are
// meaningless (the table does not clear them). Invariant: free_rows() + used_rows() == max_reqs().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"

namespace lightllm::kv {

class ReqToTokenTable {
 public:
  ReqToTokenTable(int32_t max_reqs, int64_t max_len);

  int32_t max_reqs() const { return max_reqs_; }
  int64_t max_len() const { return max_len_; }
  int32_t free_rows() const { return static_cast<int32_t>(free_rows_.size()); }
  int32_t used_rows() const { return max_reqs_ - free_rows(); }

  std::optional<int32_t> alloc_row();
  core::Status free_row(int32_t row);

  // Entries of one row: [max_len].
  std::span<int32_t> row(int32_t r) {
    return {data_.data() + static_cast<size_t>(r) * static_cast<size_t>(max_len_),
            static_cast<size_t>(max_len_)};
  }
  std::span<const int32_t> row(int32_t r) const {
    return {data_.data() + static_cast<size_t>(r) * static_cast<size_t>(max_len_),
            static_cast<size_t>(max_len_)};
  }
  // The whole table, row-major: [max_reqs, max_len] (what a runner copies to the device).
  const int32_t* data() const { return data_.data(); }

 private:
  int32_t max_reqs_;
  int64_t max_len_;
  std::vector<int32_t> data_;       // [max_reqs * max_len]
  std::vector<int32_t> free_rows_;  // stack
  std::vector<uint8_t> row_used_;   // [max_reqs]
};

}  // namespace lightllm::kv
