// src/ops/rope_ops.cpp — rotary embedding: inv_freq exactly as transformers 4.57
// modeling_rope_utils computes it (default, linear, dynamic NTK, llama3, longrope), and the
// rope op (cos/sin scaled by the attention factor), and Qwen v1's log-n query scaling.
// HF computes these tensors in float32; the arithmetic below is float32 step by step in the
// same order so the values agree to an ulp or two (tests/kernels/rope_test.cpp checks 1e-6).
#include <cmath>

#include "kernels/cpu/cpu_kernels.h"
#include "ops/cuda_ops.h"
#include "ops/op_checks.h"
#include "ops/ops.h"

namespace lightllm::ops {

using namespace detail;
using core::DType;

namespace {

// HF _compute_default_rope_parameters: 1 / base ** (arange(0, dim, 2).float() / dim).
std::vector<float> default_inv_freq(float base, int dim) {
  std::vector<float> inv(static_cast<size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[static_cast<size_t>(i)] = 1.0f / std::pow(base, e);
  }
  return inv;
}

// HF _compute_llama3_parameters, applied to the default inv_freq.
void llama3_adjust(std::vector<float>& inv, const RopeConfig& c) {
  const float factor = static_cast<float>(c.factor);
  const double old_ctx = static_cast<double>(c.original_max_position);
  const float low_wavelen = static_cast<float>(old_ctx / c.low_freq_factor);
  const float high_wavelen = static_cast<float>(old_ctx / c.high_freq_factor);
  const float two_pi = static_cast<float>(2.0 * M_PI);
  for (float& f : inv) {
    const float wavelen = two_pi / f;
    float scaled = wavelen > low_wavelen ? f / factor : f;
    const float smooth =
        (static_cast<float>(old_ctx) / wavelen - static_cast<float>(c.low_freq_factor)) /
        static_cast<float>(c.high_freq_factor - c.low_freq_factor);
    const float smoothed = (1.0f - smooth) * scaled / factor + smooth * scaled;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    f = medium ? smoothed : scaled;
  }
}

// HF _compute_longrope_parameters: 1 / (ext_factors * base ** (arange(0, dim, 2).float() / dim))
// with ext_factors = long_factor when seq_len > original_max_position, else short_factor.
// Empty (rope() then reports the size) when the chosen factors do not have dim/2 entries.
std::vector<float> longrope_inv_freq(const RopeConfig& c, int64_t seq_len) {
  const int dim = c.rotary_dim;
  const std::vector<float>& ext =
      seq_len > c.original_max_position ? c.long_factor : c.short_factor;
  if (static_cast<int>(ext.size()) != dim / 2) return {};
  const float base = static_cast<float>(c.theta);
  std::vector<float> inv(static_cast<size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[static_cast<size_t>(i)] = 1.0f / (ext[static_cast<size_t>(i)] * std::pow(base, e));
  }
  return inv;
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeConfig& cfg, int64_t seq_len) {
  const int dim = cfg.rotary_dim;
  if (dim <= 0 || dim % 2 != 0) return {};  // rope() then reports the size mismatch
  float base = static_cast<float>(cfg.theta);
  if (cfg.scaling == RopeScaling::dynamic_ntk && seq_len > cfg.original_max_position &&
      cfg.original_max_position > 0) {
    // HF: base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2)) on a
    // 0-dim tensor; its value equals this f64 expression rounded once to f32.
    const double t =
        cfg.factor * static_cast<double>(seq_len) / static_cast<double>(cfg.original_max_position) -
        (cfg.factor - 1.0);
    base = static_cast<float>(cfg.theta * std::pow(t, static_cast<double>(dim) / (dim - 2)));
  }
  if (cfg.scaling == RopeScaling::longrope) return longrope_inv_freq(cfg, seq_len);
  std::vector<float> inv = default_inv_freq(base, dim);
  if (cfg.scaling == RopeScaling::linear)
    for (float& f : inv) f /= static_cast<float>(cfg.factor);
  if (cfg.scaling == RopeScaling::llama3) llama3_adjust(inv, cfg);
  return inv;
}

Status rope(Tensor& q, Tensor& k, const Tensor& positions, const std::vector<float>& inv_freq,
            const RopeConfig& cfg) {
  constexpr std::string_view op = "rope";
  LLM_OPS_CUDA_DISPATCH(q, rope(q, k, positions, inv_freq, cfg));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"q", q}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"q", q}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"k", k}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"k", k}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"positions", positions}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"positions", positions}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"k", k}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"k", k}, 2, q.dim(2), "head_dim of q"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"positions", positions}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&q, &k, &positions}));
  const int64_t head_dim = q.dim(2);
  if (cfg.rotary_dim <= 0 || cfg.rotary_dim % 2 != 0 || cfg.rotary_dim > head_dim)
    return core::invalid_argument(
        "rope: cfg.rotary_dim = {} must be even and in (0, head_dim = {}]", cfg.rotary_dim,
        head_dim);
  if (static_cast<int64_t>(inv_freq.size()) != cfg.rotary_dim / 2)
    return core::invalid_argument("rope: inv_freq has {} entries, expected rotary_dim / 2 = {}",
                                  inv_freq.size(), cfg.rotary_dim / 2);
  const int32_t* pos = positions.data<int32_t>();
  for (int64_t t = 0; t < positions.dim(0); ++t)
    if (pos[t] < 0)
      return core::invalid_argument("rope: positions[{}] = {} is negative", t, pos[t]);
  kernels::cpu::rope({.q = q.data<float>(),
                      .k = k.data<float>(),
                      .positions = pos,
                      .inv_freq = inv_freq.data(),
                      .n_tokens = q.dim(0),
                      .n_heads = q.dim(1),
                      .n_kv_heads = k.dim(1),
                      .head_dim = head_dim,
                      .rotary_dim = cfg.rotary_dim,
                      .interleaved = cfg.interleaved,
                      .attention_factor = static_cast<float>(cfg.attention_factor)});
  return {};
}

Status logn_scale(Tensor& q, const Tensor& positions, int64_t seq_length) {
  constexpr std::string_view op = "logn_scale";
  LLM_OPS_CUDA_DISPATCH(q, logn_scale(q, positions, seq_length));
  LLM_RETURN_IF_ERROR(check_tensor_any_rank(op, {"q", q}));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"q", q}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"positions", positions}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"positions", positions}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"positions", positions}, 0, q.dim(0), "n_tokens of q"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&q, &positions}));
  if (seq_length <= 1)
    return core::invalid_argument("logn_scale: seq_length = {} must be > 1", seq_length);
  const int64_t n = q.dim(0), row_len = n > 0 ? q.numel() / n : 0;
  const double log_base = std::log(static_cast<double>(seq_length));
  const int32_t* pos = positions.data<int32_t>();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p1 = int64_t{pos[t]} + 1;
    if (p1 <= seq_length) continue;
    const float s = static_cast<float>(std::log(static_cast<double>(p1)) / log_base);
    float* row = q.data<float>() + t * row_len;
    for (int64_t i = 0; i < row_len; ++i) row[i] *= s;
  }
  return {};
}

}  // namespace lightllm::ops
