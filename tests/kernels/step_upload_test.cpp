// tests/kernels/step_upload_test.cpp — ops::upload_step on the CPU: the flat part, the pitched
// rows and the feed of sampled ids, and the checks (the CUDA kernel is compared with this in
// tests/cuda/test_ops_dispatch.cpp).
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernel_test_util.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

std::vector<int32_t> values(const Tensor& t) {
  return std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + t.numel());
}

// src = [ids 0..5 | feed pairs (rows 1, 4, 5 from samples 3, 0, 2) | rows 2 x 3], dst of 12.
struct Fixture {
  Tensor src = Tensor::empty({18}, DType::i32);
  Tensor dst = Tensor::empty({12}, DType::i32);
  Tensor dst_rows = Tensor::empty({3, 4}, DType::i32);
  Tensor sampled = Tensor::empty({4}, DType::i32);
  Fixture() {
    const int32_t head[] = {10, 11, 12, 13, 14, 15, 1, 4, 5, 3, 0, 2};
    std::copy(std::begin(head), std::end(head), src.data<int32_t>());
    std::iota(src.data<int32_t>() + 12, src.data<int32_t>() + 18, 50);  // rows 50 51 52 / 53 54 55
    std::fill_n(dst_rows.data<int32_t>(), 12, -7);
    for (int i = 0; i < 4; ++i) sampled.data<int32_t>()[i] = 100 + i;
  }
  ops::StepUpload upload() {
    return {.src = src,
            .dst = dst,
            .dst_rows = dst_rows,
            .rows = 2,
            .row_len = 3,
            .n_ids = 6,
            .feed_at = 6,
            .n_feed = 3,
            .sampled = sampled};
  }
};

TEST(UploadStep, CopiesThenFeedsTheSampledIds) {
  Fixture f;
  ASSERT_TRUE(ops::upload_step(f.upload()).ok());
  EXPECT_EQ(values(f.dst), (std::vector<int32_t>{10, 103, 12, 13, 100, 102, 1, 4, 5, 3, 0, 2}));
  // Row r of src lands at the start of row r of dst_rows; the rest stays as it was.
  EXPECT_EQ(values(f.dst_rows),
            (std::vector<int32_t>{50, 51, 52, -7, 53, 54, 55, -7, -7, -7, -7, -7}));
}

TEST(UploadStep, WithoutRowsOrFeedIsAPlainCopy) {
  Fixture f;
  ops::StepUpload u = f.upload();
  u.rows = 0;
  u.row_len = 0;
  u.dst_rows = Tensor();
  u.n_feed = 0;
  u.sampled = Tensor();
  ASSERT_TRUE(ops::upload_step(u).ok());
  EXPECT_EQ(values(f.dst), (std::vector<int32_t>{10, 11, 12, 13, 14, 15, 1, 4, 5, 3, 0, 2}));
}

TEST(UploadStep, RejectsPairsAndSizesOutOfRange) {
  {
    Fixture f;
    f.src.data<int32_t>()[9] = 4;  // source 4 of 4 samples
    EXPECT_FALSE(ops::upload_step(f.upload()).ok());
  }
  {
    Fixture f;
    f.src.data<int32_t>()[6] = 6;  // row 6 of 6 ids
    EXPECT_FALSE(ops::upload_step(f.upload()).ok());
  }
  Fixture f;
  ops::StepUpload u = f.upload();
  u.row_len = 4;  // src holds 12 + 2 x 3
  EXPECT_FALSE(ops::upload_step(u).ok());
  u = f.upload();
  u.rows = 4;  // dst_rows has 3
  EXPECT_FALSE(ops::upload_step(u).ok());
  u = f.upload();
  u.feed_at = 8;  // pairs would run past dst's 12
  EXPECT_FALSE(ops::upload_step(u).ok());
  u = f.upload();
  u.n_ids = 13;
  EXPECT_FALSE(ops::upload_step(u).ok());
  u = f.upload();
  u.sampled = Tensor();
  EXPECT_FALSE(ops::upload_step(u).ok());
}

}  // namespace
}  // namespace lightllm::ktest
