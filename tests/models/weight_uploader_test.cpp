// tests/models/weight_uploader_test.cpp — WeightUploader::upload_fused and stacked_rows on the
// CPU (the uploader's target device is a parameter; the CPU exercises the same stacking logic
// as CUDA): parts become adjacent row views of one allocation in the activation dtype with
// their values, counted once; parts that cannot be stacked (an undefined one, different
// columns, one already uploaded) are uploaded one by one; stacked_rows finds the fused view
// only for adjacent, same-dtype, same-width parts; on the CPU ops::matmul_split and
// ops::gated_matmul equal the per-part ops exactly.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "models/layers/common.h"
#include "ops/ops.h"

namespace lightllm::models {
namespace {

using core::Device;
using core::DType;

Tensor random_f32(const core::Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

Tensor filled(const core::Shape& shape, float base) {
  Tensor t = Tensor::empty(shape, DType::f32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = base + 0.25f * float(i);
  return t;
}

TEST(WeightUploader, FusedPartsBecomeAdjacentViewsOfOneAllocation) {
  Tensor q = filled({6, 4}, 1.f), k = filled({2, 4}, 100.f), v = filled({2, 4}, -50.f);
  const Tensor q0 = q, k0 = k, v0 = v;
  WeightUploader up(Device::cpu, DType::bf16);
  ASSERT_TRUE(up.upload_fused({&q, &k, &v}).ok());
  EXPECT_EQ(up.bytes(), 10 * 4 * 2);  // one allocation, bf16
  for (const Tensor* t : {&q, &k, &v}) EXPECT_EQ(t->dtype(), DType::bf16);
  EXPECT_EQ(static_cast<char*>(k.raw()), static_cast<char*>(q.raw()) + q.nbytes());
  EXPECT_EQ(static_cast<char*>(v.raw()), static_cast<char*>(k.raw()) + k.nbytes());
  for (auto [got, want] : {std::pair{&q, &q0}, {&k, &k0}, {&v, &v0}}) {
    ASSERT_EQ(got->shape(), want->shape());
    for (int64_t i = 0; i < want->numel(); ++i)
      EXPECT_EQ(core::bf16_to_f32(got->data<core::bf16>()[i]),
                core::bf16_to_f32(core::f32_to_bf16(want->data<float>()[i])));
  }
  const Tensor fused = stacked_rows({&q, &k, &v});
  ASSERT_TRUE(fused.defined());
  EXPECT_EQ(fused.shape(), core::Shape({10, 4}));
  EXPECT_EQ(fused.raw(), q.raw());
  // A later upload of the same host tensor (tied weights) gets the same view, not a new copy.
  Tensor again = k0;
  ASSERT_TRUE(up.upload(again).ok());
  EXPECT_EQ(again.raw(), k.raw());
  EXPECT_EQ(up.bytes(), 10 * 4 * 2);
}

TEST(WeightUploader, UnstackablePartsAreUploadedOneByOne) {
  WeightUploader up(Device::cpu, DType::bf16);
  {  // one part undefined (a family with a q bias only)
    Tensor bq = filled({6}, 0.f), bk, bv;
    ASSERT_TRUE(up.upload_fused({&bq, &bk, &bv}).ok());
    EXPECT_TRUE(bq.defined() && !bk.defined() && !bv.defined());
    EXPECT_EQ(bq.dtype(), DType::bf16);
    EXPECT_FALSE(stacked_rows({&bq, &bk, &bv}).defined());
  }
  {  // different widths
    Tensor a = filled({3, 4}, 0.f), b = filled({3, 8}, 0.f);
    ASSERT_TRUE(up.upload_fused({&a, &b}).ok());
    EXPECT_EQ(a.dtype(), DType::bf16);
    EXPECT_EQ(b.dtype(), DType::bf16);
    EXPECT_FALSE(stacked_rows({&a, &b}).defined());
  }
  {  // all undefined (no biases): nothing happens
    Tensor a, b;
    ASSERT_TRUE(up.upload_fused({&a, &b}).ok());
    EXPECT_FALSE(a.defined() || b.defined());
  }
  {  // one part already uploaded (shared): separate uploads, the shared one reused
    Tensor shared = filled({2, 4}, 3.f);
    Tensor first = shared;
    ASSERT_TRUE(up.upload(first).ok());
    Tensor gate = filled({2, 4}, 7.f), upt = shared;
    const int64_t before = up.bytes();
    ASSERT_TRUE(up.upload_fused({&gate, &upt}).ok());
    EXPECT_EQ(upt.raw(), first.raw());
    EXPECT_EQ(up.bytes(), before + 2 * 4 * 2);
  }
}

TEST(StackedRows, OnlyAdjacentCompatibleParts) {
  Tensor buf = filled({10, 4}, 0.f);
  const Tensor a = buf.rows(0, 6), b = buf.rows(6, 2), c = buf.rows(8, 2);
  const Tensor abc = stacked_rows({&a, &b, &c});
  ASSERT_TRUE(abc.defined());
  EXPECT_EQ(abc.shape(), core::Shape({10, 4}));
  EXPECT_FALSE(stacked_rows({&a, &c}).defined());  // a gap
  EXPECT_FALSE(stacked_rows({&b, &a}).defined());  // wrong order
  Tensor other = filled({2, 4}, 0.f);
  EXPECT_FALSE(stacked_rows({&a, &other}).defined());
  const Tensor narrow = Tensor::view(static_cast<float*>(buf.raw()) + 24, {2, 2}, DType::f32);
  EXPECT_FALSE(stacked_rows({&a, &narrow}).defined());  // adjacent but of another width
  const Tensor as_i32 = Tensor::view(b.raw(), {2, 4}, DType::i32);
  EXPECT_FALSE(stacked_rows({&a, &as_i32}).defined());
}

TEST(FusedOps, CpuEqualsPerPartOps) {
  const int64_t m = 3, k = 32, inter = 8;
  const Tensor x = random_f32({m, k}, 7), w = random_f32({2 * inter, k}, 8),
               b = random_f32({2 * inter}, 9);
  Tensor a = Tensor::empty({m, inter}, DType::f32), c = Tensor::empty({m, inter}, DType::f32);
  ASSERT_TRUE(ops::matmul_split(x, w, b, {&a, &c}).ok());
  Tensor ra = Tensor::empty({m, inter}, DType::f32), rc = Tensor::empty({m, inter}, DType::f32);
  ASSERT_TRUE(ops::matmul(x, w.rows(0, inter), b.rows(0, inter), ra).ok());
  ASSERT_TRUE(ops::matmul(x, w.rows(inter, inter), b.rows(inter, inter), rc).ok());
  EXPECT_EQ(std::memcmp(a.raw(), ra.raw(), a.nbytes()), 0);
  EXPECT_EQ(std::memcmp(c.raw(), rc.raw(), c.nbytes()), 0);
  Tensor out = Tensor::empty({m, inter}, DType::f32),
         scratch = Tensor::empty({m, inter}, DType::f32);
  ASSERT_TRUE(ops::gated_matmul(x, w, b, ops::GatedAct::silu, scratch, out).ok());
  ASSERT_TRUE(ops::silu_mul(ra, rc, ra).ok());
  EXPECT_EQ(std::memcmp(out.raw(), ra.raw(), out.nbytes()), 0);
  // Shape errors are reported, not run.
  Tensor wrong = Tensor::empty({m, inter + 1}, DType::f32);
  EXPECT_FALSE(ops::matmul_split(x, w, b, {&a, &wrong}).ok());
  EXPECT_FALSE(ops::gated_matmul(x, w, b, ops::GatedAct::silu, scratch, wrong).ok());
}

}  // namespace
}  // namespace lightllm::models
