// src/kernels/ref/attention_ref.cpp — reference KV store (incl. int8 quantization) and
// causal GQA attention over token slots: one query row and head at a time, f64 softmax.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace lightllm::kernels::ref {

// Writes one [head_dim] row of f32 values into `cache` at element offset `dst`.
static void store_row(const float* src, int64_t head_dim, void* cache, DType dtype, int64_t dst,
                      float* scale_out) {
  switch (dtype) {
    case DType::f32:
      for (int64_t d = 0; d < head_dim; ++d) static_cast<float*>(cache)[dst + d] = src[d];
      break;
    case DType::bf16:
      for (int64_t d = 0; d < head_dim; ++d)
        static_cast<core::bf16*>(cache)[dst + d] = core::f32_to_bf16(src[d]);
      break;
    case DType::f16:
      for (int64_t d = 0; d < head_dim; ++d)
        static_cast<core::f16*>(cache)[dst + d] = core::f32_to_f16(src[d]);
      break;
    case DType::i8: {
      float amax = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) amax = std::max(amax, std::fabs(src[d]));
      const float scale = amax / 127.0f;
      *scale_out = scale;
      for (int64_t d = 0; d < head_dim; ++d) {
        const float q = scale == 0.0f ? 0.0f : std::nearbyint(src[d] / scale);
        static_cast<int8_t*>(cache)[dst + d] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
      }
      break;
    }
    default: break;
  }
}

void store_kv(const StoreKvParams& p) {
  const int64_t row = p.n_kv_heads * p.head_dim;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const int64_t slot = p.slots[t];
    for (int64_t h = 0; h < p.n_kv_heads; ++h) {
      const int64_t dst = slot * row + h * p.head_dim;
      const int64_t sidx = slot * p.n_kv_heads + h;
      store_row(p.k + t * row + h * p.head_dim, p.head_dim, p.k_cache, p.cache_dtype, dst,
                p.k_scale != nullptr ? p.k_scale + sidx : nullptr);
      store_row(p.v + t * row + h * p.head_dim, p.head_dim, p.v_cache, p.cache_dtype, dst,
                p.v_scale != nullptr ? p.v_scale + sidx : nullptr);
    }
  }
}

// Dequantized element d of (slot, kv_head) in a K or V cache.
static double kv_elem(const void* cache, const float* scales, const AttentionParams& p,
                      int64_t slot, int64_t kvh, int64_t d) {
  const int64_t idx = (slot * p.n_kv_heads + kvh) * p.head_dim + d;
  double v = load_elem(cache, p.cache_dtype, idx);
  if (p.cache_dtype == DType::i8) v *= scales[slot * p.n_kv_heads + kvh];
  return v;
}

void attention(const AttentionParams& p) {
  const int64_t group = p.n_heads / p.n_kv_heads;
  std::vector<double> scores, acc(static_cast<size_t>(p.head_dim));
  for (int32_t r = 0; r < p.n_reqs; ++r) {
    const int64_t q0 = p.q_start[r], q1 = p.q_start[r + 1];
    const int64_t kv_len = p.kv_len[r];
    const int32_t* slots = p.req_to_token + p.req_row[r] * p.req_to_token_stride;
    for (int64_t row = q0; row < q1; ++row) {
      const int64_t pos = kv_len - (q1 - q0) + (row - q0);
      const int64_t lo =
          p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
      for (int64_t h = 0; h < p.n_heads; ++h) {
        const int64_t kvh = h / group;
        const float* q = p.q + (row * p.n_heads + h) * p.head_dim;
        scores.assign(static_cast<size_t>(pos - lo + 1), 0.0);
        double mx = -INFINITY;
        for (int64_t j = lo; j <= pos; ++j) {
          double s = 0.0;
          for (int64_t d = 0; d < p.head_dim; ++d)
            s += q[d] * kv_elem(p.k_cache, p.k_scale, p, slots[j], kvh, d);
          s *= p.scale;
          if (p.alibi_slopes != nullptr) s += static_cast<double>(p.alibi_slopes[h]) * (j - pos);
          scores[static_cast<size_t>(j - lo)] = s;
          mx = std::max(mx, s);
        }
        double sum = 0.0;
        for (double& s : scores) sum += (s = std::exp(s - mx));
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = lo; j <= pos; ++j) {
          const double w = scores[static_cast<size_t>(j - lo)] / sum;
          for (int64_t d = 0; d < p.head_dim; ++d)
            acc[static_cast<size_t>(d)] += w * kv_elem(p.v_cache, p.v_scale, p, slots[j], kvh, d);
        }
        float* out = p.out + (row * p.n_heads + h) * p.head_dim;
        for (int64_t d = 0; d < p.head_dim; ++d)
          out[d] = static_cast<float>(acc[static_cast<size_t>(d)]);
      }
    }
  }
}

}  // namespace lightllm::kernels::ref
