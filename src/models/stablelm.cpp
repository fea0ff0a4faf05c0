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

// LayerNorms with biases; no post_attention_layernorm with use_parallel_residual.
DecoderNames names_of(const DecoderSpec& s) {
  return llama_style_names(/*norm_bias=*/true, /*mlp_norm=*/!s.parallel_residual);
}

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p = new_plan(cfg, NormKind::layer);
  DecoderSpec& s = p.spec;
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

  const int64_t H = s.shape.hidden, I = cfg.intermediate_size;
  const int64_t D = s.shape.head_dim, q = int64_t{s.shape.n_heads} * D;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * D;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  const DecoderNames names = names_of(s);
  DecoderTableParams frame = table_frame(names, p);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    const std::string a = l + "self_attn.";
    add_separate_qkv(t, a, q, kv, H, f.qkv_bias, /*o_bias=*/false);
    if (f.qk_norm) {
      for (int h = 0; h < s.shape.n_heads; ++h)
        t.push_back({a + "q_layernorm.norms." + std::to_string(h) + ".weight", {D}});
      for (int h = 0; h < s.shape.n_kv_heads; ++h)
        t.push_back({a + "k_layernorm.norms." + std::to_string(h) + ".weight", {D}});
    }
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) { add_gated_mlp(t, l + "mlp.", I, H); };
  add_decoder_table(frame, p.table);
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  return assemble_decoder(
      names_of(s), p, m, [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights&) {
        const std::string a = l + "self_attn.";
        separate_qkv_of(m, a, L.attn);
        if (m.has(a + "q_layernorm.norms.0.weight")) {
          std::vector<Tensor> qn, kn;
          for (int h = 0; h < s.shape.n_heads; ++h)
            qn.push_back(m.at(a + "q_layernorm.norms." + std::to_string(h) + ".weight"));
          for (int h = 0; h < s.shape.n_kv_heads; ++h)
            kn.push_back(m.at(a + "k_layernorm.norms." + std::to_string(h) + ".weight"));
          L.attn.q_norm = stack_f32(qn), L.attn.k_norm = stack_f32(kn);
        }
        gated_mlp_of(m, l + "mlp.", L.mlp);
      });
}

constexpr std::string_view kArchitectures[] = {"StableLmForCausalLM", "StableLMEpochForCausalLM"};

}  // namespace

constinit const PlannedFamily kStablelmFamily = {"stablelm", kArchitectures, plan, assemble};

}  // namespace lightllm::models
