// src/models/layers/blocks.cpp — see blocks.h.
#include "models/layers/blocks.h"

#include <cmath>

#include "ops/ops.h"

namespace lightllm::models::layers {

Status apply_norm(NormKind kind, const NormWeights& w, float eps, const Tensor& x, Tensor& out) {
  if (kind == NormKind::rms) return ops::rms_norm(x, w.weight, eps, out);
  return ops::layer_norm(x, w.weight, w.bias, eps, out);
}

Status add_inplace(Tensor& acc, const Tensor& x) {
  return ops::add(acc, x);
}

Status per_head_layer_norm(Tensor& x, const Tensor& weight, float eps) {
  return ops::head_layer_norm(x, weight, eps);
}

Status plain_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out) {
  if (w.gate.defined() || act == Activation::silu)
    return core::unimplemented("plain_mlp: only ungated GELU MLPs are supported");
  Tensor up = ws.get(Buf::up, {h.dim(0), w.up.dim(0)});  // [n_tokens, inter]
  LLM_RETURN_IF_ERROR(ops::matmul(h, w.up, w.up_bias, up));
  LLM_RETURN_IF_ERROR(ops::gelu(up, act == Activation::gelu_tanh));
  return ops::matmul(up, w.down, w.down_bias, out);
}

std::vector<float> alibi_slopes(int n_heads) {
  // HF: the bases are Python floats rounded once to float32; the powers are float32.
  auto base_of = [](int p2) {
    return static_cast<float>(std::pow(2.0, -std::pow(2.0, -(std::log2(double(p2)) - 3))));
  };
  const int closest = 1 << static_cast<int>(std::floor(std::log2(n_heads)));
  const float base = base_of(closest);
  std::vector<float> s;
  for (int i = 1; i <= closest; ++i) s.push_back(std::pow(base, static_cast<float>(i)));
  if (closest != n_heads) {
    const float extra = base_of(2 * closest);
    const int remaining = std::min(closest, n_heads - closest);
    for (int i = 0; i < remaining; ++i) s.push_back(std::pow(extra, static_cast<float>(2 * i + 1)));
  }
  return s;
}

}  // namespace lightllm::models::layers
