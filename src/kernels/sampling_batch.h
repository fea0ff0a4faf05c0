// src/kernels/sampling_batch.h — what device sampling needs to know about each row of a step,
// packed on the host (engine/sampling/device_sampling.cpp) and uploaded in one copy by
// ops::sample. Plain data: no CUDA types, so the packing is tested in CPU-only CI.
//
// Penalty state is host-authoritative: the host SamplingState (prompt ids, output counts) is
// the truth, and each step sends the distinct tokens a row's penalties touch as a CSR list
// (pen_tokens / pen_counts, rows[r].pen_begin..pen_end). Rows without penalties send nothing,
// so the common case costs no bytes; nothing on the device has to be kept in sync with the
// router's req rows across pause/resume, abort or row reuse. Invariants (checked by
// ops::sample on the host): 0 <= begin <= end <= list size, tokens in [0, vocab), tokens
// distinct within a row.
#pragma once

#include <cstdint>
#include <vector>

namespace lightllm::kernels {

struct SampleRow {
  float temperature = 1.0f;         // > 0; only used when do_sample
  float top_p = 1.0f;               // (0, 1]; 1 = off
  float repetition_penalty = 1.0f;  // 1 = off; applied to every token of the pen list
  float presence_penalty = 0.0f;    // applied to pen-list tokens with count > 0
  float frequency_penalty = 0.0f;
  int32_t top_k = 0;      // <= 0 or >= vocab: off
  int32_t do_sample = 0;  // 0: greedy (argmax of the penalised logits, lowest id on ties)
  int32_t pen_begin = 0, pen_end = 0;    // this row's range of pen_tokens / pen_counts
  int32_t mask_begin = 0, mask_end = 0;  // this row's range of mask_tokens (set to -inf)
  int32_t pad_ = 0;
  uint64_t seed = 0;     // Philox key (philox.h)
  uint64_t counter = 0;  // Philox counter: the sequence's number of tokens generated so far
};
static_assert(sizeof(SampleRow) == 64, "SampleRow is uploaded as raw bytes");

struct SampleBatch {
  std::vector<SampleRow> rows;       // [n_rows]
  std::vector<int32_t> pen_tokens;   // [n_pen] distinct per row: prompt ∪ output tokens
  std::vector<int32_t> pen_counts;   // [n_pen] times the token was generated (0: prompt only)
  std::vector<int32_t> mask_tokens;  // [n_mask] stop ids masked before min_new_tokens

  void clear() {
    rows.clear();
    pen_tokens.clear();
    pen_counts.clear();
    mask_tokens.clear();
  }
};

}  // namespace lightllm::kernels
