// src/models/cohere.cpp — Command-R (CohereForCausalLM). HF: transformers/models/cohere/
// modeling_cohere.py. Parallel block: x += attn(ln(x)) + mlp(ln(x)) with one LayerNorm per
// layer, bias-free (CohereLayerNorm); SwiGLU MLP; RoPE on interleaved pairs (GPT-J style);
// q/k/v/o bias when attention_bias; use_qk_norm: bias-free LayerNorm per head with weights
// [n_heads, head_dim] / [n_kv_heads, head_dim] before RoPE; final LayerNorm; logits =
// lm_head(x) * logit_scale (folded into the final norm); lm_head tied to the embedding.
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
  s.norm = NormKind::layer;
  s.eps = static_cast<float>(cfg.norm_eps);
  s.parallel_residual = true;
  LLM_ASSIGN_OR_RETURN(s.act, activation_of(cfg));
  LLM_ASSIGN_OR_RETURN(s.logit_scale, cfg_double(cfg, "logit_scale", 0.0625));
  LLM_ASSIGN_OR_RETURN(bool qk_norm, cfg_bool(cfg, "use_qk_norm", false));
  s.attn = {.n_heads = s.shape.n_heads,
            .n_kv_heads = s.shape.n_kv_heads,
            .head_dim = s.shape.head_dim,
            .qk_norm_eps = s.eps};
  LLM_ASSIGN_OR_RETURN(s.attn.rope, llama_rope_config(cfg));
  s.attn.rope.interleaved = true;
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", true));

  const int64_t H = s.shape.hidden, V = s.shape.vocab, I = cfg.intermediate_size;
  const int64_t D = s.shape.head_dim, q = int64_t{s.shape.n_heads} * D;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * D;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  auto& t = p.table;
  t.push_back({"model.embed_tokens.weight", {V, H}});
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".", a = l + "self_attn.";
    add_norm(t, l + "input_layernorm.", H, false);
    for (auto [name, rows] : {std::pair{"q_proj", q}, {"k_proj", kv}, {"v_proj", kv}}) {
      t.push_back({a + name + ".weight", {rows, H}});
      if (cfg.attention_bias) t.push_back({a + name + ".bias", {rows}});
    }
    t.push_back({a + "o_proj.weight", {H, q}});
    if (cfg.attention_bias) t.push_back({a + "o_proj.bias", {H}});
    if (qk_norm) {
      t.push_back({a + "q_norm.weight", {s.shape.n_heads, D}});
      t.push_back({a + "k_norm.weight", {s.shape.n_kv_heads, D}});
    }
    t.push_back({l + "mlp.gate_proj.weight", {I, H}});
    t.push_back({l + "mlp.up_proj.weight", {I, H}});
    t.push_back({l + "mlp.down_proj.weight", {H, I}});
  }
  add_norm(t, "model.norm.", H, false);
  if (!p.tied) t.push_back({"lm_head.weight", {V, H}});
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  DecoderWeights w;
  w.embed = m.at("model.embed_tokens.weight");
  w.final_norm = norm_of(m, "model.norm.");
  w.lm_head = p.tied ? w.embed : m.at("lm_head.weight");
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".", a = l + "self_attn.";
    DecoderLayerWeights L;
    L.attn_norm = norm_of(m, l + "input_layernorm.");
    L.attn.wq = m.at(a + "q_proj.weight"), L.attn.bq = m.small(a + "q_proj.bias");
    L.attn.wk = m.at(a + "k_proj.weight"), L.attn.bk = m.small(a + "k_proj.bias");
    L.attn.wv = m.at(a + "v_proj.weight"), L.attn.bv = m.small(a + "v_proj.bias");
    L.attn.wo = m.at(a + "o_proj.weight"), L.attn.bo = m.small(a + "o_proj.bias");
    L.attn.q_norm = m.small(a + "q_norm.weight");
    L.attn.k_norm = m.small(a + "k_norm.weight");
    L.mlp.gate = m.at(l + "mlp.gate_proj.weight");
    L.mlp.up = m.at(l + "mlp.up_proj.weight");
    L.mlp.down = m.at(l + "mlp.down_proj.weight");
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Model>> load_cohere(const loader::ModelConfig& cfg,
                                           loader::WeightStore& store,
                                           const dist::ShardSpec& shard) {
  return load_planned(plan(cfg), assemble, store, shard);
}
std::vector<std::string> cohere_architectures() {
  return {"CohereForCausalLM"};
}
Result<TensorTable> cohere_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(DecoderPlan p, plan(cfg));
  return p.table;
}

}  // namespace lightllm::models
