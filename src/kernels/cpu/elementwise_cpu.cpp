// src/kernels/cpu/elementwise_cpu.cpp — row-wise and elementwise CPU kernels: embedding
// gather, RMSNorm (+ fused residual), LayerNorm, gated activations, softmax, rotary
// embedding and the KV store. These are memory-light next to matmul/attention: OpenMP over
// rows, inner loops vectorized by the compiler for AVX-512 / AVX2 / baseline clones that the
// loader picks at run time (target_clones); f32 accumulation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

#define LLM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace lightllm::kernels::cpu {
namespace {

constexpr int64_t kParallelElems = 1 << 14;  // below this, one thread is faster

LLM_CLONES void rms_row(const float* x, float* res, const float* w, float* out, int64_t n,
                        float eps) {
  float ss = 0.0f;
  const float* src = x;
  if (res != nullptr) {
#pragma omp simd reduction(+ : ss)
    for (int64_t h = 0; h < n; ++h) {
      const float v = res[h] + x[h];
      res[h] = v;
      ss += v * v;
    }
    src = res;
  } else {
#pragma omp simd reduction(+ : ss)
    for (int64_t h = 0; h < n; ++h) ss += x[h] * x[h];
  }
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
#pragma omp simd
  for (int64_t h = 0; h < n; ++h) out[h] = src[h] * inv * w[h];
}

LLM_CLONES void layer_norm_row(const float* x, const float* w, const float* b, float* out,
                               int64_t n, float eps) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t h = 0; h < n; ++h) sum += x[h];
  const float mean = sum / static_cast<float>(n);
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int64_t h = 0; h < n; ++h) var += (x[h] - mean) * (x[h] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  if (b != nullptr) {
#pragma omp simd
    for (int64_t h = 0; h < n; ++h) out[h] = (x[h] - mean) * inv * w[h] + b[h];
  } else {
#pragma omp simd
    for (int64_t h = 0; h < n; ++h) out[h] = (x[h] - mean) * inv * w[h];
  }
}

LLM_CLONES void bf16_row(const uint16_t* src, float* dst, int64_t n) {
#pragma omp simd
  for (int64_t h = 0; h < n; ++h) {
    const uint32_t u = static_cast<uint32_t>(src[h]) << 16;
    std::memcpy(&dst[h], &u, 4);
  }
}

float gate_act(Activation a, float g) {
  switch (a) {
    case Activation::silu: return g / (1.0f + std::exp(-g));
    case Activation::gelu_erf: return 0.5f * g * (1.0f + std::erf(g * 0.70710678118654752f));
    case Activation::gelu_tanh:
      return 0.5f * g * (1.0f + std::tanh(0.79788456080286536f * (g + 0.044715f * g * g * g)));
  }
  return 0.0f;
}

LLM_CLONES void softmax_row(float* x, int64_t n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t c = 0; c < n; ++c) mx = std::max(mx, x[c]);
  float sum = 0.0f;
  for (int64_t c = 0; c < n; ++c) sum += (x[c] = std::exp(x[c] - mx));
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) x[c] *= inv;
}

LLM_CLONES void rope_heads(float* x, int64_t heads, int64_t head_dim, int64_t half,
                           bool interleaved, const float* c, const float* s) {
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_dim;
    if (interleaved) {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * c[i] - x1 * s[i];
        v[2 * i + 1] = x1 * c[i] + x0 * s[i];
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c[i] - x1 * s[i];
        v[i + half] = x1 * c[i] + x0 * s[i];
      }
    }
  }
}

// One [head_dim] row into the cache at element offset dst (same math as the reference).
void store_row(const float* src, int64_t n, void* cache, DType dtype, int64_t dst, float* scale) {
  switch (dtype) {
    case DType::f32: std::memcpy(static_cast<float*>(cache) + dst, src, n * sizeof(float)); break;
    case DType::bf16:
      for (int64_t d = 0; d < n; ++d)
        static_cast<core::bf16*>(cache)[dst + d] = core::f32_to_bf16(src[d]);
      break;
    case DType::f16:
      for (int64_t d = 0; d < n; ++d)
        static_cast<core::f16*>(cache)[dst + d] = core::f32_to_f16(src[d]);
      break;
    case DType::i8: {
      float amax = 0.0f;
      for (int64_t d = 0; d < n; ++d) amax = std::max(amax, std::fabs(src[d]));
      const float sc = amax / 127.0f;
      *scale = sc;
      int8_t* q = static_cast<int8_t*>(cache) + dst;
      for (int64_t d = 0; d < n; ++d)
        q[d] = sc == 0.0f
                   ? int8_t{0}
                   : static_cast<int8_t>(std::clamp(std::nearbyint(src[d] / sc), -127.0f, 127.0f));
      break;
    }
    default: break;
  }
}

}  // namespace

