// tests/kv/token_pool_test.cpp — slot allocator and req_to_token rows.
#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "kv/req_to_token.h"
#include "kv/token_pool.h"

namespace lightllm::kv {
namespace {

TEST(TokenPool, AllocFreeCounts) {
  TokenPool pool(10);
  auto a = pool.alloc(4);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(pool.used_count(), 4);
  EXPECT_EQ(pool.free_count(), 6);
  EXPECT_FALSE(pool.alloc(7));  // never partial
  EXPECT_EQ(pool.free_count(), 6);
  auto b = pool.alloc(6);
  ASSERT_TRUE(b);
  EXPECT_EQ(pool.free_count(), 0);
  EXPECT_TRUE(pool.free(*a).ok());
  EXPECT_EQ(pool.free_count(), 4);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(TokenPool, BadFreesChangeNothing) {
  TokenPool pool(8);
  auto a = *pool.alloc(3);
  EXPECT_FALSE(pool.free(std::vector<int32_t>{a[0], 7}).ok());  // 7 was never allocated
  EXPECT_EQ(pool.used_count(), 3);
  EXPECT_FALSE(pool.free(std::vector<int32_t>{a[0], a[0]}).ok());  // duplicate in one call
  EXPECT_EQ(pool.used_count(), 3);
  EXPECT_FALSE(pool.free(std::vector<int32_t>{-1}).ok());
  EXPECT_NE(pool.free(std::vector<int32_t>{99}).message().find("out of range"), std::string::npos);
  EXPECT_TRUE(pool.free(a).ok());
  EXPECT_NE(pool.free(a).message().find("not in use"), std::string::npos);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(TokenPool, RandomizedNeverHandsOutAUsedSlot) {
  TokenPool pool(256);
  std::mt19937_64 rng(5);
  std::vector<std::vector<int32_t>> held;
  std::set<int32_t> live;
  for (int it = 0; it < 3000; ++it) {
    if (rng() % 2 && !held.empty()) {
      const size_t i = rng() % held.size();
      ASSERT_TRUE(pool.free(held[i]).ok());
      for (int32_t s : held[i]) live.erase(s);
      held.erase(held.begin() + static_cast<ptrdiff_t>(i));
    } else {
      const int64_t n = static_cast<int64_t>(rng() % 20);
      auto got = pool.alloc(n);
      ASSERT_EQ(got.has_value(), n <= 256 - static_cast<int64_t>(live.size()));
      if (!got) continue;
      for (int32_t s : *got) ASSERT_TRUE(live.insert(s).second) << "slot handed out twice";
      held.push_back(*got);
    }
    ASSERT_EQ(pool.used_count(), static_cast<int64_t>(live.size()));
    ASSERT_EQ(pool.free_count() + pool.used_count(), pool.capacity());
  }
  ASSERT_TRUE(pool.check_invariants().ok());
}

TEST(ReqToToken, RowsAllocateAndFree) {
  ReqToTokenTable t(3, 16);
  auto r0 = t.alloc_row(), r1 = t.alloc_row(), r2 = t.alloc_row();
  ASSERT_TRUE(r0 && r1 && r2);
  EXPECT_FALSE(t.alloc_row());
  EXPECT_EQ(t.used_rows(), 3);
  t.row(*r1)[5] = 42;
  EXPECT_EQ(t.data()[static_cast<size_t>(*r1) * 16 + 5], 42);
  EXPECT_TRUE(t.free_row(*r1).ok());
  EXPECT_FALSE(t.free_row(*r1).ok());
  EXPECT_FALSE(t.free_row(7).ok());
  EXPECT_EQ(t.free_rows() + t.used_rows(), t.max_reqs());
  EXPECT_EQ(*t.alloc_row(), *r1);
}

}  // namespace
}  // namespace lightllm::kv
