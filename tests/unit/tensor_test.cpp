#include <gtest/gtest.h>

#include "core/tensor.h"

using namespace lightllm::core;

TEST(Tensor, EmptyIsZeroedAlignedAndContiguous) {
  Tensor t = Tensor::empty({3, 5}, DType::f32);
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_TRUE(t.is_contiguous());
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  EXPECT_EQ(t.describe(), "f32[3, 5] cpu");
}

TEST(Tensor, RowsAndReshapeAreViews) {
  Tensor t = Tensor::empty({4, 2}, DType::i32);
  for (int i = 0; i < 8; ++i) t.data<int32_t>()[i] = i;
  Tensor r = t.rows(1, 2);
  EXPECT_EQ(r.dim(0), 2);
  EXPECT_EQ(r.data<int32_t>()[0], 2);
  Tensor flat = t.reshape({8});
  EXPECT_EQ(flat.raw(), t.raw());
  EXPECT_EQ(flat.dim(-1), 8);
}

TEST(Tensor, CopiesShareOwnership) {
  Tensor copy;
  {
    Tensor t = Tensor::empty({2}, DType::f32);
    t.data<float>()[1] = 3.5f;
    copy = t;
  }
  EXPECT_EQ(copy.data<float>()[1], 3.5f);
}
