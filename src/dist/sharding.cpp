// src/dist/sharding.cpp — see sharding.h.
#include "dist/sharding.h"

#include <algorithm>

namespace lightllm::dist {

namespace {
core::Status check_rank(int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    return core::invalid_argument("tensor parallel: rank {} of world {} is not a valid rank", rank,
                                  world);
  return {};
}
}  // namespace

core::Result<HeadShard> shard_heads(int n_heads, int n_kv_heads, int rank, int world) {
  LLM_RETURN_IF_ERROR(check_rank(rank, world));
  if (n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0)
    return core::invalid_argument("tensor parallel: {} query heads and {} KV heads", n_heads,
                                  n_kv_heads);
  if (n_heads % world != 0)
    return core::invalid_argument(
        "tensor parallel: {} attention heads cannot be split over {} ranks (heads must be a "
        "multiple of the world size)",
        n_heads, world);
  HeadShard s;
  s.n_q = n_heads / world;
  s.q_head0 = rank * s.n_q;
  if (n_kv_heads >= world) {
    if (n_kv_heads % world != 0)
      return core::invalid_argument(
          "tensor parallel: {} KV heads cannot be split over {} ranks (must be a multiple of "
          "the world size, or fewer than it and dividing it)",
          n_kv_heads, world);
    s.n_kv = n_kv_heads / world;
    s.kv_head0 = rank * s.n_kv;
    return s;
  }
  if (world % n_kv_heads != 0)
    return core::invalid_argument(
        "tensor parallel: {} KV heads cannot be replicated over {} ranks (the world size must "
        "be a multiple of the KV heads when it exceeds them)",
        n_kv_heads, world);
  s.kv_replicated = true;
  s.n_kv = 1;
  s.kv_head0 = s.q_head0 / (n_heads / n_kv_heads);
  return s;
}

core::Result<Range> even_split(int64_t total, int rank, int world, std::string_view what) {
  LLM_RETURN_IF_ERROR(check_rank(rank, world));
  if (total % world != 0)
    return core::invalid_argument("tensor parallel: {} {} cannot be split evenly over {} ranks",
                                  what, total, world);
  const int64_t n = total / world;
  return Range{rank * n, n};
}

VocabShard shard_vocab(int64_t vocab, int rank, int world) {
  VocabShard s;
  s.padded = (vocab + world - 1) / world;
  s.start = std::min<int64_t>(int64_t{rank} * s.padded, vocab);
  s.size = std::min<int64_t>(s.padded, vocab - s.start);
  return s;
}

}  // namespace lightllm::dist
