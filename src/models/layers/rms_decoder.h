// src/models/layers/rms_decoder.h — the pre-norm RMSNorm decoder stack shared by families that
// differ from LLaMA only in tensor names, fused projections and scalars (ChatGLM2/3, Qwen v1):
//   h = embed(ids) * embed_scale
//   per layer: h += attn(rms(h)) * residual_scale; h += mlp(rms(h)) * residual_scale
//   logits = lm_head(rms(h)) * logit_scale
// Fused checkpoint projections ([q|k|v], [gate|up]) are loaded as row slices (views) of the
// fused tensor, so no weight is copied. Also the tensor table (name, shape) a family expects,
// used both to load and to count parameters without allocating.
#pragma once

#include <string>
#include <vector>

#include "models/layers/attention.h"
#include "models/layers/mlp.h"
#include "models/model.h"

namespace lightllm::loader {
class WeightStore;
}  // namespace lightllm::loader

namespace lightllm::models::layers {

struct RmsDecoderLayer {
  Tensor input_norm, post_norm;  // [hidden] f32
  AttentionWeights attn;
  GatedMlpWeights mlp;
};

struct RmsDecoder {
  Tensor embed;       // [vocab, hidden]
  Tensor final_norm;  // [hidden] f32
  Tensor lm_head;     // [vocab, hidden]
  std::vector<RmsDecoderLayer> layers;
  AttentionShape attn_shape;
  float eps = 1e-6f;
  float embed_scale = 1.0f;
  float residual_scale = 1.0f;
  float logit_scale = 1.0f;
};

// Runs the stack over the flat batch (see model.h for StepBatch / logits).
Status rms_decoder_forward(const RmsDecoder& d, const StepBatch& batch, KvStorage& kv,
                           Workspace& ws, Tensor& logits, const LayerObserver& observer);

// x *= s over every element (f32).
void scale_in_place(Tensor& x, float s);

// Loads `name` with `shape` and returns rows [row0, row0 + n) of it as a view; small (1-D)
// tensors are converted to f32 first (see small_weight_f32).
Result<Tensor> load_rows(const loader::WeightStore& store, const std::string& name,
                         const core::Shape& shape, int64_t row0, int64_t n);

int64_t count_parameters(const std::vector<models::TensorSpec>& table);

}  // namespace lightllm::models::layers
