// src/models/layers/rms_decoder.cpp — see rms_decoder.h.
#include "models/layers/rms_decoder.h"

#include <cmath>

#include "models/layers/common.h"
#include "models/loader/weight_store.h"

namespace lightllm::models::layers {

void scale_in_place(Tensor& x, float s) {
  float* p = x.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

Status rms_decoder_forward(const RmsDecoder& d, const StepBatch& batch, KvStorage& kv,
                           Workspace& ws, Tensor& logits, const LayerObserver& observer) {
  const int64_t n_tokens = batch.n_tokens();
  const int64_t H = d.embed.dim(1);
  if (kv.layers.size() != d.layers.size())
    return core::internal_error("KV storage has {} layers, model has {}", kv.layers.size(),
                                d.layers.size());
  Tensor residual = ws.get(Buf::residual, {n_tokens, H});  // [n_tokens, hidden]
  Tensor normed = ws.get(Buf::normed, {n_tokens, H});
  Tensor proj = ws.get(Buf::proj_out, {n_tokens, H});
  LLM_RETURN_IF_ERROR(ops::embedding(d.embed, batch.token_ids, residual));
  if (d.embed_scale != 1.0f) scale_in_place(residual, d.embed_scale);
  LLM_RETURN_IF_ERROR(ops::rms_norm(residual, d.layers[0].input_norm, d.eps, normed));

  StepBatch step = batch;
  step.attn.scale = 1.0f / std::sqrt(static_cast<float>(d.attn_shape.head_dim));
  for (size_t l = 0; l < d.layers.size(); ++l) {
    const RmsDecoderLayer& L = d.layers[l];
    LLM_RETURN_IF_ERROR(self_attention(L.attn, d.attn_shape, normed, step, kv.layers[l], ws, proj));
    if (d.residual_scale != 1.0f) scale_in_place(proj, d.residual_scale);
    LLM_RETURN_IF_ERROR(ops::add_rms_norm(residual, proj, L.post_norm, d.eps, normed));
    LLM_RETURN_IF_ERROR(gated_mlp(L.mlp, Activation::silu, normed, ws, proj));
    if (d.residual_scale != 1.0f) scale_in_place(proj, d.residual_scale);
    const Tensor& next_norm = l + 1 < d.layers.size() ? d.layers[l + 1].input_norm : d.final_norm;
    LLM_RETURN_IF_ERROR(ops::add_rms_norm(residual, proj, next_norm, d.eps, normed));
    if (observer) observer(static_cast<int>(l), residual);
  }
  LLM_RETURN_IF_ERROR(lm_head_rows(normed, batch.logit_rows, d.lm_head, ws, logits));
  if (d.logit_scale != 1.0f) scale_in_place(logits, d.logit_scale);
  return {};
}

Result<Tensor> load_rows(const loader::WeightStore& store, const std::string& name,
                         const core::Shape& shape, int64_t row0, int64_t n) {
  LLM_ASSIGN_OR_RETURN(Tensor t, store.get(name, shape));
  if (shape.ndim() == 1) t = small_weight_f32(t);
  return t.rows(row0, n);
}

int64_t count_parameters(const std::vector<models::TensorSpec>& table) {
  int64_t n = 0;
  for (const TensorSpec& t : table) n += t.shape.numel();
  return n;
}

}  // namespace lightllm::models::layers
