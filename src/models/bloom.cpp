// src/models/bloom.cpp — BLOOM (BloomForCausalLM). HF: transformers/models/bloom/modeling_bloom.py.
// word embeddings → LayerNorm (word_embeddings_layernorm) → layers of
//   x += dense(attn(ln1(x)))  with ALiBi (no rotary), fused query_key_value laid out per head
//                              as [n_heads, (q, k, v), head_dim] rows, all Linear with bias;
//   x += dense_4h_to_h(gelu_tanh(dense_h_to_4h(ln2(x))))
// → ln_f → lm_head tied to word_embeddings. LayerNorms have biases.
// Published checkpoints (bigscience/bloom*) name tensors without the "transformer." prefix
// that save_pretrained writes; both are accepted.
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
  s.norm = NormKind::layer;
  s.eps = static_cast<float>(cfg.norm_eps);
  s.gated_mlp = false;
  s.act = Activation::gelu_tanh;  // bloom_gelu_forward: the tanh approximation
  s.embed_norm = true;
  s.alibi = true;
  s.attn = {.n_heads = s.shape.n_heads,
            .n_kv_heads = s.shape.n_heads,
            .head_dim = s.shape.head_dim,
            .use_rope = false};
  s.shape.n_kv_heads = s.shape.n_heads;
  LLM_ASSIGN_OR_RETURN(bool post_ln_residual,
                       cfg_bool(cfg, "apply_residual_connection_post_layernorm", false));
  if (post_ln_residual)
    return core::unimplemented("{}: apply_residual_connection_post_layernorm = true", cfg.path);
  LLM_ASSIGN_OR_RETURN(p.tied, cfg_bool(cfg, "tie_word_embeddings", true));

  const int64_t H = s.shape.hidden, V = s.shape.vocab;
  const int64_t I = cfg.intermediate_size > 0 ? cfg.intermediate_size : 4 * H;
  auto& t = p.table;
  t.push_back({kP + "word_embeddings.weight", {V, H}});
  add_norm(t, kP + "word_embeddings_layernorm.", H, true);
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = kP + "h." + std::to_string(i) + ".";
    add_norm(t, l + "input_layernorm.", H, true);
    t.push_back({l + "self_attention.query_key_value.weight", {3 * H, H}});
    t.push_back({l + "self_attention.query_key_value.bias", {3 * H}});
    t.push_back({l + "self_attention.dense.weight", {H, H}});
    t.push_back({l + "self_attention.dense.bias", {H}});
    add_norm(t, l + "post_attention_layernorm.", H, true);
    t.push_back({l + "mlp.dense_h_to_4h.weight", {I, H}});
    t.push_back({l + "mlp.dense_h_to_4h.bias", {I}});
    t.push_back({l + "mlp.dense_4h_to_h.weight", {H, I}});
    t.push_back({l + "mlp.dense_4h_to_h.bias", {H}});
  }
  add_norm(t, kP + "ln_f.", H, true);
  if (!p.tied) t.push_back({"lm_head.weight", {V, H}});
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t H = s.shape.hidden;
  const dist::HeadShard& hs = p.shard_heads;
  const int64_t D = s.shape.head_dim, row0 = hs.q_head0 * 3 * D, rows = hs.n_q * 3 * D;
  DecoderWeights w;
  w.qkv_local = true;
  w.embed = m.at(kP + "word_embeddings.weight");
  w.embed_norm = norm_of(m, kP + "word_embeddings_layernorm.");
  w.final_norm = norm_of(m, kP + "ln_f.");
  w.lm_head = p.tied ? w.embed : m.at("lm_head.weight");
  for (int i = 0; i < s.shape.n_layers; ++i) {
    const std::string l = kP + "h." + std::to_string(i) + ".";
    DecoderLayerWeights L;
    L.attn_norm = norm_of(m, l + "input_layernorm.");
    L.mlp_norm = norm_of(m, l + "post_attention_layernorm.");
    // [n_heads, 3, head_dim] rows → [3, n_heads, head_dim]: q, k, v become row blocks. Only
    // this rank's heads (a contiguous block of the per-head layout) are regrouped.
    const Tensor qkv = group_heads_by_part(
        m.at(l + "self_attention.query_key_value.weight").rows(row0, rows), hs.n_q, 3, D);
    const Tensor qkv_b = small_weight_f32(group_heads_by_part(
        m.at(l + "self_attention.query_key_value.bias").reshape({3 * H, 1}).rows(row0, rows),
        hs.n_q, 3, D));
    w.owned.push_back(qkv);
    w.owned.push_back(qkv_b);
    split_fused_qkv(qkv, qkv_b, hs.n_q * D, hs.n_q * D, L.attn);
    L.attn.wo = m.at(l + "self_attention.dense.weight");
    L.attn.bo = m.small(l + "self_attention.dense.bias");
    L.mlp.up = m.at(l + "mlp.dense_h_to_4h.weight");
    L.mlp.up_bias = m.small(l + "mlp.dense_h_to_4h.bias");
    L.mlp.down = m.at(l + "mlp.dense_4h_to_h.weight");
    L.mlp.down_bias = m.small(l + "mlp.dense_4h_to_h.bias");
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Model>> load_bloom(const loader::ModelConfig& cfg,
                                          loader::WeightStore& store,
                                          const dist::ShardSpec& shard) {
  return load_planned(plan(cfg), assemble, store, shard, kP);
}
std::vector<std::string> bloom_architectures() {
  return {"BloomForCausalLM"};
}
Result<TensorTable> bloom_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(DecoderPlan p, plan(cfg));
  return p.table;
}

}  // namespace lightllm::models
