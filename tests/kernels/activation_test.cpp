// tests/kernels/activation_test.cpp — silu_mul, gelu_mul (erf / tanh), gelu, softmax vs
// kernels/ref on odd sizes.
#include "kernel_test_util.h"
#include "kernels/cpu/vec_exp.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

// GCC 12 false positive inside its AVX-512 headers (self-initialised "undefined" vectors).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lightllm::ktest {
namespace {

using kernels::Activation;

Tensor ref_gated(const Tensor& gate, const Tensor* up, Activation act) {
  Tensor out = Tensor::empty(gate.shape(), DType::f32);
  kernels::ref::gated_act({.gate = gate.data<float>(),
                           .up = up ? up->data<float>() : nullptr,
                           .out = out.data<float>(),
                           .n = gate.numel(),
                           .act = act});
  return out;
}

TEST(GatedActivations, MatchReference) {
  for (int64_t rows : {1, 7, 83})
    for (int64_t inter : {1, 7, 769}) {
      Tensor gate = random_tensor({rows, inter}, 11, -8.0f, 8.0f);
      Tensor up = random_tensor({rows, inter}, 12);
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor out = Tensor::empty(gate.shape(), DType::f32);
        ASSERT_TRUE(ops::silu_mul(gate, up, out).ok());
        expect_close(out, ref_gated(gate, &up, Activation::silu), Tolerance::kF32Atol,
                     Tolerance::kF32Rtol, "silu_mul");
        ASSERT_TRUE(ops::gelu_mul(gate, up, false, out).ok());
        expect_close(out, ref_gated(gate, &up, Activation::gelu_erf), Tolerance::kF32Atol,
                     Tolerance::kF32Rtol, "gelu_mul erf");
        ASSERT_TRUE(ops::gelu_mul(gate, up, true, out).ok());
        expect_close(out, ref_gated(gate, &up, Activation::gelu_tanh), Tolerance::kF32Atol,
                     Tolerance::kF32Rtol, "gelu_mul tanh");
        Tensor aliased = copy_of(gate);  // out may alias gate
        ASSERT_TRUE(ops::silu_mul(aliased, up, aliased).ok());
        expect_close(aliased, ref_gated(gate, &up, Activation::silu), Tolerance::kF32Atol,
                     Tolerance::kF32Rtol, "silu_mul aliased");
        for (bool tanh_approx : {false, true}) {
          Tensor x = copy_of(gate);
          ASSERT_TRUE(ops::gelu(x, tanh_approx).ok());
          expect_close(
              x,
              ref_gated(gate, nullptr, tanh_approx ? Activation::gelu_tanh : Activation::gelu_erf),
              Tolerance::kF32Atol, Tolerance::kF32Rtol, "gelu");
        }
      }
    }
}

TEST(Softmax, MatchesReferenceAndHandlesLargeLogits) {
  for (int64_t rows : {1, 7, 83})
    for (int64_t cols : {1, 7, 83, 769}) {
      Tensor x = random_tensor({rows, cols}, 13, -30.0f, 60.0f);  // would overflow a naive exp
      Tensor want = copy_of(x);
      kernels::ref::softmax({.x = want.data<float>(), .rows = rows, .cols = cols});
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor got = copy_of(x);
        ASSERT_TRUE(ops::softmax(got).ok());
        expect_close(got, want, Tolerance::kF32Atol, Tolerance::kF32Rtol, "softmax");
      }
    }
}

}  // namespace
}  // namespace lightllm::ktest

// The vector exp used by attention's online softmax: relative error vs std::exp.

namespace lightllm::ktest {
namespace {

LLM_TARGET_AVX512 void exp16(const float* x, float* y) {
  _mm512_storeu_ps(y, kernels::cpu::exp_avx512(_mm512_loadu_ps(x)));
}
LLM_TARGET_AVX2 void exp8(const float* x, float* y) {
  _mm256_storeu_ps(y, kernels::cpu::exp_avx2(_mm256_loadu_ps(x)));
}

TEST(VecExp, WithinFourUlpOnTheSoftmaxRange) {
  std::vector<float> x;
  for (float v = -87.0f; v <= 10.0f; v += 0.013f) x.push_back(v);
  x.push_back(0.0f);
  while (x.size() % 16 != 0) x.push_back(-1.0f);
  std::vector<float> y(x.size());
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (isa > kernels::cpu::detected_isa()) continue;
    for (size_t i = 0; i < x.size(); i += 16) {
      if (isa == Isa::avx512) {
        exp16(&x[i], &y[i]);
      } else {
        exp8(&x[i], &y[i]);
        exp8(&x[i + 8], &y[i + 8]);
      }
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(static_cast<double>(x[i]));
      ASSERT_LE(std::fabs(y[i] - want), 4 * 1.2e-7 * want)
          << kernels::cpu::isa_name(isa) << " x=" << x[i];
    }
  }
  EXPECT_LT(std::fabs(y[0] - std::exp(-87.0)), 1e-40);
}

}  // namespace
}  // namespace lightllm::ktest
