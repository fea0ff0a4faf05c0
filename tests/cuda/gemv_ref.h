// tests/cuda/gemv_ref.h — scalar f64 references and tolerances for the skinny GEMM
// (src/kernels/cuda/gemv.h), shared by tests/cuda/test_gemv.cpp and the standalone harness
// bench/cuda/gemv_tune.cpp (header-only, no gtest). Inputs are floats already rounded to the
// activation dtype, so the reference sees exactly the values the GPU reads.
//
// Tolerances (documented here, used by both):
//  - plain: |got - want| <= 1e-5·sqrt(k) + eps·|want|: the f32 accumulation error of k
//    products of magnitude <= 1 is far below 1e-5·sqrt(k), and rounding the output costs a
//    half-ulp (eps is the output's ulp at 1: 2^-7 bf16, 2^-10 f16, 2^-23 f32 out).
//  - gated: the kernel rounds g and u to the dtype before act(g)·u (as the unfused path does),
//    so the reference computes exact g, u and bounds the effect of those roundings:
//    |δout| <= eps·(1.2·|g|·|u| + 2·|act(g)·u|) + atol, with eps the dtype's ulp (act' <= 1.13
//    for SiLU and both GELUs).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace lightllm::cuda_test {

// f64 act(g) for the gated MLPs: 0 silu, 1 gelu_tanh, 2 gelu_erf (kernels::cuda::GatedAct order).
inline double gemv_ref_act(int act, double g) {
  if (act == 0) return g / (1.0 + std::exp(-g));
  if (act == 1) {
    const double k0 = std::sqrt(2.0 / M_PI);
    return 0.5 * g * (1.0 + std::tanh(k0 * (g + 0.044715 * g * g * g)));
  }
  return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
}

// out[i, j] = sum_k x[i, k] w[j, k] (+ bias[j]) in f64. x: [m, k]; w: [n, k]; bias: [n] or empty.
inline std::vector<double> gemv_ref(const std::vector<float>& x, const std::vector<float>& w,
                                    const std::vector<float>& bias, int64_t m, int64_t n,
                                    int64_t k) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(j)];
      const float* xr = x.data() + i * k;
      const float* wr = w.data() + j * k;
      for (int64_t kk = 0; kk < k; ++kk) acc += double(xr[kk]) * double(wr[kk]);
      out[static_cast<size_t>(i * n + j)] = acc;
    }
  return out;
}

struct GatedRef {
  std::vector<double> out;  // [m, inter] act(g) * u, exact
  std::vector<double> tol;  // [m, inter] per-element tolerance (see the file comment)
};

// w: [2 * inter, k] (gate rows, then up rows); bias: [2 * inter] or empty; eps: the dtype's ulp.
inline GatedRef gemv_gated_ref(const std::vector<float>& x, const std::vector<float>& w,
                               const std::vector<float>& bias, int64_t m, int64_t inter, int64_t k,
                               int act, double eps) {
  const std::vector<double> gu = gemv_ref(x, w, bias, m, 2 * inter, k);
  GatedRef r;
  r.out.resize(static_cast<size_t>(m * inter));
  r.tol.resize(r.out.size());
  const double atol = 1e-5 * std::sqrt(double(k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < inter; ++j) {
      const double g = gu[static_cast<size_t>(i * 2 * inter + j)];
      const double u = gu[static_cast<size_t>(i * 2 * inter + inter + j)];
      const double o = gemv_ref_act(act, g) * u;
      r.out[static_cast<size_t>(i * inter + j)] = o;
      r.tol[static_cast<size_t>(i * inter + j)] =
          eps * (1.2 * std::fabs(g) * std::fabs(u) + 2 * std::fabs(o)) + atol;
    }
  return r;
}

// Tolerance of a plain product element `want` (see the file comment); eps_out: the output's ulp.
inline double gemv_plain_tol(double want, int64_t k, double eps_out) {
  return 1e-5 * std::sqrt(double(k)) + eps_out * std::fabs(want);
}

// ulp at 1 of the output type: bf16 2^-7, f16 2^-10, f32 2^-23 (a half-ulp is the rounding error).
inline double gemv_eps(bool bf16, bool out_f32) {
  return out_f32 ? std::ldexp(1.0, -23) : bf16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
}

}  // namespace lightllm::cuda_test
