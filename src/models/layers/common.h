// src/models/layers/common.h — small pieces every family shares: the rotary configuration
// read from config.json and the final projection of the rows that need logits.
#pragma once

#include <vector>

#include "models/layers/workspace.h"
#include "models/model.h"
#include "ops/ops.h"

namespace lightllm::loader {
struct ModelConfig;
class WeightStore;
}  // namespace lightllm::loader

namespace lightllm::models {
// RoPE settings from config.json: rope_theta, rope_scaling (linear / dynamic / llama3),
// longrope, partial_rotary_factor. Unknown scaling types are an unimplemented error naming the
// type.
Result<ops::RopeConfig> llama_rope_config(const loader::ModelConfig& cfg);

// An f32 copy of a small weight (norm scales, biases): the CPU kernels keep activations and
// these vectors in f32 whatever the checkpoint's dtype. f32 input, and device tensors (the
// CUDA kernels take these in the activation dtype), are returned as is.
Tensor small_weight_f32(const Tensor& w);

// out[i] = lm_head · hidden[rows[i]], f32, where hidden lives (device memory on CUDA).
// hidden: [n_tokens, hidden]; lm_head: [vocab, hidden]; out: [rows.size(), vocab] f32.
Status project_rows(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                    Workspace& ws, Tensor& out);

// logits[i] = lm_head · hidden[rows[i]]. hidden: [n_tokens, hidden]; lm_head: [vocab, hidden];
// logits: [rows.size(), vocab] f32 on the host (from the device when hidden is on CUDA).
Status lm_head_rows(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                    Workspace& ws, Tensor& logits);

}  // namespace lightllm::models
