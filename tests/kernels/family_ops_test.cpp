// tests/kernels/family_ops_test.cpp — the ops the non-LLaMA decoders added beside LLaMA's, on
// the CPU: the residual add, per-head LayerNorm (each head its own weight, = kernels/ref's
// layer_norm on that head's row) and Qwen v1's log-n query scaling, plus their argument errors.
// (Their CUDA kernels are checked in tests/cuda/test_family_ops.cpp.)
#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(FamilyOps, AddIsElementwiseF32Sum) {
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{769}}) {
    Tensor acc = random_tensor({n, 3}, 1), x = random_tensor({n, 3}, 2);
    Tensor want = copy_of(acc);
    for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] += x.data<float>()[i];
    ASSERT_TRUE(ops::add(acc, x).ok());
    expect_close(acc, want, 0.0, 0.0, "add exact");
  }
  Tensor a = Tensor::empty({2, 3}, DType::f32), b = Tensor::empty({3, 2}, DType::f32);
  EXPECT_THAT(ops::add(a, b).message(), HasSubstr("add"));
}

TEST(FamilyOps, HeadLayerNormUsesEachHeadsWeight) {
  const int64_t n = 7, heads = 3, hd = 83;
  Tensor x = random_tensor({n, heads, hd}, 3, -1.0f, 3.0f);
  Tensor w = random_tensor({heads, hd}, 4, 0.5f, 1.5f);
  Tensor want = copy_of(x);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      float* row = want.data<float>() + (t * heads + h) * hd;
      kernels::ref::layer_norm({.x = row,
                                .weight = w.data<float>() + h * hd,
                                .bias = nullptr,
                                .out = row,
                                .n_tokens = 1,
                                .hidden = hd,
                                .eps = 1e-5f});
    }
  for (Isa isa : available_isas()) {
    IsaScope scope(isa);
    Tensor got = copy_of(x);
    ASSERT_TRUE(ops::head_layer_norm(got, w, 1e-5f).ok());
    expect_close(got, want, Tolerance::kF32Atol, Tolerance::kF32Rtol, "head_layer_norm");
  }
  Tensor bad = Tensor::empty({heads + 1, hd}, DType::f32);
  EXPECT_THAT(ops::head_layer_norm(x, bad, 1e-5f).message(),
              AllOf(HasSubstr("head_layer_norm"), HasSubstr("weight")));
}

TEST(FamilyOps, LognScaleOnlyPastSeqLength) {
  const int64_t n = 9, row = 8, seq = 4;
  Tensor q = random_tensor({n, 2, 4}, 5);
  Tensor pos = Tensor::empty({n}, DType::i32);
  for (int64_t t = 0; t < n; ++t) pos.data<int32_t>()[t] = static_cast<int32_t>(t);  // 0..8
  Tensor want = copy_of(q);
  for (int64_t t = 0; t < n; ++t) {
    if (t + 1 <= seq) continue;  // positions 0..3: factor 1, untouched
    const float s = static_cast<float>(std::log(double(t + 1)) / std::log(double(seq)));
    for (int64_t i = 0; i < row; ++i) want.data<float>()[t * row + i] *= s;
  }
  ASSERT_TRUE(ops::logn_scale(q, pos, seq).ok());
  expect_close(q, want, 0.0, 0.0, "logn_scale exact");
  EXPECT_THAT(ops::logn_scale(q, pos, 1).message(), HasSubstr("seq_length"));
  Tensor short_pos = Tensor::empty({n - 1}, DType::i32);
  EXPECT_THAT(ops::logn_scale(q, short_pos, seq).message(), HasSubstr("positions"));
}

}  // namespace
}  // namespace lightllm::ktest
