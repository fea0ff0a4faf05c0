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
const DecoderNames kNames = llama_style_names(/*norm_bias=*/false);

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p = new_plan(cfg, NormKind::rms);
  DecoderSpec& s = p.spec;
  LLM_ASSIGN_OR_RETURN(s.act, activation_of(cfg));
  s.attn = {
      .n_heads = s.shape.n_heads, .n_kv_heads = s.shape.n_kv_heads, .head_dim = s.shape.head_dim};
  LLM_ASSIGN_OR_RETURN(s.attn.rope, llama_rope_config(cfg));
  if (cfg.sliding_window) s.sliding_window = static_cast<int32_t>(*cfg.sliding_window);
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", false));

  const int64_t H = s.shape.hidden, I = cfg.intermediate_size;
  const int64_t q = int64_t{s.shape.n_heads} * s.shape.head_dim;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  if (I <= 0) return core::invalid_argument("{}: intermediate_size is required", cfg.path);
  DecoderTableParams frame = table_frame(kNames, p);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "self_attn.qkv_proj.", q + 2 * kv, H, false);
    add_linear(t, l + "self_attn.o_proj.", H, q, false);
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "mlp.gate_up_proj.", 2 * I, H, false);
    add_linear(t, l + "mlp.down_proj.", H, I, false);
  };
  add_decoder_table(frame, p.table);
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t q = int64_t{s.shape.n_heads} * s.shape.head_dim;
  const int64_t kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  return assemble_decoder(
      kNames, p, m, [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights&) {
        split_fused_qkv(m.at(l + "self_attn.qkv_proj.weight"), Tensor(), q, kv, L.attn);
        L.attn.wo = m.at(l + "self_attn.o_proj.weight");
        const Tensor& gate_up = m.at(l + "mlp.gate_up_proj.weight");
        const int64_t I = gate_up.dim(0) / 2;
        L.mlp.gate = gate_up.rows(0, I), L.mlp.up = gate_up.rows(I, I);
        L.mlp.down = m.at(l + "mlp.down_proj.weight");
      });
}

constexpr std::string_view kArchitectures[] = {"Phi3ForCausalLM"};

}  // namespace

constinit const PlannedFamily kPhi3Family = {"phi3", kArchitectures, plan, assemble};

}  // namespace lightllm::models
