// tests/kv/prefix_cache_test.cpp — radix tree: match, insert (splits, duplicates), references,
// LRU eviction of unreferenced leaves, and pool accounting.
#include <gtest/gtest.h>

#include "kv/prefix_cache.h"

namespace lightllm::kv {
namespace {

std::vector<int32_t> alloc(TokenPool& p, int64_t n) {
  return *p.alloc(n);
}

TEST(PrefixCache, InsertMatchAndSplit) {
  TokenPool pool(100);
  PrefixCache c(&pool);
  const std::vector<int32_t> a{1, 2, 3, 4, 5};
  const auto sa = alloc(pool, 5);
  ASSERT_TRUE(c.insert(a, sa).ok());
  EXPECT_EQ(c.size(), 5);
  auto m = c.match_prefix(std::vector<int32_t>{1, 2, 3, 9});
  EXPECT_EQ(m.n_matched, 3);
  EXPECT_EQ(m.slots, (std::vector<int32_t>{sa[0], sa[1], sa[2]}));
  EXPECT_EQ(c.node_count(), 2);  // the edge was split at 3
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{7}).n_matched, 0);
  EXPECT_EQ(c.match_prefix(a).n_matched, 5);
  ASSERT_TRUE(c.check_invariants().ok());
  EXPECT_EQ(pool.used_count(), c.size());
}

TEST(PrefixCache, InsertFreesDuplicateSlotsButKeepsOwnPrefix) {
  TokenPool pool(100);
  PrefixCache c(&pool);
  const auto s1 = alloc(pool, 4);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 3, 4}, s1).ok());
  // A second computation of {1,2,3,4,5,6} in other slots, sharing the first two of ours.
  std::vector<int32_t> s2{s1[0], s1[1]};
  const auto fresh = alloc(pool, 4);
  s2.insert(s2.end(), fresh.begin(), fresh.end());
  EXPECT_EQ(pool.used_count(), 8);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, s2).ok());
  // Positions 2,3 were duplicates (freed); 4,5 are new (kept); 0,1 are the same slots.
  EXPECT_EQ(c.size(), 6);
  EXPECT_EQ(pool.used_count(), 6);
  EXPECT_FALSE(pool.is_used(fresh[0]));
  EXPECT_FALSE(pool.is_used(fresh[1]));
  EXPECT_TRUE(pool.is_used(fresh[2]));
  ASSERT_TRUE(c.check_invariants().ok());
}

TEST(PrefixCache, ReferencedNodesAreNotEvicted) {
  TokenPool pool(20);
  PrefixCache c(&pool);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 3}, alloc(pool, 3)).ok());
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 7, 8}, alloc(pool, 4)).ok());
  auto m = c.match_prefix(std::vector<int32_t>{1, 2, 3});
  c.inc_ref(m.node);
  EXPECT_EQ(c.protected_size(), 3);  // {1,2} and {3}
  EXPECT_EQ(c.evictable_size(), 2);  // {7,8}
  EXPECT_EQ(c.evict(100), 2);
  EXPECT_EQ(c.size(), 3);
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{1, 2, 3}).n_matched, 3);
  c.dec_ref(m.node);
  EXPECT_EQ(c.evict(100), 3);
  EXPECT_EQ(c.size(), 0);
  EXPECT_EQ(pool.used_count(), 0);
  ASSERT_TRUE(c.check_invariants().ok());
}

TEST(PrefixCache, EvictionIsLeastRecentlyUsedFirst) {
  TokenPool pool(50);
  PrefixCache c(&pool);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 1}, alloc(pool, 2)).ok());  // A
  ASSERT_TRUE(c.insert(std::vector<int32_t>{2, 2}, alloc(pool, 2)).ok());  // B
  ASSERT_TRUE(c.insert(std::vector<int32_t>{3, 3}, alloc(pool, 2)).ok());  // C
  c.match_prefix(std::vector<int32_t>{1, 1});  // touch A: order now B, C, A
  EXPECT_EQ(c.evict(1), 2);
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{2, 2}).n_matched, 0);  // B went first
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{3, 3}).n_matched, 2);  // (touches C)
  EXPECT_EQ(c.evict(1), 2);
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{1, 1}).n_matched, 0);  // then A
  EXPECT_EQ(c.match_prefix(std::vector<int32_t>{3, 3}).n_matched, 2);
  ASSERT_TRUE(c.check_invariants().ok());
}

TEST(PrefixCache, EvictingALeafExposesItsParent) {
  TokenPool pool(50);
  PrefixCache c(&pool);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 3, 4}, alloc(pool, 4)).ok());
  c.match_prefix(std::vector<int32_t>{1, 2});  // split: {1,2} -> {3,4}
  EXPECT_EQ(c.evict(3), 4);                    // leaf {3,4}, then its parent {1,2}
  EXPECT_EQ(c.size(), 0);
  EXPECT_EQ(pool.used_count(), 0);
}

TEST(PrefixCache, RefsSurviveSplitBelowTheHolder) {
  TokenPool pool(50);
  PrefixCache c(&pool);
  ASSERT_TRUE(c.insert(std::vector<int32_t>{1, 2, 3, 4}, alloc(pool, 4)).ok());
  auto m = c.match_prefix(std::vector<int32_t>{1, 2, 3, 4});
  c.inc_ref(m.node);
  c.match_prefix(std::vector<int32_t>{1, 2});  // splits the held node's edge
  ASSERT_TRUE(c.check_invariants().ok());
  EXPECT_EQ(c.protected_size(), 4);
  EXPECT_EQ(c.evict(10), 0);
  c.dec_ref(m.node);
  EXPECT_EQ(c.protected_size(), 0);
  ASSERT_TRUE(c.check_invariants().ok());
}

}  // namespace
}  // namespace lightllm::kv
