// tests/cuda/cuda_test_util.h — helpers for the CUDA kernel tests: random inputs rounded to the
// activation dtype (so the CPU reference sees exactly what the GPU sees), device upload and
// download of 16-bit arrays, tolerances per dtype, and a skip-free "GPU present" check.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/device_buffer.h"
#include "core/dtype.h"

namespace lightllm::cuda_test {

using backend::cuda::DeviceBuffer;
using core::DType;

inline uint16_t to_bits(DType dt, float f) {
  return dt == DType::bf16 ? core::f32_to_bf16(f).bits : core::f32_to_f16(f).bits;
}
inline float from_bits(DType dt, uint16_t b) {
  return dt == DType::bf16 ? core::bf16_to_f32(core::bf16{b}) : core::f16_to_f32(core::f16{b});
}

// Uniform values in [lo, hi), already rounded to dt (the returned floats are exact dt values).
inline std::vector<float> random_values(DType dt, size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = from_bits(dt, to_bits(dt, dist(rng)));
  return v;
}

inline DeviceBuffer upload_half(DType dt, const std::vector<float>& v) {
  std::vector<uint16_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = to_bits(dt, v[i]);
  auto buf = DeviceBuffer::allocate(std::max<size_t>(1, bits.size()) * 2);
  EXPECT_TRUE(buf.ok()) << buf.status().to_string();
  EXPECT_TRUE(buf->upload(bits.data(), bits.size() * 2).ok());
  return std::move(buf).value();
}

template <typename U>
DeviceBuffer upload(const std::vector<U>& v) {
  auto buf = DeviceBuffer::allocate(std::max<size_t>(1, v.size()) * sizeof(U));
  EXPECT_TRUE(buf.ok()) << buf.status().to_string();
  EXPECT_TRUE(buf->upload(v.data(), v.size() * sizeof(U)).ok());
  return std::move(buf).value();
}

inline std::vector<float> download_half(DType dt, const DeviceBuffer& b, size_t n) {
  std::vector<uint16_t> bits(n);
  EXPECT_TRUE(b.download(bits.data(), n * 2).ok());
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = from_bits(dt, bits[i]);
  return v;
}

template <typename U>
std::vector<U> download(const DeviceBuffer& b, size_t n) {
  std::vector<U> v(n);
  EXPECT_TRUE(b.download(v.data(), n * sizeof(U)).ok());
  return v;
}

inline DeviceBuffer zeros(size_t bytes) {
  auto buf = DeviceBuffer::allocate(std::max<size_t>(1, bytes));
  EXPECT_TRUE(buf.ok());
  EXPECT_TRUE(buf->memset_zero().ok());
  return std::move(buf).value();
}

// |got - want| <= atol + rtol * |want|, element-wise; reports the first few failures.
struct Tol {
  double atol, rtol;
};
// One rounding of the output to dt plus f32-vs-f64 accumulation differences.
inline Tol tol_for(DType dt, double scale = 1.0) {
  return dt == DType::bf16 ? Tol{1e-2 * scale, 1.6e-2} : Tol{2e-3 * scale, 2e-3};
}

inline void expect_close(const std::vector<float>& got, const std::vector<double>& want, Tol tol,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, err);
    if (!(err <= tol.atol + tol.rtol * std::fabs(want[i]))) {
      if (++bad <= 5) {
        ADD_FAILURE() << what << ": index " << i << " got " << got[i] << " want " << want[i];
      }
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " out of tolerance; max err "
                    << worst;
}

inline void sync_ok() {
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace lightllm::cuda_test
