// src/models/layers/blocks.h — small blocks several decoder families share beyond LLaMA's:
// RMSNorm or LayerNorm (optional bias) chosen by data, the residual add, per-head q/k
// LayerNorm with a distinct weight per head (StableLM, Cohere), the plain (ungated) MLP
// (BLOOM, StarCoder) and the ALiBi slopes (BLOOM).
// Activations are f32 [n_tokens, ...] on the CPU and the model's 16-bit activation dtype on
// CUDA, as everywhere in src/models (the ops dispatch by device).
#pragma once

#include <vector>

#include "models/layers/mlp.h"
#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models::layers {

enum class NormKind { rms, layer };

struct NormWeights {
  Tensor weight;  // [hidden] f32
  Tensor bias;    // [hidden] f32, undefined = none (RMSNorm never has one)
};

// out = norm(x). x, out: [n_tokens, hidden]; out may alias x.
Status apply_norm(NormKind kind, const NormWeights& w, float eps, const Tensor& x, Tensor& out);

// acc += x, elementwise (ops::add). acc, x: same shape.
Status add_inplace(Tensor& acc, const Tensor& x);

// LayerNorm over the last dim of every head with that head's own weight (no bias), in place
// (ops::head_layer_norm). x: [n_tokens, heads, head_dim]; weight: [heads, head_dim].
Status per_head_layer_norm(Tensor& x, const Tensor& weight, float eps);

// out = down(act(up(h))) with biases (gelu / gelu_tanh only; `w.gate` must be undefined).
// h: [n_tokens, hidden]; out: [n_tokens, hidden] (no alias).
Status plain_mlp(const GatedMlpWeights& w, Activation act, const Tensor& h, Workspace& ws,
                 Tensor& out);

// BLOOM's ALiBi slopes [n_heads] (transformers build_alibi_tensor: powers of
// 2^(-8/closest_power_of_2), then odd powers of the next base for the remaining heads).
std::vector<float> alibi_slopes(int n_heads);

}  // namespace lightllm::models::layers
