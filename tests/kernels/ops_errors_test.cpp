// tests/kernels/ops_errors_test.cpp — bad input to the ops gives a non-ok Status whose
// message names the op and the tensor at fault; the CUDA device is reported unimplemented.
#include "kernel_test_util.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(OpsErrors, MatmulShapeMismatchNamesOpAndTensor) {
  Tensor x = Tensor::empty({2, 8}, DType::f32), w = Tensor::empty({4, 9}, DType::f32);
  Tensor out = Tensor::empty({2, 4}, DType::f32);
  const core::Status st = ops::matmul(x, w, Tensor(), out);
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("matmul"), HasSubstr("w"), HasSubstr("[4, 9]")));
  Tensor bad_out = Tensor::empty({2, 5}, DType::f32);
  Tensor w_ok = Tensor::empty({4, 8}, DType::f32);
  EXPECT_THAT(ops::matmul(x, w_ok, Tensor(), bad_out).message(),
              AllOf(HasSubstr("matmul"), HasSubstr("out")));
}

TEST(OpsErrors, BadDtypeNamesOpTensorAndAllowedTypes) {
  Tensor x = Tensor::empty({2, 8}, DType::bf16), w = Tensor::empty({8}, DType::f32);
  Tensor out = Tensor::empty({2, 8}, DType::f32);
  const core::Status st = ops::rms_norm(x, w, 1e-6f, out);
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr("rms_norm"), HasSubstr("x"), HasSubstr("bf16"), HasSubstr("f32")));
  Tensor wi8 = Tensor::empty({4, 8}, DType::i8), xf = Tensor::empty({2, 8}, DType::f32);
  Tensor o = Tensor::empty({2, 4}, DType::f32);
  EXPECT_THAT(ops::matmul(xf, wi8, Tensor(), o).message(),
              AllOf(HasSubstr("matmul"), HasSubstr("w has dtype i8")));
}

TEST(OpsErrors, EmbeddingOutOfRangeIdNamesTheId) {
  Tensor table = Tensor::empty({10, 4}, DType::f32), ids = Tensor::empty({3}, DType::i32);
  ids.data<int32_t>()[2] = 10;
  Tensor out = Tensor::empty({3, 4}, DType::f32);
  const core::Status st = ops::embedding(table, ids, out);
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr("embedding"), HasSubstr("ids[2] = 10"), HasSubstr("[0, 10)")));
  ids.data<int32_t>()[2] = -1;
  EXPECT_FALSE(ops::embedding(table, ids, out).ok());
}

TEST(OpsErrors, KvSlotsOutsideThePoolAreRejected) {
  Tensor k = Tensor::empty({2, 1, 4}, DType::f32), v = Tensor::empty({2, 1, 4}, DType::f32);
  Tensor slots = Tensor::empty({2}, DType::i32);
  slots.data<int32_t>()[1] = 8;
  ops::KvCacheView c{
      Tensor::empty({8, 1, 4}, DType::f32), Tensor::empty({8, 1, 4}, DType::f32), {}, {}};
  EXPECT_THAT(ops::store_kv(k, v, slots, c).message(),
              AllOf(HasSubstr("store_kv"), HasSubstr("slots[1] = 8")));
  ops::KvCacheView c8{
      Tensor::empty({8, 1, 4}, DType::i8), Tensor::empty({8, 1, 4}, DType::i8), {}, {}};
  slots.data<int32_t>()[1] = 1;
  EXPECT_THAT(ops::store_kv(k, v, slots, c8).message(),
              AllOf(HasSubstr("store_kv"), HasSubstr("cache.k_scale")));

  // attention: a req_to_token entry outside the pool, and a bad GQA ratio.
  Tensor q = Tensor::empty({1, 3, 4}, DType::f32), out = Tensor::empty({1, 3, 4}, DType::f32);
  std::vector<int32_t> q_start = {0, 1}, kv_len = {2}, row = {0}, r2t = {0, 9};
  ops::AttentionMeta m{.q_start = q_start.data(),
                       .kv_len = kv_len.data(),
                       .req_row = row.data(),
                       .req_to_token = r2t.data(),
                       .req_to_token_stride = 2,
                       .n_reqs = 1,
                       .scale = 0.5f};
  ops::KvCacheView c3{
      Tensor::empty({8, 3, 4}, DType::f32), Tensor::empty({8, 3, 4}, DType::f32), {}, {}};
  EXPECT_THAT(ops::attention(q, c3, m, out).message(),
              AllOf(HasSubstr("attention"), HasSubstr("req_to_token[0][1] = 9")));
  Tensor q4 = Tensor::empty({1, 4, 4}, DType::f32), out4 = Tensor::empty({1, 4, 4}, DType::f32);
  EXPECT_THAT(ops::attention(q4, c3, m, out4).message(),
              AllOf(HasSubstr("attention"), HasSubstr("n_kv_heads")));
}

TEST(OpsErrors, RopeAndAliasingMistakes) {
  Tensor q = Tensor::empty({2, 2, 8}, DType::f32), k = Tensor::empty({2, 1, 8}, DType::f32);
  Tensor pos = Tensor::empty({2}, DType::i32);
  ops::RopeConfig cfg{.rotary_dim = 8};
  EXPECT_THAT(ops::rope(q, k, pos, {1.0f}, cfg).message(),
              AllOf(HasSubstr("rope"), HasSubstr("inv_freq")));
  cfg.rotary_dim = 9;
  EXPECT_THAT(ops::rope(q, k, pos, ops::rope_inv_freq(cfg, 2), cfg).message(),
              HasSubstr("rotary_dim"));
  Tensor res = Tensor::empty({2, 8}, DType::f32), w = Tensor::empty({8}, DType::f32);
  Tensor x = Tensor::empty({2, 8}, DType::f32);
  EXPECT_THAT(ops::add_rms_norm(res, x, w, 1e-6f, res).message(), HasSubstr("alias residual"));
}

// CUDA tensors are an error, never a crash: without the CUDA backend the op says it is not
// built; with it, f32 activations are refused before anything is launched.
TEST(OpsErrors, CudaTensorsAreErrorsNotCrashes) {
  std::vector<float> buf(16);
  Tensor x = Tensor::view(buf.data(), {2, 8}, DType::f32, core::Device::cuda);
  Tensor w = Tensor::view(buf.data(), {8}, DType::f32, core::Device::cuda);
  const core::Status st = ops::rms_norm(x, w, 1e-6f, x);
  if (!ops::cuda_built()) {
    EXPECT_EQ(st.code(), core::StatusCode::unimplemented);
    EXPECT_THAT(st.message(), AllOf(HasSubstr("rms_norm"), HasSubstr("CUDA backend not built")));
  } else {
    EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
    EXPECT_THAT(st.message(), AllOf(HasSubstr("rms_norm"), HasSubstr("bf16 or f16")));
  }
}

}  // namespace
}  // namespace lightllm::ktest
