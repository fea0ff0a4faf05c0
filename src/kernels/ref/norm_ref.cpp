// src/kernels/ref/norm_ref.cpp — reference embedding gather, RMSNorm (+ residual), LayerNorm.
#include <cmath>

#include "kernels/ref/ref_kernels.h"

namespace lightllm::kernels::ref {

float load_elem(const void* base, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(base)[index];
    case DType::bf16: return core::bf16_to_f32(static_cast<const core::bf16*>(base)[index]);
    case DType::f16: return core::f16_to_f32(static_cast<const core::f16*>(base)[index]);
    case DType::i8: return static_cast<float>(static_cast<const int8_t*>(base)[index]);
    default: return 0.0f;
  }
}

void embedding(const EmbeddingParams& p) {
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const int64_t row = p.ids[t];
    for (int64_t h = 0; h < p.hidden; ++h)
      p.out[t * p.hidden + h] = load_elem(p.table, p.table_dtype, row * p.hidden + h);
  }
}

void rms_norm(const RmsNormParams& p) {
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const float* x = p.x + t * p.hidden;
    float* out = p.out + t * p.hidden;
    const float* src = x;
    if (p.residual != nullptr) {
      float* res = p.residual + t * p.hidden;
      for (int64_t h = 0; h < p.hidden; ++h) res[h] += x[h];
      src = res;
    }
    double ss = 0.0;
    for (int64_t h = 0; h < p.hidden; ++h) ss += static_cast<double>(src[h]) * src[h];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(p.hidden) + p.eps);
    for (int64_t h = 0; h < p.hidden; ++h) out[h] = static_cast<float>(src[h] * inv * p.weight[h]);
  }
}

void layer_norm(const LayerNormParams& p) {
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const float* x = p.x + t * p.hidden;
    float* out = p.out + t * p.hidden;
    double sum = 0.0;
    for (int64_t h = 0; h < p.hidden; ++h) sum += x[h];
    const double mean = sum / static_cast<double>(p.hidden);
    double var = 0.0;
    for (int64_t h = 0; h < p.hidden; ++h) var += (x[h] - mean) * (x[h] - mean);
    var /= static_cast<double>(p.hidden);
    const double inv = 1.0 / std::sqrt(var + p.eps);
    for (int64_t h = 0; h < p.hidden; ++h) {
      const double b = p.bias != nullptr ? p.bias[h] : 0.0;
      out[h] = static_cast<float>((x[h] - mean) * inv * p.weight[h] + b);
    }
  }
}

}  // namespace lightllm::kernels::ref
