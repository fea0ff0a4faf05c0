// src/models/layers/mlp.cpp — gated MLP (see mlp.h); gate and up in one launch when they are
// stacked rows of one allocation (WeightUploader::upload_fused); in the residual form the
// RMSNorm runs inside that launch and the residual add inside the down projection.
#include "models/layers/mlp.h"

#include "models/layers/common.h"
#include "ops/ops.h"

namespace lightllm::models::layers {

namespace {

ops::GatedAct gated_act(Activation act) {
  return act == Activation::silu        ? ops::GatedAct::silu
         : act == Activation::gelu_tanh ? ops::GatedAct::gelu_tanh
                                        : ops::GatedAct::gelu_erf;
}

Status mlp_block(const GatedMlpWeights& w, Activation act, const BlockIo& io, Workspace& ws) {
  const int64_t n_tokens = io.h.dim(0);
  const int64_t inter = w.gate.dim(0);
  Tensor gate = ws.get(Buf::gate, {n_tokens, inter});
  Tensor up = ws.get(Buf::up, {n_tokens, inter});
  // One launch when gate/up (and their biases, if any) sit in one stacked allocation.
  const Tensor gate_up = stacked_rows({&w.gate, &w.up});
  const Tensor gate_up_bias = stacked_rows({&w.gate_bias, &w.up_bias});
  const bool no_bias = !w.gate_bias.defined() && !w.up_bias.defined();
  if (gate_up.defined() && (no_bias || gate_up_bias.defined())) {
    LLM_RETURN_IF_ERROR(
        io.norm != nullptr
            ? ops::rms_norm_gated_matmul(*io.norm, gate_up, gate_up_bias, gated_act(act), up, gate)
            : ops::gated_matmul(io.h, gate_up, gate_up_bias, gated_act(act), up, gate));
  } else {
    LLM_RETURN_IF_ERROR(io.normalize());
    const Tensor& x = io.input();
    LLM_RETURN_IF_ERROR(ops::matmul(x, w.gate, w.gate_bias, gate));
    LLM_RETURN_IF_ERROR(ops::matmul(x, w.up, w.up_bias, up));
    if (act == Activation::silu) {
      LLM_RETURN_IF_ERROR(ops::silu_mul(gate, up, gate));
    } else {
      LLM_RETURN_IF_ERROR(ops::gelu_mul(gate, up, act == Activation::gelu_tanh, gate));
    }
  }
  if (!io.accumulate) return ops::matmul(gate, w.down, w.down_bias, io.out);
  Tensor scratch = ws.get(Buf::proj_out, {n_tokens, io.out.dim(1)});
  return ops::matmul_add(gate, w.down, w.down_bias, scratch, io.out);
}

}  // namespace

Status gated_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out) {
  return mlp_block(w, act, {.h = h, .norm = nullptr, .out = out, .accumulate = false}, ws);
}

Status gated_mlp(const GatedMlpWeights& w, Activation act, const ResidualIo& io, Workspace& ws) {
  Tensor normed = ws.get(Buf::normed, {io.residual.dim(0), io.residual.dim(1)});
  const ops::NormedInput norm{
      .x = io.residual, .weight = io.norm_weight, .eps = io.eps, .normed = normed};
  return mlp_block(w, act,
                   {.h = io.residual, .norm = &norm, .out = io.residual, .accumulate = true}, ws);
}

}  // namespace lightllm::models::layers
