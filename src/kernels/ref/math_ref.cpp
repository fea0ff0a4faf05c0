// src/kernels/ref/math_ref.cpp — reference matmul (f64 accumulation), gated activations,
// softmax and rotary embedding.
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace lightllm::kernels::ref {

void matmul(const MatmulParams& p) {
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      double acc = p.bias != nullptr ? p.bias[j] : 0.0;
      for (int64_t kk = 0; kk < p.k; ++kk)
        acc += static_cast<double>(p.x[i * p.k + kk]) * load_elem(p.w, p.w_dtype, j * p.k + kk);
      p.out[i * p.n + j] = static_cast<float>(acc);
    }
  }
}

static double act(Activation a, double g) {
  constexpr double kPi = 3.14159265358979323846;
  switch (a) {
    case Activation::silu: return g / (1.0 + std::exp(-g));
    case Activation::gelu_erf: return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
    case Activation::gelu_tanh:
      return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (g + 0.044715 * g * g * g)));
  }
  return 0.0;
}

void gated_act(const GatedActParams& p) {
  for (int64_t i = 0; i < p.n; ++i) {
    double y = act(p.act, p.gate[i]);
    if (p.up != nullptr) y *= p.up[i];
    p.out[i] = static_cast<float>(y);
  }
}

void softmax(const SoftmaxParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    float* x = p.x + r * p.cols;
    double mx = -INFINITY;
    for (int64_t c = 0; c < p.cols; ++c) mx = std::fmax(mx, x[c]);
    double sum = 0.0;
    for (int64_t c = 0; c < p.cols; ++c) sum += std::exp(x[c] - mx);
    for (int64_t c = 0; c < p.cols; ++c) x[c] = static_cast<float>(std::exp(x[c] - mx) / sum);
  }
}

// Rotates every head of `x` ([n_tokens, heads, head_dim]) for token t.
static void rope_heads(float* x, int64_t heads, const RopeParams& p, const std::vector<double>& c,
                       const std::vector<double>& s) {
  const int64_t half = p.rotary_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * p.head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = p.interleaved ? 2 * i : i;
      const int64_t b = p.interleaved ? 2 * i + 1 : i + half;
      const double x0 = v[a], x1 = v[b];
      v[a] = static_cast<float>(x0 * c[i] - x1 * s[i]);
      v[b] = static_cast<float>(x1 * c[i] + x0 * s[i]);
    }
  }
}

void rope(const RopeParams& p) {
  const int64_t half = p.rotary_dim / 2;
  std::vector<double> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      // The angle is an f32 product, exactly as HF's float32 freqs; cos/sin in f64.
      const float angle = static_cast<float>(p.positions[t]) * p.inv_freq[i];
      c[static_cast<size_t>(i)] = std::cos(static_cast<double>(angle)) * p.attention_factor;
      s[static_cast<size_t>(i)] = std::sin(static_cast<double>(angle)) * p.attention_factor;
    }
    rope_heads(p.q + t * p.n_heads * p.head_dim, p.n_heads, p, c, s);
    rope_heads(p.k + t * p.n_kv_heads * p.head_dim, p.n_kv_heads, p, c, s);
  }
}

}  // namespace lightllm::kernels::ref
