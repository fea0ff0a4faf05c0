// src/models/layers/common.h — small pieces every family shares: the rotary configuration
// read from config.json, the final projection of the rows that need logits, and the upload of
// a model's weights to the device (Model::to_device).
#pragma once

#include <initializer_list>
#include <map>
#include <tuple>
#include <utility>
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

// The activation dtype on the device for a checkpoint stored in `weight_dtype`: 16-bit
// checkpoints keep their dtype, f32 ones are rounded to bf16 (the CUDA kernels run on one
// 16-bit activation dtype).
core::DType device_act_dtype(core::DType weight_dtype);

// Moves a model's weights to a device, one tensor at a time, every one (matrices, norm
// weights, biases) in the activation dtype. A tensor that shares its host storage with one
// uploaded before (same data pointer, shape and dtype: tied embeddings) gets the same device
// copy, counted once. Undefined tensors stay undefined.
class WeightUploader {
 public:
  WeightUploader(core::Device device, core::DType act) : device_(device), act_(act) {}
  // Replaces `t` by its device copy.
  Status upload(Tensor& t);
  Status upload(std::initializer_list<Tensor*> ts) {
    for (Tensor* t : ts) LLM_RETURN_IF_ERROR(upload(*t));
    return {};
  }
  // Uploads the defined parts into ONE device allocation, stacked along dim 0 in the given
  // order, and replaces each part by its row view of it (fused q/k/v, gate/up and their
  // biases: ops::matmul_split / ops::gated_matmul then read them as one weight; see
  // stacked_rows). Parts that cannot be stacked — differing trailing dims or rank, or one
  // already uploaded (a shared, tied tensor) — and a mix of defined and undefined parts are
  // uploaded one by one instead, exactly as upload() does.
  Status upload_fused(std::initializer_list<Tensor*> parts);
  // Bytes of the distinct device copies made so far.
  int64_t bytes() const { return bytes_; }

 private:
  core::Device device_;
  core::DType act_;
  int64_t bytes_ = 0;
  // {host address, dtype} -> {host tensor (kept alive so its address cannot be reused
  // meanwhile), device copy}
  std::map<std::pair<const void*, core::DType>, std::pair<Tensor, Tensor>> done_;
};

// The parts as one row-stacked view ([sum of dim 0, ...]) when they are adjacent row blocks of
// one buffer: every part defined, contiguous, of the same dtype, device and trailing dims, each
// starting exactly where the previous one ends (what WeightUploader::upload_fused makes).
// Otherwise an undefined Tensor (the caller then runs the parts separately).
Tensor stacked_rows(std::initializer_list<const Tensor*> parts);

}  // namespace lightllm::models
