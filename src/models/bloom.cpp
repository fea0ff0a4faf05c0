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
const DecoderNames kNames = {.embed = kP + "word_embeddings.weight",
                             .layer = kP + "h.",
                             .attn_norm = "input_layernorm.",
                             .mlp_norm = "post_attention_layernorm.",
                             .final_norm = kP + "ln_f.",
                             .norm_bias = true};

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  DecoderPlan p = new_plan(cfg, NormKind::layer);
  DecoderSpec& s = p.spec;
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

  const int64_t H = s.shape.hidden;
  const int64_t I = cfg.intermediate_size > 0 ? cfg.intermediate_size : 4 * H;
  DecoderTableParams frame = table_frame(kNames, p);
  add_norm(frame.after_embed, kP + "word_embeddings_layernorm.", H, true);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "self_attention.query_key_value.", 3 * H, H, true);
    add_linear(t, l + "self_attention.dense.", H, H, true);
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "mlp.dense_h_to_4h.", I, H, true);
    add_linear(t, l + "mlp.dense_4h_to_h.", H, I, true);
  };
  add_decoder_table(frame, p.table);
  return p;
}

Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const int64_t H = p.spec.shape.hidden, D = p.spec.shape.head_dim;
  const dist::HeadShard& hs = p.shard_heads;
  const int64_t row0 = hs.q_head0 * 3 * D, rows = hs.n_q * 3 * D;
  DecoderWeights out = assemble_decoder(
      kNames, p, m, [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights& w) {
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
      });
  out.qkv_local = true;
  out.embed_norm = norm_of(m, kP + "word_embeddings_layernorm.");
  return out;
}

constexpr std::string_view kArchitectures[] = {"BloomForCausalLM"};

}  // namespace

constinit const PlannedFamily kBloomFamily = {"bloom", kArchitectures, plan, assemble,
                                              "transformer."};

}  // namespace lightllm::models
