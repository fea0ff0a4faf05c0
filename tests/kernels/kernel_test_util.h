// tests/kernels/kernel_test_util.h — helpers for the kernel tests: seeded random tensors,
// the per-dtype tolerances (written once, here), ISA sweeps and closeness checks.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/isa.h"

namespace lightllm::ktest {

using core::DType;
using core::Tensor;
using kernels::cpu::Isa;

// Every SIMD path this CPU can run, so one machine tests them all.
inline std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512_bf16})
    if (i <= kernels::cpu::detected_isa()) out.push_back(i);
  return out;
}

// Caps the CPU kernels at `isa` for one scope.
class IsaScope {
 public:
  explicit IsaScope(Isa isa) { kernels::cpu::set_isa_limit(isa); }
  ~IsaScope() { kernels::cpu::set_isa_limit(Isa::avx512_bf16); }
};

// Per-dtype tolerances, relative to the scale named at each use.
struct Tolerance {
  // Elementwise / row-wise f32 kernels vs the f64 reference: |got - ref| <= atol + rtol*|ref|.
  static constexpr double kF32Rtol = 2e-5;
  static constexpr double kF32Atol = 2e-6;
  // matmul: |got - ref| <= rtol * sum_k |x[m,k] * w[n,k]| (the rounding-error bound's scale).
  // f32 math (f32/f16 weights, bf16 widened): K rounding steps of 2^-24 -> 1e-5 covers K<=4096.
  static constexpr double kMatmulF32 = 1e-5;
  // vdpbf16ps: x rounded to bf16 (relative error <= 2^-9 per product) plus f32 accumulation.
  static constexpr double kMatmulBf16Act = 4e-3;
  // Attention on the same stored KV as the reference: only f32 arithmetic differs.
  static constexpr double kAttentionAtol = 3e-5;
};

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A new f32 tensor filled with uniform values in [lo, hi).
inline Tensor random_tensor(const core::Shape& shape, uint32_t seed, float lo = -1.0f,
                            float hi = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::vector<float> v = random_floats(static_cast<size_t>(t.numel()), seed, lo, hi);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// f32 values converted to `dtype` (f32 | bf16 | f16) storage.
inline Tensor convert(const Tensor& src, DType dtype) {
  Tensor t = Tensor::empty(src.shape(), dtype);
  const float* s = src.data<float>();
  for (int64_t i = 0; i < src.numel(); ++i) {
    if (dtype == DType::f32) t.data<float>()[i] = s[i];
    if (dtype == DType::bf16) t.data<core::bf16>()[i] = core::f32_to_bf16(s[i]);
    if (dtype == DType::f16) t.data<core::f16>()[i] = core::f32_to_f16(s[i]);
  }
  return t;
}

inline Tensor copy_of(const Tensor& src) {
  Tensor t = Tensor::empty(src.shape(), src.dtype());
  std::copy_n(static_cast<const char*>(src.raw()), src.nbytes(), static_cast<char*>(t.raw()));
  return t;
}

// Every element: |got - ref| <= atol + rtol * |ref|. Reports the first few failures.
inline void expect_close(const float* got, const float* ref, int64_t n, double atol, double rtol,
                         const std::string& what) {
  int failures = 0;
  for (int64_t i = 0; i < n && failures < 5; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(ref[i])))) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << ref[i]
                    << " (err " << err << ")";
      ++failures;
    }
  }
}

inline void expect_close(const Tensor& got, const Tensor& ref, double atol, double rtol,
                         const std::string& what) {
  ASSERT_EQ(got.numel(), ref.numel()) << what;
  expect_close(got.data<float>(), ref.data<float>(), got.numel(), atol, rtol, what);
}

}  // namespace lightllm::ktest
