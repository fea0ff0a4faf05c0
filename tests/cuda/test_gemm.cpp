// tests/cuda/test_gemm.cpp — the cuBLASLt GEMM wrapper vs an f64 reference: odd m (1/7/83/769),
// odd n and k, with and without bias, bf16 and f16; the plan cache reuses a plan per shape.
#include "cuda_test_util.h"
#include "kernels/cuda/gemm_lt.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

class Gemm : public ::testing::TestWithParam<DType> {};

TEST_P(Gemm, MatchesReferenceWithAndWithoutBias) {
  const DType dt = GetParam();
  auto g = kc::GemmLt::create();
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  struct Shape {
    int64_t m, n, k;
  };
  // cuBLASLt needs 16-byte aligned leading dimensions for 16-bit types: n and k multiples of 8.
  const Shape shapes[] = {{1, 64, 128}, {7, 200, 96}, {83, 256, 520}, {769, 136, 64}};
  for (const Shape& s : shapes) {
    auto x = random_values(dt, static_cast<size_t>(s.m * s.k), -1.f, 1.f, 1);
    auto w = random_values(dt, static_cast<size_t>(s.n * s.k), -1.f, 1.f, 2);
    auto b = random_values(dt, static_cast<size_t>(s.n), -1.f, 1.f, 3);
    auto dx = upload_half(dt, x), dw = upload_half(dt, w), db = upload_half(dt, b);
    for (bool bias : {false, true}) {
      auto dout = zeros(static_cast<size_t>(s.m * s.n) * 2);
      kc::GemmParams p{.dtype = dt,
                       .x = dx.data(),
                       .w = dw.data(),
                       .bias = bias ? db.data() : nullptr,
                       .out = dout.data(),
                       .m = s.m,
                       .n = s.n,
                       .k = s.k};
      auto st = (*g)->gemm(p, nullptr);
      ASSERT_TRUE(st.ok()) << st.to_string();
      auto got = download_half(dt, dout, static_cast<size_t>(s.m * s.n));
      std::vector<double> want(static_cast<size_t>(s.m * s.n));
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = bias ? b[static_cast<size_t>(j)] : 0.0;
          for (int64_t kk = 0; kk < s.k; ++kk)
            acc +=
                double(x[static_cast<size_t>(i * s.k + kk)]) * w[static_cast<size_t>(j * s.k + kk)];
          want[static_cast<size_t>(i * s.n + j)] = acc;
        }
      }
      // Sums of k products of magnitude <= 1: absolute tolerance grows like sqrt(k).
      expect_close(got, want, tol_for(dt, std::sqrt(double(s.k)) / 4),
                   "gemm " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                       std::to_string(s.k) + (bias ? " +bias" : ""));
    }
  }
  const size_t plans = (*g)->cached_plans();
  EXPECT_EQ(plans, 8u);
  // Same shapes again: no new plans.
  auto x = random_values(dt, 128, -1.f, 1.f, 1);
  auto w = random_values(dt, 64 * 128, -1.f, 1.f, 2);
  auto dx = upload_half(dt, x), dw = upload_half(dt, w);
  auto dout = zeros(64 * 2);
  kc::GemmParams p{
      .dtype = dt, .x = dx.data(), .w = dw.data(), .out = dout.data(), .m = 1, .n = 64, .k = 128};
  ASSERT_TRUE((*g)->gemm(p, nullptr).ok());
  EXPECT_EQ((*g)->cached_plans(), plans);
  p.dtype = DType::f32;
  EXPECT_EQ((*g)->gemm(p, nullptr).code(), core::StatusCode::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Gemm, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

}  // namespace
}  // namespace lightllm::cuda_test
