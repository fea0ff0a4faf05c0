// src/models/families.cpp — the frame the plan-based families share (see families.h): the
// table around their layers, the weights around their layers, and separate q/k/v/o
// projections.
#include "models/families.h"

#include "models/loader/model_config.h"

namespace lightllm::models {

using namespace layers;

DecoderPlan new_plan(const loader::ModelConfig& cfg, NormKind norm) {
  DecoderPlan p;
  p.spec.shape = base_shape(cfg);
  p.spec.norm = norm;
  p.spec.eps = static_cast<float>(cfg.norm_eps);
  return p;
}

DecoderNames llama_style_names(bool norm_bias, bool mlp_norm) {
  return {.embed = "model.embed_tokens.weight",
          .layer = "model.layers.",
          .attn_norm = "input_layernorm.",
          .mlp_norm = mlp_norm ? "post_attention_layernorm." : "",
          .final_norm = "model.norm.",
          .norm_bias = norm_bias};
}

DecoderTableParams table_frame(const DecoderNames& names, const DecoderPlan& p) {
  return {.names = names,
          .vocab = p.spec.shape.vocab,
          .hidden = p.spec.shape.hidden,
          .n_layers = p.spec.shape.n_layers,
          .tied = p.tied};
}

void add_decoder_table(const DecoderTableParams& p, TensorTable& t) {
  const DecoderNames& n = p.names;
  t.push_back({n.embed, {p.vocab, p.hidden}});
  t.insert(t.end(), p.after_embed.begin(), p.after_embed.end());
  for (int i = 0; i < p.n_layers; ++i) {
    const std::string l = n.layer_prefix(i);
    add_norm(t, l + n.attn_norm, p.hidden, n.norm_bias);
    p.attention(l, t);
    if (!n.mlp_norm.empty()) add_norm(t, l + n.mlp_norm, p.hidden, n.norm_bias);
    p.mlp(l, t);
  }
  add_norm(t, n.final_norm, p.hidden, n.norm_bias);
  if (!p.tied) t.push_back({n.lm_head, {p.vocab, p.hidden}});
}

DecoderWeights assemble_decoder(const DecoderNames& names, const DecoderPlan& p, const TensorMap& m,
                                const LayerWeightsFn& layer) {
  DecoderWeights w;
  w.embed = m.at(names.embed);
  w.final_norm = norm_of(m, names.final_norm);
  w.lm_head = p.tied ? w.embed : m.at(names.lm_head);
  for (int i = 0; i < p.spec.shape.n_layers; ++i) {
    const std::string l = names.layer_prefix(i);
    DecoderLayerWeights L;
    L.attn_norm = norm_of(m, l + names.attn_norm);
    if (!names.mlp_norm.empty()) L.mlp_norm = norm_of(m, l + names.mlp_norm);
    layer(l, L, w);
    w.layers.push_back(std::move(L));
  }
  return w;
}

void add_linear(TensorTable& t, const std::string& prefix, int64_t out_features,
                int64_t in_features, bool bias) {
  t.push_back({prefix + "weight", {out_features, in_features}});
  if (bias) t.push_back({prefix + "bias", {out_features}});
}

void add_separate_qkv(TensorTable& t, const std::string& attn_prefix, int64_t q, int64_t kv,
                      int64_t hidden, bool qkv_bias, bool o_bias) {
  add_linear(t, attn_prefix + "q_proj.", q, hidden, qkv_bias);
  add_linear(t, attn_prefix + "k_proj.", kv, hidden, qkv_bias);
  add_linear(t, attn_prefix + "v_proj.", kv, hidden, qkv_bias);
  add_linear(t, attn_prefix + "o_proj.", hidden, q, o_bias);
}

void separate_qkv_of(const TensorMap& m, const std::string& a, AttentionWeights& attn) {
  attn.wq = m.at(a + "q_proj.weight"), attn.bq = m.small(a + "q_proj.bias");
  attn.wk = m.at(a + "k_proj.weight"), attn.bk = m.small(a + "k_proj.bias");
  attn.wv = m.at(a + "v_proj.weight"), attn.bv = m.small(a + "v_proj.bias");
  attn.wo = m.at(a + "o_proj.weight"), attn.bo = m.small(a + "o_proj.bias");
}

void add_gated_mlp(TensorTable& t, const std::string& mlp_prefix, int64_t inter, int64_t hidden) {
  add_linear(t, mlp_prefix + "gate_proj.", inter, hidden, false);
  add_linear(t, mlp_prefix + "up_proj.", inter, hidden, false);
  add_linear(t, mlp_prefix + "down_proj.", hidden, inter, false);
}

void gated_mlp_of(const TensorMap& m, const std::string& mlp_prefix, GatedMlpWeights& mlp) {
  mlp.gate = m.at(mlp_prefix + "gate_proj.weight");
  mlp.up = m.at(mlp_prefix + "up_proj.weight");
  mlp.down = m.at(mlp_prefix + "down_proj.weight");
}

}  // namespace lightllm::models
