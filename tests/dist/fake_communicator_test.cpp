// tests/dist/fake_communicator_test.cpp — the in-process communicator: each collective against
// a scalar reference on 1..8 ranks (threads), bit-determinism of the f32 sum, and the error
// paths: a mismatch between ranks and a rank that never arrives fail with a Status (no hang),
// and a failed group stays failed.
#include "dist/fake_communicator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

namespace lightllm::dist {
namespace {

using core::DType;
using core::Status;
using core::Tensor;

// A value that differs per rank and element and is not exactly representable in sums.
float value(int rank, int64_t i) {
  return 0.1f * static_cast<float>(rank + 1) + 0.01f * static_cast<float>(i) + 1e-7f * rank;
}

TEST(FakeCommunicator, AllReduceSumMatchesRankOrderedReference) {
  for (int world : {1, 2, 3, 4, 8}) {
    auto comms = make_fake_group(world);
    const int64_t n = 37;
    std::vector<Tensor> xs(static_cast<size_t>(world));
    ASSERT_TRUE(run_ranks(world, [&](int r) -> Status {
                  Tensor& x = xs[static_cast<size_t>(r)];
                  x = Tensor::empty({n}, DType::f32);
                  for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = value(r, i);
                  EXPECT_EQ(comms[static_cast<size_t>(r)]->rank(), r);
                  EXPECT_EQ(comms[static_cast<size_t>(r)]->world_size(), world);
                  return comms[static_cast<size_t>(r)]->all_reduce_sum(x);
                }).ok());
    for (int64_t i = 0; i < n; ++i) {
      float want = 0.0f;
      for (int r = 0; r < world; ++r) want += value(r, i);  // rank order 0..N-1
      for (int r = 0; r < world; ++r)
        EXPECT_EQ(xs[static_cast<size_t>(r)].data<float>()[i], want) << world << " " << r;
    }
  }
}

TEST(FakeCommunicator, AllReduceSumBf16RoundsOnce) {
  const int world = 4;
  auto comms = make_fake_group(world);
  std::vector<Tensor> xs(world);
  ASSERT_TRUE(run_ranks(world, [&](int r) -> Status {
                Tensor& x = xs[static_cast<size_t>(r)];
                x = Tensor::empty({2, 5}, DType::bf16);
                for (int64_t i = 0; i < 10; ++i)
                  x.data<core::bf16>()[i] = core::f32_to_bf16(value(r, i));
                return comms[static_cast<size_t>(r)]->all_reduce_sum(x);
              }).ok());
  for (int64_t i = 0; i < 10; ++i) {
    float sum = 0.0f;
    for (int r = 0; r < world; ++r) sum += core::bf16_to_f32(core::f32_to_bf16(value(r, i)));
    for (int r = 0; r < world; ++r)
      EXPECT_EQ(core::bf16_to_f32(xs[static_cast<size_t>(r)].data<core::bf16>()[i]),
                core::bf16_to_f32(core::f32_to_bf16(sum)));
  }
}

TEST(FakeCommunicator, ManyCollectivesInARowAreDeterministic) {
  const int world = 4, steps = 200;
  auto comms = make_fake_group(world);
  std::vector<std::vector<float>> seen(world);
  ASSERT_TRUE(run_ranks(world, [&](int r) -> Status {
                Tensor x = Tensor::empty({3}, DType::f32);
                for (int s = 0; s < steps; ++s) {
                  for (int64_t i = 0; i < 3; ++i) x.data<float>()[i] = value(r, i + s);
                  LLM_RETURN_IF_ERROR(comms[static_cast<size_t>(r)]->all_reduce_sum(x));
                  seen[static_cast<size_t>(r)].push_back(x.data<float>()[2]);
                }
                return {};
              }).ok());
  for (int r = 1; r < world; ++r) EXPECT_EQ(seen[static_cast<size_t>(r)], seen[0]);
}

TEST(FakeCommunicator, AllGatherIsRankMajorAlongDim0) {
  for (int world : {1, 2, 4, 8}) {
    auto comms = make_fake_group(world);
    std::vector<Tensor> outs(static_cast<size_t>(world));
    ASSERT_TRUE(run_ranks(world, [&](int r) -> Status {
                  Tensor x = Tensor::empty({2, 3}, DType::f32);
                  for (int64_t i = 0; i < 6; ++i) x.data<float>()[i] = value(r, i);
                  Tensor& out = outs[static_cast<size_t>(r)];
                  out = Tensor::empty({2 * world, 3}, DType::f32);
                  return comms[static_cast<size_t>(r)]->all_gather(x, out);
                }).ok());
    for (int r = 0; r < world; ++r)
      for (int src = 0; src < world; ++src)
        for (int64_t i = 0; i < 6; ++i)
          EXPECT_EQ(outs[static_cast<size_t>(r)].data<float>()[src * 6 + i], value(src, i));
  }
}

TEST(FakeCommunicator, BroadcastCopiesTheRootI32) {
  const int world = 4, root = 2;
  auto comms = make_fake_group(world);
  std::vector<Tensor> xs(world);
  ASSERT_TRUE(run_ranks(world, [&](int r) -> Status {
                Tensor& x = xs[static_cast<size_t>(r)];
                x = Tensor::empty({5}, DType::i32);
                for (int i = 0; i < 5; ++i) x.data<int32_t>()[i] = 100 * r + i;
                return comms[static_cast<size_t>(r)]->broadcast(x, root);
              }).ok());
  for (int r = 0; r < world; ++r)
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(xs[static_cast<size_t>(r)].data<int32_t>()[i], 100 * root + i);
}

TEST(FakeCommunicator, ShapeMismatchFailsOnEveryRankAndBreaksTheGroup) {
  const int world = 3;
  auto comms = make_fake_group(world);
  std::vector<Status> st(world);
  (void)run_ranks(world, [&](int r) -> Status {
    Tensor x = Tensor::empty({r == 1 ? 4 : 3}, DType::f32);
    st[static_cast<size_t>(r)] = comms[static_cast<size_t>(r)]->all_reduce_sum(x);
    return {};
  });
  for (const Status& s : st) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("rank 1"), std::string::npos) << s.to_string();
  }
  Tensor y = Tensor::empty({3}, DType::f32);  // the group is unusable afterwards
  EXPECT_FALSE(comms[0]->all_reduce_sum(y).ok());
}

