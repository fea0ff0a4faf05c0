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
// One LayerNorm per layer (parallel residual), bias-free.
const DecoderNames kNames = llama_style_names(/*norm_bias=*/false, /*mlp_norm=*/false);

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p = new_plan(cfg, NormKind::layer);
  DecoderSpec& s = p.spec;
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

  const int64_t H = s.shape.hidden, I = cfg.intermediate_size;
  const int64_t D = s.shape.head_dim, q = int64_t{s.shape.n_heads} * D;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * D;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  DecoderTableParams frame = table_frame(kNames, p);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_separate_qkv(t, l + "self_attn.", q, kv, H, cfg.attention_bias, cfg.attention_bias);
    if (qk_norm) {
      t.push_back({l + "self_attn.q_norm.weight", {s.shape.n_heads, D}});
      t.push_back({l + "self_attn.k_norm.weight", {s.shape.n_kv_heads, D}});
    }
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) { add_gated_mlp(t, l + "mlp.", I, H); };
  add_decoder_table(frame, p.table);
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  return assemble_decoder(kNames, p, m,
                          [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights&) {
                            separate_qkv_of(m, l + "self_attn.", L.attn);
                            L.attn.q_norm = m.small(l + "self_attn.q_norm.weight");
                            L.attn.k_norm = m.small(l + "self_attn.k_norm.weight");
                            gated_mlp_of(m, l + "mlp.", L.mlp);
                          });
}

constexpr std::string_view kArchitectures[] = {"CohereForCausalLM"};

}  // namespace

constinit const PlannedFamily kCohereFamily = {"cohere", kArchitectures, plan, assemble};

}  // namespace lightllm::models
