// tests/kernels/matmul_test.cpp — matmul (nn.Linear) vs the f64 reference for every weight
// dtype, ISA path, with/without bias, decode (m = 1..64) and prefill-sized m, odd n and k.
// The error bound scales with sum_k |x*w| (see Tolerance).
#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

// |got - ref| <= rtol * sum_k |x[i,k] w[j,k]| for every output.
void expect_matmul_close(const Tensor& got, const Tensor& want, const Tensor& x, const Tensor& w,
                         double rtol, const std::string& what) {
  const int64_t m = x.dim(0), n = w.dim(0), k = x.dim(1);
  int failures = 0;
  for (int64_t i = 0; i < m && failures < 5; ++i)
    for (int64_t j = 0; j < n && failures < 5; ++j) {
      double scale = 0.0;
      for (int64_t kk = 0; kk < k; ++kk)
        scale += std::fabs(x.data<float>()[i * k + kk] *
                           kernels::ref::load_elem(w.raw(), w.dtype(), j * k + kk));
      const double err = std::fabs(static_cast<double>(got.data<float>()[i * n + j]) -
                                   want.data<float>()[i * n + j]);
      if (!(err <= rtol * scale + 1e-6 * std::fabs(want.data<float>()[i * n + j]))) {
        ADD_FAILURE() << what << " m=" << m << " n=" << n << " k=" << k << " at (" << i << "," << j
                      << ") got " << got.data<float>()[i * n + j] << " want "
                      << want.data<float>()[i * n + j] << " err " << err << " bound "
                      << rtol * scale;
        ++failures;
      }
    }
}

struct Case {
  int64_t m, n, k;
};

TEST(Matmul, MatchesReferenceForEveryWeightDtypeAndPath) {
  const Case cases[] = {{1, 3, 0},    {100, 3, 0},   {1, 1, 1},    {1, 7, 83},    {7, 83, 769},
                        {3, 769, 64}, {64, 37, 129}, {83, 7, 769}, {129, 21, 45}, {200, 9, 33}};
  for (const Case& c : cases)
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (bool with_bias : {false, true}) {
        Tensor x = random_tensor({c.m, c.k}, 21);
        Tensor w = convert(random_tensor({c.n, c.k}, 22), dt);
        Tensor bias = with_bias ? random_tensor({c.n}, 23) : Tensor();
        Tensor want = Tensor::empty({c.m, c.n}, DType::f32);
        kernels::ref::matmul({.x = x.data<float>(),
                              .w = w.raw(),
                              .w_dtype = dt,
                              .bias = with_bias ? bias.data<float>() : nullptr,
                              .out = want.data<float>(),
                              .m = c.m,
                              .n = c.n,
                              .k = c.k});
        for (Isa isa : available_isas()) {
          IsaScope scope(isa);
          Tensor got = Tensor::empty({c.m, c.n}, DType::f32);
          ASSERT_TRUE(ops::matmul(x, w, bias, got).ok());
          const bool bf16_act = dt == DType::bf16 && isa >= Isa::avx512_bf16;
          expect_matmul_close(got, want, x, w,
                              bf16_act ? Tolerance::kMatmulBf16Act : Tolerance::kMatmulF32,
                              std::string("matmul ") + std::string(core::dtype_name(dt)) + " " +
                                  kernels::cpu::isa_name(isa));
        }
      }
}

}  // namespace
}  // namespace lightllm::ktest