TEST(FakeCommunicator, DifferentCollectivesOrDtypesFail) {
  {
    auto comms = make_fake_group(2);
    std::vector<Status> st(2);
    (void)run_ranks(2, [&](int r) -> Status {
      Tensor x = Tensor::empty({4}, DType::f32);
      st[static_cast<size_t>(r)] = r == 0 ? comms[0]->all_reduce_sum(x) : comms[1]->broadcast(x, 0);
      return {};
    });
    EXPECT_FALSE(st[0].ok());
    EXPECT_NE(st[0].message().find("broadcast"), std::string::npos) << st[0].to_string();
    EXPECT_FALSE(st[1].ok());
  }
  {
    auto comms = make_fake_group(2);
    EXPECT_FALSE(run_ranks(2, [&](int r) -> Status {
                   Tensor x = Tensor::empty({4}, r == 0 ? DType::f32 : DType::f16);
                   return comms[static_cast<size_t>(r)]->all_reduce_sum(x);
                 }).ok());
  }
  {  // an i32 sum is not supported; a wrong gather output shape is an error
    auto comms = make_fake_group(1);
    Tensor i = Tensor::empty({4}, DType::i32);
    EXPECT_FALSE(comms[0]->all_reduce_sum(i).ok());
    auto comms2 = make_fake_group(2);
    EXPECT_FALSE(run_ranks(2, [&](int r) -> Status {
                   Tensor x = Tensor::empty({2}, DType::f32), out = Tensor::empty({3}, DType::f32);
                   return comms2[static_cast<size_t>(r)]->all_gather(x, out);
                 }).ok());
  }
}

TEST(FakeCommunicator, AMissingRankTimesOutInsteadOfHanging) {
  const int world = 3;
  auto comms = make_fake_group(world, std::chrono::milliseconds(200));
  std::vector<Status> st(world);
  const auto t0 = std::chrono::steady_clock::now();
  (void)run_ranks(world, [&](int r) -> Status {
    if (r == 2) return {};  // never calls the collective
    Tensor x = Tensor::empty({4}, DType::f32);
    st[static_cast<size_t>(r)] = comms[static_cast<size_t>(r)]->all_reduce_sum(x);
    return {};
  });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(st[static_cast<size_t>(r)].code(), core::StatusCode::unavailable);
    EXPECT_NE(st[static_cast<size_t>(r)].message().find("2 of 3"), std::string::npos)
        << st[static_cast<size_t>(r)].to_string();
  }
  Tensor x = Tensor::empty({4}, DType::f32);  // the late rank fails at once
  EXPECT_FALSE(comms[2]->all_reduce_sum(x).ok());
}

TEST(FakeCommunicator, RunRanksReportsTheFirstFailingRank) {
  const Status s = run_ranks(
      4, [](int r) -> Status { return r >= 2 ? core::internal_error("boom {}", r) : Status{}; });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rank 2"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace lightllm::dist
