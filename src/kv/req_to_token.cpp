// src/kv/req_to_token.cpp — row free list of the req_to_token table; see req_to_token.h.
#include "kv/req_to_token.h"

namespace lightllm::kv {

ReqToTokenTable::ReqToTokenTable(int32_t max_reqs, int64_t max_len)
    : max_reqs_(max_reqs < 0 ? 0 : max_reqs),
      max_len_(max_len < 0 ? 0 : max_len),
      data_(static_cast<size_t>(max_reqs_) * static_cast<size_t>(max_len_), -1),
      row_used_(static_cast<size_t>(max_reqs_), 0) {
  free_rows_.reserve(static_cast<size_t>(max_reqs_));
  for (int32_t r = max_reqs_ - 1; r >= 0; --r) free_rows_.push_back(r);
}

std::optional<int32_t> ReqToTokenTable::alloc_row() {
  if (free_rows_.empty()) return std::nullopt;
  const int32_t r = free_rows_.back();
  free_rows_.pop_back();
  row_used_[static_cast<size_t>(r)] = 1;
  return r;
}

core::Status ReqToTokenTable::free_row(int32_t r) {
  if (r < 0 || r >= max_reqs_) {
    return core::internal_error("ReqToTokenTable::free_row: row {} out of range [0, {})", r,
                                max_reqs_);
  }
  if (!row_used_[static_cast<size_t>(r)]) {
    return core::internal_error("ReqToTokenTable::free_row: row {} is not in use", r);
  }
  row_used_[static_cast<size_t>(r)] = 0;
  free_rows_.push_back(r);
  return {};
}

}  // namespace lightllm::kv
