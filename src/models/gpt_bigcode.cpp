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

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p;
  DecoderSpec& s = p.spec;
  s.shape = base_shape(cfg);
  LLM_ASSIGN_OR_RETURN(bool mqa, cfg_bool(cfg, "multi_query", true));
  s.shape.n_kv_heads = mqa ? 1 : s.shape.n_heads;
  s.norm = NormKind::layer;
  s.eps = static_cast<float>(cfg.norm_eps);
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

  const int64_t H = s.shape.hidden, V = s.shape.vocab, D = s.shape.head_dim;
  const int64_t I = cfg.intermediate_size > 0 ? cfg.intermediate_size : 4 * H;
  const int64_t qkv_rows = H + 2 * s.shape.n_kv_heads * D;
  auto& t = p.table;
  t.push_back({kP + "wte.weight", {V, H}});
  t.push_back({kP + "wpe.weight", {cfg.max_position_embeddings, H}});
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = kP + "h." + std::to_string(i) + ".";
    add_norm(t, l + "ln_1.", H, true);
    t.push_back({l + "attn.c_attn.weight", {qkv_rows, H}});
    t.push_back({l + "attn.c_attn.bias", {qkv_rows}});
    t.push_back({l + "attn.c_proj.weight", {H, H}});
    t.push_back({l + "attn.c_proj.bias", {H}});
    add_norm(t, l + "ln_2.", H, true);
    t.push_back({l + "mlp.c_fc.weight", {I, H}});
    t.push_back({l + "mlp.c_fc.bias", {I}});
    t.push_back({l + "mlp.c_proj.weight", {H, I}});
    t.push_back({l + "mlp.c_proj.bias", {H}});
  }
  add_norm(t, kP + "ln_f.", H, true);
  if (!p.tied) t.push_back({"lm_head.weight", {V, H}});
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t H = s.shape.hidden, kv = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  const bool mqa = s.shape.n_kv_heads == 1;  // (one head: both layouts agree)
  const dist::HeadShard& hs = p.shard_heads;
  const int64_t D = s.shape.head_dim;
  DecoderWeights w;
  w.qkv_local = !mqa;
  w.embed = m.at(kP + "wte.weight");
  w.pos_embed = m.at(kP + "wpe.weight");
  w.final_norm = norm_of(m, kP + "ln_f.");
  w.lm_head = p.tied ? w.embed : m.at("lm_head.weight");
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = kP + "h." + std::to_string(i) + ".";
    DecoderLayerWeights L;
    L.attn_norm = norm_of(m, l + "ln_1.");
    L.mlp_norm = norm_of(m, l + "ln_2.");
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
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Model>> load_gpt_bigcode(const loader::ModelConfig& cfg,
                                                loader::WeightStore& store,
                                                const dist::ShardSpec& shard) {
  return load_planned(plan(cfg), assemble, store, shard, kP);
}
std::vector<std::string> gpt_bigcode_architectures() {
  return {"GPTBigCodeForCausalLM"};
}
Result<TensorTable> gpt_bigcode_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(DecoderPlan p, plan(cfg));
  return p.table;
}

}  // namespace lightllm::models
