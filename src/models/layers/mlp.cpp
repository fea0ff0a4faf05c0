// src/models/layers/mlp.cpp — gated MLP (see mlp.h); gate and up in one launch when they are
// stacked rows of one allocation (WeightUploader::upload_fused).
#include "models/layers/mlp.h"

#include "models/layers/common.h"
#include "ops/ops.h"

namespace lightllm::models::layers {

Status gated_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out) {
  const int64_t n_tokens = h.dim(0);
  const int64_t inter = w.gate.dim(0);
  Tensor gate = ws.get(Buf::gate, {n_tokens, inter});
  Tensor up = ws.get(Buf::up, {n_tokens, inter});
  // One launch when gate/up (and their biases, if any) sit in one stacked allocation.
  const Tensor gate_up = stacked_rows({&w.gate, &w.up});
  const Tensor gate_up_bias = stacked_rows({&w.gate_bias, &w.up_bias});
  const bool no_bias = !w.gate_bias.defined() && !w.up_bias.defined();
  if (gate_up.defined() && (no_bias || gate_up_bias.defined())) {
    const ops::GatedAct a = act == Activation::silu        ? ops::GatedAct::silu
                            : act == Activation::gelu_tanh ? ops::GatedAct::gelu_tanh
                                                           : ops::GatedAct::gelu_erf;
    LLM_RETURN_IF_ERROR(ops::gated_matmul(h, gate_up, gate_up_bias, a, up, gate));
    return ops::matmul(gate, w.down, w.down_bias, out);
  }
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
