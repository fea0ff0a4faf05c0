// src/models/layers/mlp.cpp — gated MLP (see mlp.h).
#include "models/layers/mlp.h"

#include "ops/ops.h"

namespace lightllm::models::layers {

Status gated_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out) {
  const int64_t n_tokens = h.dim(0);
  const int64_t inter = w.gate.dim(0);
  Tensor gate = ws.get(Buf::gate, {n_tokens, inter});
  Tensor up = ws.get(Buf::up, {n_tokens, inter});
  LLM_RETURN_IF_ERROR(ops::matmul(h, w.gate, w.gate_bias, gate));
  LLM_RETURN_IF_ERROR(ops::matmul(h, w.up, w.up_bias, up));
  if (act == Activation::silu) {
    LLM_RETURN_IF_ERROR(ops::silu_mul(gate, up, gate));
  } else {
    LLM_RETURN_IF_ERROR(ops::gelu_mul(gate, up, act == Activation::gelu_tanh, gate));
  }
  return ops::matmul(gate, w.down, w.down_bias, out);
}

}  // namespace lightllm::models::layers
