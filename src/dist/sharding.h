// src/dist/sharding.h — which part of each weight a tensor-parallel rank holds (pure math, no
// tensors). Megatron-style split of a decoder:
// - attention heads: rank r holds query heads [r*H/N, (r+1)*H/N) (H must divide by N) and the
//   KV heads those query heads read: split evenly when n_kv_heads >= N (n_kv_heads must divide
//   by N), else replicated — rank r keeps the one KV head its query heads share (N must then
//   divide by n_kv_heads, so that no rank's query heads straddle two KV heads);
// - MLP intermediate: rank r holds [r*I/N, (r+1)*I/N) (I must divide by N);
// - vocabulary: every rank holds `padded` = ceil(V/N) rows starting at r*padded; the last
//   ranks may hold fewer real rows (`size`, possibly 0): the rest is zero padding.
// World 1 gives the whole model. Errors are invalid_argument naming the numbers at fault.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace lightllm::dist {

// Rows [start, start + size) of some dimension.
struct Range {
  int64_t start = 0;
  int64_t size = 0;
  bool operator==(const Range&) const = default;
};

struct HeadShard {
  int q_head0 = 0;  // first query head of this rank
  int n_q = 0;      // query heads of this rank
  int kv_head0 = 0;
  int n_kv = 0;
  bool kv_replicated = false;  // n_kv_heads < world: KV heads are copied, not split

  // Rows of a [heads * head_dim, ...] projection that this rank holds.
  Range q_rows(int64_t head_dim) const { return {q_head0 * head_dim, n_q * head_dim}; }
  Range kv_rows(int64_t head_dim) const { return {kv_head0 * head_dim, n_kv * head_dim}; }
};

struct VocabShard {
  int64_t start = 0;   // first vocabulary id of this rank
  int64_t size = 0;    // real rows held (<= padded; 0 when V is small and N large)
  int64_t padded = 0;  // rows every rank allocates: ceil(V / N)
};

core::Result<HeadShard> shard_heads(int n_heads, int n_kv_heads, int rank, int world);

// An even split of `total` rows (`what` names them in the error when total % world != 0).
core::Result<Range> even_split(int64_t total, int rank, int world, std::string_view what);

VocabShard shard_vocab(int64_t vocab, int rank, int world);

}  // namespace lightllm::dist
