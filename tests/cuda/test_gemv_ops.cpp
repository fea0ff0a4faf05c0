// tests/cuda/test_gemv_ops.cpp — the fused projection ops on device tensors against the
// unfused ops path they replace: ops::matmul_split (q/k/v from one stacked weight, with and
// without bias) equals three ops::matmul on the row views, and ops::gated_matmul equals
// matmul(gate) → matmul(up) → silu_mul / gelu_mul, bit for bit, for every m in 1..8 and 12
// (in the GEMV range both sides run the GEMV, whose per-row accumulation order does not depend
// on the variant; above it both run cuBLASLt per part). ops::matmul on the GEMV (m = 1, 2)
// agrees with cuBLASLt (the same rows inside m = 9) within one bf16 rounding. (The CPU side of the
// fused ops: tests/models/weight_uploader_test.cpp.)
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "ops/ops.h"

namespace lightllm {
namespace {

using core::Device;
using core::DType;
using core::Tensor;

Tensor random_f32(const core::Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

Tensor dev(const Tensor& host) {
  auto t = ops::to_device(host, Device::cuda, DType::bf16);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

Tensor dev_empty(const core::Shape& shape) {
  auto t = ops::empty_on(Device::cuda, shape, DType::bf16);
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

std::vector<uint16_t> bits_of(const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), DType::bf16);
  EXPECT_TRUE(ops::copy_to_host(d, h).ok());
  std::vector<uint16_t> v(static_cast<size_t>(h.numel()));
  std::memcpy(v.data(), h.raw(), v.size() * 2);
  return v;
}

TEST(GemvOps, MatmulSplitEqualsThreeMatmuls) {
  const int64_t k = 264, nq = 64, nk = 16, nv = 16, n = nq + nk + nv;
  const Tensor w = dev(random_f32({n, k}, 1)), b = dev(random_f32({n}, 2));
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 12}) {
    const Tensor x = dev(random_f32({m, k}, 10 + uint32_t(m)));
    for (bool bias : {false, true}) {
      const Tensor bb = bias ? b : Tensor();
      Tensor q = dev_empty({m, nq}), kk = dev_empty({m, nk}), v = dev_empty({m, nv});
      ASSERT_TRUE(ops::matmul_split(x, w, bb, {&q, &kk, &v}).ok());
      int64_t row0 = 0;
      for (Tensor* part : {&q, &kk, &v}) {
        const int64_t cols = part->dim(1);
        Tensor ref = dev_empty({m, cols});
        ASSERT_TRUE(
            ops::matmul(x, w.rows(row0, cols), bias ? b.rows(row0, cols) : Tensor(), ref).ok());
        EXPECT_EQ(bits_of(*part), bits_of(ref))
            << "m " << m << " bias " << bias << " row0 " << row0;
        row0 += cols;
      }
    }
  }
}

TEST(GemvOps, GatedMatmulEqualsMatmulsThenActivation) {
  const int64_t k = 136, inter = 40;
  const Tensor w = dev(random_f32({2 * inter, k}, 3, -0.2f, 0.2f));
  const Tensor b = dev(random_f32({2 * inter}, 4));
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 12}) {
    const Tensor x = dev(random_f32({m, k}, 20 + uint32_t(m)));
    for (ops::GatedAct act :
         {ops::GatedAct::silu, ops::GatedAct::gelu_tanh, ops::GatedAct::gelu_erf}) {
      const bool bias = m % 2 == 0;
      const Tensor bb = bias ? b : Tensor();
      Tensor out = dev_empty({m, inter}), scratch = dev_empty({m, inter});
      ASSERT_TRUE(ops::gated_matmul(x, w, bb, act, scratch, out).ok());
      Tensor g = dev_empty({m, inter}), u = dev_empty({m, inter});
      ASSERT_TRUE(ops::matmul(x, w.rows(0, inter), bias ? b.rows(0, inter) : Tensor(), g).ok());
      ASSERT_TRUE(
          ops::matmul(x, w.rows(inter, inter), bias ? b.rows(inter, inter) : Tensor(), u).ok());
      if (act == ops::GatedAct::silu) {
        ASSERT_TRUE(ops::silu_mul(g, u, g).ok());
      } else {
        ASSERT_TRUE(ops::gelu_mul(g, u, act == ops::GatedAct::gelu_tanh, g).ok());
      }
      EXPECT_EQ(bits_of(out), bits_of(g)) << "m " << m << " act " << int(act);
    }
  }
}

TEST(GemvOps, GemvAgreesWithCublasLt) {
  const int64_t k = 4096, n = 1000;
  const Tensor w = dev(random_f32({n, k}, 5)), x9 = dev(random_f32({9, k}, 6));
  Tensor o9 = dev_empty({9, n});
  ASSERT_TRUE(ops::matmul(x9, w, Tensor(), o9).ok());  // cuBLASLt
  for (int64_t m : {1, 2}) {
    Tensor o = dev_empty({m, n});
    ASSERT_TRUE(ops::matmul(x9.rows(0, m), w, Tensor(), o).ok());  // the GEMV
    const auto a = bits_of(o), b = bits_of(o9.rows(0, m));
    int far = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const float fa = core::bf16_to_f32(core::bf16{a[i]}),
                  fb = core::bf16_to_f32(core::bf16{b[i]});
      // Both round an f32 sum of 4096 products (|.| <= 1) to bf16: an ulp or two apart.
      if (std::fabs(fa - fb) > 1e-2f * std::max(1.f, std::fabs(fb))) ++far;
    }
    EXPECT_EQ(far, 0) << "m " << m;
  }
}

}  // namespace
}  // namespace lightllm
