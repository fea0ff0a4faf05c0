// src/models/phi3.cpp — Phi-3 (Phi3ForCausalLM). HF: transformers/models/phi3/modeling_phi3.py.
// LLaMA-like pre-norm decoder (RMSNorm, SwiGLU, RoPE, GQA) with fused projections:
// qkv_proj rows [q (n_heads*hd), k (n_kv*hd), v (n_kv*hd)] and gate_up_proj rows
// [gate (I), up (I)]; no biases. rope_scaling "longrope"/"su" (short/long factors, attention
// factor; see layers/common.cpp) and partial_rotary_factor; sliding_window when configured
// (query i attends to keys j with i - W < j <= i, as HF's sliding-window mask).
#include "models/families.h"
#include "models/layers/common.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

using namespace layers;

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p;
  DecoderSpec& s = p.spec;
  s.shape = base_shape(cfg);
  s.norm = NormKind::rms;
  s.eps = static_cast<float>(cfg.norm_eps);
  LLM_ASSIGN_OR_RETURN(s.act, activation_of(cfg));
  s.attn = {
      .n_heads = s.shape.n_heads, .n_kv_heads = s.shape.n_kv_heads, .head_dim = s.shape.head_dim};
  LLM_ASSIGN_OR_RETURN(s.attn.rope, llama_rope_config(cfg));
  if (cfg.sliding_window) s.sliding_window = static_cast<int32_t>(*cfg.sliding_window);
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", false));

  const int64_t H = s.shape.hidden, V = s.shape.vocab, I = cfg.intermediate_size;
  const int64_t q = int64_t{s.shape.n_heads} * s.shape.head_dim;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  auto& t = p.table;
  t.push_back({"model.embed_tokens.weight", {V, H}});
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    add_norm(t, l + "input_layernorm.", H, false);
    t.push_back({l + "self_attn.qkv_proj.weight", {q + 2 * kv, H}});
    t.push_back({l + "self_attn.o_proj.weight", {H, q}});
    add_norm(t, l + "post_attention_layernorm.", H, false);
    t.push_back({l + "mlp.gate_up_proj.weight", {2 * I, H}});
    t.push_back({l + "mlp.down_proj.weight", {H, I}});
  }
  add_norm(t, "model.norm.", H, false);
  if (!p.tied) t.push_back({"lm_head.weight", {V, H}});
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t q = int64_t{s.shape.n_heads} * s.shape.head_dim;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  DecoderWeights w;
  w.embed = m.at("model.embed_tokens.weight");
  w.final_norm = norm_of(m, "model.norm.");
  w.lm_head = p.tied ? w.embed : m.at("lm_head.weight");
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    DecoderLayerWeights L;
    L.attn_norm = norm_of(m, l + "input_layernorm.");
    L.mlp_norm = norm_of(m, l + "post_attention_layernorm.");
    split_fused_qkv(m.at(l + "self_attn.qkv_proj.weight"), Tensor(), q, kv, L.attn);
    L.attn.wo = m.at(l + "self_attn.o_proj.weight");
    const Tensor& gate_up = m.at(l + "mlp.gate_up_proj.weight");
    const int64_t I = gate_up.dim(0) / 2;
    L.mlp.gate = gate_up.rows(0, I), L.mlp.up = gate_up.rows(I, I);
    L.mlp.down = m.at(l + "mlp.down_proj.weight");
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Model>> load_phi3(const loader::ModelConfig& cfg, loader::WeightStore& store,
                                         const dist::ShardSpec& shard) {
  return load_planned(plan(cfg), assemble, store, shard);
}
std::vector<std::string> phi3_architectures() {
  return {"Phi3ForCausalLM"};
}
Result<TensorTable> phi3_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(DecoderPlan p, plan(cfg));
  return p.table;
}

}  // namespace lightllm::models
