// src/kv/prefix_cache.h — the prefix cache: a radix tree over token ids whose nodes hold the
// pool slots of those tokens' K/V (DESIGN.md §3, LightLLM's "dynamic prompt cache").
//
// Ownership: every slot stored in the tree is owned by the tree (counted in size()); the
// TokenPool sees it as used. A running request that reuses a cached prefix holds a reference on
// the node where its match ends; a reference pins the whole path to the root, so a node's
// `ref` is the number of holders whose path goes through it. Only nodes with ref == 0 can be
// evicted, leaves first, least recently used first.
//
// Invariants (check_invariants()):
//   size() == sum of slots over all nodes; evictable_size() == that sum over nodes with ref 0;
//   a node's ref >= each child's ref (refs pin paths); every stored slot is used in the pool.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "kv/token_pool.h"

namespace lightllm::kv {

class PrefixCache {
 public:
  struct Node;  // opaque to users; a Node* is a handle for inc_ref/dec_ref

  struct Match {
    int64_t n_matched = 0;       // tokens of the query found in the tree
    std::vector<int32_t> slots;  // [n_matched] their slots
    Node* node = nullptr;        // where the match ends (the root when n_matched == 0)
  };

  explicit PrefixCache(TokenPool* pool);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // Longest cached prefix of `ids`. Splits an edge if the match ends inside it, so the returned
  // node ends exactly at n_matched. Marks the path as recently used. Takes no reference.
  Match match_prefix(std::span<const int32_t> ids);

  // Pin / unpin the path root..node (a request holding its matched prefix).
  void inc_ref(Node* node);
  void dec_ref(Node* node);

  // Stores ids[i] -> slots[i]. The tree takes ownership of every passed slot: positions not yet
  // in the tree keep their slot; positions already cached under a *different* slot give the
  // passed slot back to the pool (same slot = the caller's own cached prefix, nothing to do).
  // Returns the node where `ids` ends (the root for empty ids).
  core::Result<Node*> insert(std::span<const int32_t> ids, std::span<const int32_t> slots);

  // Frees at least `n_slots` slots back to the pool by removing unreferenced leaves, least
  // recently used first (a whole leaf at a time). Returns how many were freed (less than asked
  // only when nothing evictable is left).
  int64_t evict(int64_t n_slots);

  int64_t size() const { return size_; }                              // slots held by the tree
  int64_t evictable_size() const { return size_ - protected_size_; }  // in nodes with ref 0
  int64_t protected_size() const { return protected_size_; }          // in nodes with ref > 0
  int64_t node_count() const { return node_count_; }

  // Every slot the tree holds (any order). O(tree), for consistency checks.
  std::vector<int32_t> all_slots() const;

  // O(tree) consistency check, for tests.
  core::Status check_invariants() const;

 private:
  Node* split(Node* node, size_t at);  // node's edge becomes [at, end) under a new parent
  uint64_t tick() { return ++clock_; }

  TokenPool* pool_;
  std::unique_ptr<Node> root_;
  int64_t size_ = 0;
  int64_t protected_size_ = 0;
  int64_t node_count_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace lightllm::kv
