// tests/kernels/norm_test.cpp — embedding, rms_norm, add_rms_norm, layer_norm: the CPU ops
// (every ISA path) against kernels/ref on odd shapes and every table dtype.
#include <algorithm>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

const int64_t kRows[] = {1, 7, 83};
const int64_t kHidden[] = {1, 7, 83, 769};

TEST(Embedding, MatchesReferenceForEveryTableDtype) {
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    for (int64_t hidden : kHidden) {
      const int64_t vocab = 97;
      Tensor table = convert(random_tensor({vocab, hidden}, 1), dt);
      Tensor ids = Tensor::empty({83}, DType::i32);
      for (int i = 0; i < 83; ++i) ids.data<int32_t>()[i] = (i * 37 + 5) % vocab;
      Tensor want = Tensor::empty({83, hidden}, DType::f32);
      kernels::ref::embedding({.table = table.raw(),
                               .table_dtype = dt,
                               .ids = ids.data<int32_t>(),
                               .out = want.data<float>(),
                               .n_tokens = 83,
                               .hidden = hidden});
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor got = Tensor::empty({83, hidden}, DType::f32);
        ASSERT_TRUE(ops::embedding(table, ids, got).ok());
        expect_close(got, want, 0.0, 0.0, "embedding exact");  // a gather is exact
      }
    }
  }
}

TEST(RmsNorm, MatchesReference) {
  for (int64_t rows : kRows)
    for (int64_t hidden : kHidden) {
      Tensor x = random_tensor({rows, hidden}, 2, -3.0f, 3.0f);
      Tensor w = random_tensor({hidden}, 3);
      Tensor want = Tensor::empty({rows, hidden}, DType::f32);
      kernels::ref::rms_norm({.x = x.data<float>(),
                              .weight = w.data<float>(),
                              .out = want.data<float>(),
                              .n_tokens = rows,
                              .hidden = hidden,
                              .eps = 1e-6f});
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor got = Tensor::empty({rows, hidden}, DType::f32);
        ASSERT_TRUE(ops::rms_norm(x, w, 1e-6f, got).ok());
        expect_close(got, want, Tolerance::kF32Atol, Tolerance::kF32Rtol, "rms_norm");
        Tensor inplace = copy_of(x);  // out may alias x
        ASSERT_TRUE(ops::rms_norm(inplace, w, 1e-6f, inplace).ok());
        expect_close(inplace, want, Tolerance::kF32Atol, Tolerance::kF32Rtol, "rms_norm in place");
      }
    }
}

TEST(AddRmsNorm, UpdatesResidualAndNormalizesTheSum) {
  for (int64_t rows : kRows)
    for (int64_t hidden : kHidden) {
      Tensor x = random_tensor({rows, hidden}, 4);
      Tensor res0 = random_tensor({rows, hidden}, 5);
      Tensor w = random_tensor({hidden}, 6);
      Tensor want_res = copy_of(res0);
      Tensor want = Tensor::empty({rows, hidden}, DType::f32);
      kernels::ref::rms_norm({.x = x.data<float>(),
                              .residual = want_res.data<float>(),
                              .weight = w.data<float>(),
                              .out = want.data<float>(),
                              .n_tokens = rows,
                              .hidden = hidden,
                              .eps = 1e-5f});
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor res = copy_of(res0);
        Tensor got = copy_of(x);  // out aliases x: allowed
        ASSERT_TRUE(ops::add_rms_norm(res, got, w, 1e-5f, got).ok());
        expect_close(res, want_res, 0.0, 0.0, "add_rms_norm residual (one f32 add)");
        expect_close(got, want, Tolerance::kF32Atol, Tolerance::kF32Rtol, "add_rms_norm");
      }
    }
}

TEST(LayerNorm, MatchesReferenceWithAndWithoutBias) {
  for (int64_t rows : kRows)
    for (int64_t hidden : kHidden)
      for (bool with_bias : {false, true}) {
        Tensor x = random_tensor({rows, hidden}, 7, -2.0f, 4.0f);
        Tensor w = random_tensor({hidden}, 8);
        Tensor b = with_bias ? random_tensor({hidden}, 9) : Tensor();
        Tensor want = Tensor::empty({rows, hidden}, DType::f32);
        kernels::ref::layer_norm({.x = x.data<float>(),
                                  .weight = w.data<float>(),
                                  .bias = with_bias ? b.data<float>() : nullptr,
                                  .out = want.data<float>(),
                                  .n_tokens = rows,
                                  .hidden = hidden,
                                  .eps = 1e-5f});
        for (Isa isa : available_isas()) {
          IsaScope scope(isa);
          Tensor got = Tensor::empty({rows, hidden}, DType::f32);
          ASSERT_TRUE(ops::layer_norm(x, w, b, 1e-5f, got).ok());
          // Centering in f32 loses about |mean| / std ulps: outputs near 0 get an atol of 1e-5.
          expect_close(got, want, 1e-5, Tolerance::kF32Rtol, "layer_norm");
        }
      }
}

}  // namespace
}  // namespace lightllm::ktest