void embedding(const EmbeddingParams& p) {
  const int64_t h = p.hidden;
#pragma omp parallel for if (p.n_tokens * h >= kParallelElems)
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const int64_t row = p.ids[t];
    float* out = p.out + t * h;
    switch (p.table_dtype) {
      case DType::f32:
        std::memcpy(out, static_cast<const float*>(p.table) + row * h, h * sizeof(float));
        break;
      case DType::bf16: bf16_row(static_cast<const uint16_t*>(p.table) + row * h, out, h); break;
      case DType::f16: {
        const core::f16* src = static_cast<const core::f16*>(p.table) + row * h;
        for (int64_t i = 0; i < h; ++i) out[i] = core::f16_to_f32(src[i]);
        break;
      }
      default: break;
    }
  }
}

void rms_norm(const RmsNormParams& p) {
#pragma omp parallel for if (p.n_tokens * p.hidden >= kParallelElems)
  for (int64_t t = 0; t < p.n_tokens; ++t)
    rms_row(p.x + t * p.hidden, p.residual ? p.residual + t * p.hidden : nullptr, p.weight,
            p.out + t * p.hidden, p.hidden, p.eps);
}

void layer_norm(const LayerNormParams& p) {
#pragma omp parallel for if (p.n_tokens * p.hidden >= kParallelElems)
  for (int64_t t = 0; t < p.n_tokens; ++t)
    layer_norm_row(p.x + t * p.hidden, p.weight, p.bias, p.out + t * p.hidden, p.hidden, p.eps);
}

void gated_act(const GatedActParams& p) {
#pragma omp parallel for if (p.n >= kParallelElems)
  for (int64_t i = 0; i < p.n; ++i) {
    const float y = gate_act(p.act, p.gate[i]);
    p.out[i] = p.up != nullptr ? y * p.up[i] : y;
  }
}

void softmax(const SoftmaxParams& p) {
#pragma omp parallel for if (p.rows * p.cols >= kParallelElems)
  for (int64_t r = 0; r < p.rows; ++r) softmax_row(p.x + r * p.cols, p.cols);
}

void rope(const RopeParams& p) {
  const int64_t half = p.rotary_dim / 2;
#pragma omp parallel if (p.n_tokens * (p.n_heads + p.n_kv_heads) * p.head_dim >= kParallelElems)
  {
    std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
#pragma omp for
    for (int64_t t = 0; t < p.n_tokens; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        const float angle = static_cast<float>(p.positions[t]) * p.inv_freq[i];
        // HF: cos(emb) in f32, then * attention_scaling in f32.
        c[static_cast<size_t>(i)] =
            static_cast<float>(std::cos(static_cast<double>(angle))) * p.attention_factor;
        s[static_cast<size_t>(i)] =
            static_cast<float>(std::sin(static_cast<double>(angle))) * p.attention_factor;
      }
      rope_heads(p.q + t * p.n_heads * p.head_dim, p.n_heads, p.head_dim, half, p.interleaved,
                 c.data(), s.data());
      rope_heads(p.k + t * p.n_kv_heads * p.head_dim, p.n_kv_heads, p.head_dim, half, p.interleaved,
                 c.data(), s.data());
    }
  }
}

void store_kv(const StoreKvParams& p) {
  const int64_t row = p.n_kv_heads * p.head_dim;
#pragma omp parallel for if (p.n_tokens * row >= kParallelElems)
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const int64_t slot = p.slots[t];
    for (int64_t h = 0; h < p.n_kv_heads; ++h) {
      const int64_t dst = slot * row + h * p.head_dim;
      const int64_t sidx = slot * p.n_kv_heads + h;
      store_row(p.k + t * row + h * p.head_dim, p.head_dim, p.k_cache, p.cache_dtype, dst,
                p.k_scale ? p.k_scale + sidx : nullptr);
      store_row(p.v + t * row + h * p.head_dim, p.head_dim, p.v_cache, p.cache_dtype, dst,
                p.v_scale ? p.v_scale + sidx : nullptr);
    }
  }
}

}  // namespace lightllm::kernels::cpu
