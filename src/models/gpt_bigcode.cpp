// src/models/gpt_bigcode.cpp — StarCoder / SantaCoder (GPTBigCodeForCausalLM).
// HF: transformers/models/gpt_bigcode/modeling_gpt_bigcode.py.
// wte[ids] + wpe[positions] (learned absolute positions) → layers of
//   x += c_proj(attn(ln_1(x)))   fused c_attn: multi_query → rows [q (hidden), k (head_dim),
//                                 v (head_dim)] with one KV head; else per head [q, k, v];
//   x += mlp.c_proj(act(mlp.c_fc(ln_2(x))))   (activation_function, default gelu_pytorch_tanh)
// → ln_f → lm_head tied to wte. Every Linear and LayerNorm has a bias.
#include "models/families.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

using namespace layers;
const std::string kP = "transformer.";
const DecoderNames kNames = {.embed = kP + "wte.weight",
                             .layer = kP + "h.",
                             .attn_norm = "ln_1.",
                             .mlp_norm = "ln_2.",
                             .final_norm = kP + "ln_f.",
                             .norm_bias = true};

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p = new_plan(cfg, NormKind::layer);
  DecoderSpec& s = p.spec;
  LLM_ASSIGN_OR_RETURN(bool mqa, cfg_bool(cfg, "multi_query", true));
  s.shape.n_kv_heads = mqa ? 1 : s.shape.n_heads;
  s.gated_mlp = false;
  loader::ModelConfig c = cfg;
  if (cfg.raw.find("activation_function") == cfg.raw.end()) c.hidden_act = "gelu_pytorch_tanh";
  LLM_ASSIGN_OR_RETURN(s.act, activation_of(c));
  if (s.act == Activation::silu)
    return core::unimplemented("{}: activation '{}' in an ungated MLP", cfg.path, c.hidden_act);
  s.learned_positions = true;
  LLM_ASSIGN_OR_RETURN(bool scale, cfg_bool(cfg, "scale_attn_weights", true));
  if (!scale) s.attn_scale = 1.0f;
  s.attn = {.n_heads = s.shape.n_heads,
            .n_kv_heads = s.shape.n_kv_heads,
            .head_dim = s.shape.head_dim,
            .use_rope = false};
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", true));
  if (cfg.max_position_embeddings <= 0)
    return core::invalid_argument("{}: n_positions is required", cfg.path);

  const int64_t H = s.shape.hidden, D = s.shape.head_dim;
  const int64_t I = cfg.intermediate_size > 0 ? cfg.intermediate_size : 4 * H;
  const int64_t qkv_rows = H + 2 * s.shape.n_kv_heads * D;
  DecoderTableParams frame = table_frame(kNames, p);
  frame.after_embed = {{kP + "wpe.weight", {cfg.max_position_embeddings, H}}};
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "attn.c_attn.", qkv_rows, H, true);
    add_linear(t, l + "attn.c_proj.", H, H, true);
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "mlp.c_fc.", I, H, true);
    add_linear(t, l + "mlp.c_proj.", H, I, true);
  };
  add_decoder_table(frame, p.table);
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t H = s.shape.hidden, kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  const bool mqa = s.shape.n_kv_heads == 1;  // (one head: both layouts agree)
  const dist::HeadShard& hs = p.shard_heads;
  const int64_t D = s.shape.head_dim;
  DecoderWeights out = assemble_decoder(
      kNames, p, m, [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights& w) {
        Tensor qkv = m.at(l + "attn.c_attn.weight");
        Tensor qkv_b = small_weight_f32(m.at(l + "attn.c_attn.bias")).reshape({H + 2 * kv, 1});
        if (!mqa) {  // per head [q, k, v] → [q heads, k heads, v heads], this rank's heads only
          const int64_t row0 = hs.q_head0 * 3 * D, rows = hs.n_q * 3 * D;
          qkv = group_heads_by_part(qkv.rows(row0, rows), hs.n_q, 3, D);
          qkv_b = group_heads_by_part(qkv_b.rows(row0, rows), hs.n_q, 3, D);
          w.owned.push_back(qkv);
          split_fused_qkv(qkv, qkv_b, hs.n_q * D, hs.n_q * D, L.attn);
        } else {
          split_fused_qkv(qkv, qkv_b, H, kv, L.attn);  // load_planned takes the rank's q rows
        }
        w.owned.push_back(qkv_b);
        L.attn.wo = m.at(l + "attn.c_proj.weight");
        L.attn.bo = m.small(l + "attn.c_proj.bias");
        L.mlp.up = m.at(l + "mlp.c_fc.weight");
        L.mlp.up_bias = m.small(l + "mlp.c_fc.bias");
        L.mlp.down = m.at(l + "mlp.c_proj.weight");
        L.mlp.down_bias = m.small(l + "mlp.c_proj.bias");
      });
  out.qkv_local = !mqa;
  out.pos_embed = m.at(kP + "wpe.weight");
  return out;
}

constexpr std::string_view kArchitectures[] = {"GPTBigCodeForCausalLM"};

}  // namespace

constinit const PlannedFamily kGptBigcodeFamily = {"gpt_bigcode", kArchitectures, plan, assemble,
                                                   "transformer."};

}  // namespace lightllm::models
