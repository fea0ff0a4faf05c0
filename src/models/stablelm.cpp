// src/models/stablelm.cpp — StableLM (StableLmForCausalLM; also the remote-code
// StableLMEpochForCausalLM config of stablelm-2 / stablelm-3b-4e1t: rope_pct, norm_eps, same
// tensor names). HF: transformers/models/stablelm/modeling_stablelm.py.
// LayerNorm (with bias) pre-norm decoder, SwiGLU MLP without biases, RoPE on the first
// partial_rotary_factor (default 0.25) of each head, q/k/v bias when use_qkv_bias, o without;
// qk_layernorm: a bias-free LayerNorm per head (its own weight each) on q and k before RoPE;
// use_parallel_residual: x += attn(ln1(x)) + mlp(ln1(x)) (no post_attention_layernorm).
#include "models/families.h"
#include "models/layers/common.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

using namespace layers;

struct Flags {
  bool qkv_bias = false, qk_norm = false;
};

Result<Flags> flags_of(const loader::ModelConfig& cfg) {
  Flags f;
  LLM_ASSIGN_OR_RETURN(f.qkv_bias, cfg_bool(cfg, "use_qkv_bias", false));
  LLM_ASSIGN_OR_RETURN(f.qk_norm, cfg_bool(cfg, "qk_layernorm", false));
  return f;
}

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p;
  DecoderSpec& s = p.spec;
  s.shape = base_shape(cfg);
  s.norm = NormKind::layer;
  s.eps = static_cast<float>(cfg.norm_eps);
  LLM_ASSIGN_OR_RETURN(s.act, activation_of(cfg));
  LLM_ASSIGN_OR_RETURN(s.parallel_residual, cfg_bool(cfg, "use_parallel_residual", false));
  LLM_ASSIGN_OR_RETURN(Flags f, flags_of(cfg));
  LLM_ASSIGN_OR_RETURN(double scaling, cfg_double(cfg, "rotary_scaling_factor", 1.0));
  if (scaling != 1.0)
    return core::unimplemented("{}: rotary_scaling_factor {} (StableLMEpoch)", cfg.path, scaling);
  loader::ModelConfig c = cfg;  // StableLmConfig defaults partial_rotary_factor to 0.25
  if (cfg.raw.find("partial_rotary_factor") == cfg.raw.end()) {
    LLM_ASSIGN_OR_RETURN(c.partial_rotary_factor, cfg_double(cfg, "rope_pct", 0.25));
  }
  s.attn = {.n_heads = s.shape.n_heads,
            .n_kv_heads = s.shape.n_kv_heads,
            .head_dim = s.shape.head_dim,
            .qk_norm_eps = s.eps};
  LLM_ASSIGN_OR_RETURN(s.attn.rope, llama_rope_config(c));
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", false));

  const int64_t H = s.shape.hidden, V = s.shape.vocab, I = cfg.intermediate_size;
  const int64_t D = s.shape.head_dim, q = int64_t{s.shape.n_heads} * D;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * D;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  auto& t = p.table;
  t.push_back({"model.embed_tokens.weight", {V, H}});
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    add_norm(t, l + "input_layernorm.", H, true);
    const std::string a = l + "self_attn.";
    for (auto [name, rows] : {std::pair{"q_proj", q}, {"k_proj", kv}, {"v_proj", kv}}) {
      t.push_back({a + name + ".weight", {rows, H}});
      if (f.qkv_bias) t.push_back({a + name + ".bias", {rows}});
    }
    t.push_back({a + "o_proj.weight", {H, q}});
    if (f.qk_norm) {
      for (int h = 0; h < s.shape.n_heads; ++h)
        t.push_back({a + "q_layernorm.norms." + std::to_string(h) + ".weight", {D}});
      for (int h = 0; h < s.shape.n_kv_heads; ++h)
        t.push_back({a + "k_layernorm.norms." + std::to_string(h) + ".weight", {D}});
    }
    if (!s.parallel_residual) add_norm(t, l + "post_attention_layernorm.", H, true);
    t.push_back({l + "mlp.gate_proj.weight", {I, H}});
    t.push_back({l + "mlp.up_proj.weight", {I, H}});
    t.push_back({l + "mlp.down_proj.weight", {H, I}});
  }
  add_norm(t, "model.norm.", H, true);
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
    if (!s.parallel_residual) L.mlp_norm = norm_of(m, l + "post_attention_layernorm.");
    L.attn.wq = m.at(a + "q_proj.weight"), L.attn.bq = m.small(a + "q_proj.bias");
    L.attn.wk = m.at(a + "k_proj.weight"), L.attn.bk = m.small(a + "k_proj.bias");
    L.attn.wv = m.at(a + "v_proj.weight"), L.attn.bv = m.small(a + "v_proj.bias");
    L.attn.wo = m.at(a + "o_proj.weight");
    if (m.has(a + "q_layernorm.norms.0.weight")) {
      std::vector<Tensor> qn, kn;
      for (int h = 0; h < s.shape.n_heads; ++h)
        qn.push_back(m.at(a + "q_layernorm.norms." + std::to_string(h) + ".weight"));
      for (int h = 0; h < s.shape.n_kv_heads; ++h)
        kn.push_back(m.at(a + "k_layernorm.norms." + std::to_string(h) + ".weight"));
      L.attn.q_norm = stack_f32(qn), L.attn.k_norm = stack_f32(kn);
    }
    L.mlp.gate = m.at(l + "mlp.gate_proj.weight");
    L.mlp.up = m.at(l + "mlp.up_proj.weight");
    L.mlp.down = m.at(l + "mlp.down_proj.weight");
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Model>> load_stablelm(const loader::ModelConfig& cfg,
                                             loader::WeightStore& store,
                                             const dist::ShardSpec& shard) {
  return load_planned(plan(cfg), assemble, store, shard);
}
std::vector<std::string> stablelm_architectures() {
  return {"StableLmForCausalLM", "StableLMEpochForCausalLM"};
}
Result<TensorTable> stablelm_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(DecoderPlan p, plan(cfg));
  return p.table;
}

}  // namespace lightllm::models
