// src/models/layers/mlp.h — gated MLP (SwiGLU / GeGLU): down(act(gate(h)) * up(h)).
#pragma once

#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models::layers {

enum class Activation { silu, gelu, gelu_tanh };

struct GatedMlpWeights {
  Tensor gate, up, down;                 // [inter, hidden], [inter, hidden], [hidden, inter]
  Tensor gate_bias, up_bias, down_bias;  // undefined when the family has none
};

// out = down(act(gate(h)) * up(h)). h: [n_tokens, hidden]; out: [n_tokens, hidden] (no alias).
Status gated_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out);

// The residual form (ResidualIo, workspace.h): io.residual += mlp(rms_norm(io.residual)), the
// norm inside the gate/up projection (ops::rms_norm_gated_matmul) and the add inside the down
// projection (ops::matmul_add). Equals rms_norm → gated_mlp → add up to f32 accumulation order.
Status gated_mlp(const GatedMlpWeights& w, Activation act, const ResidualIo& io, Workspace& ws);

}  // namespace lightllm::models::layers
