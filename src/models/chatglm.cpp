// src/models/chatglm.cpp — ChatGLM2-6B / ChatGLM3-6B (`ChatGLMModel`, model_type chatglm).
// Reference: THUDM's modeling_chatglm.py (re-written in tools/goldens/ref_models/chatglm2.py).
// A plan for the generic decoder (layers/decoder.h): pre-norm RMSNorm, SwiGLU, where:
//  - q/k/v come from one fused `query_key_value` [heads*kv_channels + 2*groups*kv_channels,
//    hidden] (+ bias when add_qkv_bias), split as [q | k | v]: multi-query groups
//    (multi_query_group_num kv heads) when multi_query_attention;
//  - rotary covers the first half of each head (kv_channels/2 dims) in interleaved pairs, with
//    base 10000 * rope_ratio (ChatGLM3-32k) and the frequencies of a kv_channels/2 rotary;
//  - the MLP's `dense_h_to_4h` [2*ffn_hidden_size, hidden] is [gate | up] (SwiGLU).
// Tensor names: transformer.embedding.word_embeddings, transformer.encoder.layers.N.{
// input_layernorm, self_attention.{query_key_value,dense}, post_attention_layernorm,
// mlp.{dense_h_to_4h,dense_4h_to_h}}, transformer.encoder.final_layernorm,
// transformer.output_layer. transformer.rotary_pos_emb.inv_freq is ignored (recomputed).
// Not supported (unimplemented errors): rmsnorm false, post_layer_norm false,
// apply_residual_connection_post_layernorm true — no published v2/v3 checkpoint uses them.
#include <cmath>

#include "models/families.h"
#include "models/layers/common.h"
#include "models/loader/json_fields.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

using namespace layers;

struct GlmDims {
  int64_t vocab = 0, hidden = 0, ffn = 0;
  int heads = 0, groups = 0, head_dim = 0;
  bool qkv_bias = true, linear_bias = false;
  double rope_ratio = 1.0;
  int64_t seq_length = 0;
  int64_t qkv_rows() const { return (int64_t{heads} + 2 * int64_t{groups}) * head_dim; }
};

Result<GlmDims> glm_dims(const loader::ModelConfig& cfg) {
  loader::JsonFields f(cfg.raw, cfg.path);
  GlmDims d;
  d.vocab = cfg.vocab_size;
  d.hidden = cfg.hidden_size;
  d.heads = static_cast<int>(cfg.num_attention_heads);
  d.ffn = cfg.intermediate_size;
  d.seq_length = cfg.max_position_embeddings;
  if (d.ffn <= 0) return f.error("ffn_hidden_size", "is required and must be > 0");
  LLM_ASSIGN_OR_RETURN(auto kv_channels, f.opt_int("kv_channels"));
  d.head_dim = static_cast<int>(kv_channels.value_or(cfg.head_dim));
  if (d.head_dim <= 0 || d.head_dim % 4 != 0)
    return f.error("kv_channels", "must be a positive multiple of 4");
  LLM_ASSIGN_OR_RETURN(auto mqa, f.opt_bool("multi_query_attention"));
  LLM_ASSIGN_OR_RETURN(auto groups, f.opt_int("multi_query_group_num"));
  d.groups = mqa.value_or(false) ? static_cast<int>(groups.value_or(1)) : d.heads;
  if (d.groups <= 0 || d.heads % d.groups != 0)
    return f.error("multi_query_group_num", "must be > 0 and divide num_attention_heads");
  LLM_ASSIGN_OR_RETURN(auto add_qkv_bias, f.opt_bool("add_qkv_bias"));
  LLM_ASSIGN_OR_RETURN(auto add_bias_linear, f.opt_bool("add_bias_linear"));
  d.linear_bias = add_bias_linear.value_or(false);  // ChatGLMConfig defaults: both false
  d.qkv_bias = d.linear_bias || add_qkv_bias.value_or(false);
  LLM_ASSIGN_OR_RETURN(auto rope_ratio, f.opt_double("rope_ratio"));
  d.rope_ratio = rope_ratio.value_or(1.0);
  if (!(d.rope_ratio > 0)) return f.error("rope_ratio", "must be > 0");
  for (const char* key : {"rmsnorm", "post_layer_norm"}) {
    LLM_ASSIGN_OR_RETURN(auto v, f.opt_bool(key));
    if (!v.value_or(true))
      return core::unimplemented("{}: ChatGLM with {} false is not supported", cfg.path, key);
  }
  LLM_ASSIGN_OR_RETURN(auto post_ln_res, f.opt_bool("apply_residual_connection_post_layernorm"));
  if (post_ln_res.value_or(false))
    return core::unimplemented(
        "{}: ChatGLM with apply_residual_connection_post_layernorm true is not supported",
        cfg.path);
  return d;
}

const DecoderNames kNames = {.embed = "transformer.embedding.word_embeddings.weight",
                             .layer = "transformer.encoder.layers.",
                             .attn_norm = "input_layernorm.",
                             .mlp_norm = "post_attention_layernorm.",
                             .final_norm = "transformer.encoder.final_layernorm.",
                             .lm_head = "transformer.output_layer.weight"};

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(GlmDims d, glm_dims(cfg));
  DecoderPlan p = new_plan(cfg, NormKind::rms);
  DecoderSpec& s = p.spec;
  s.shape.n_kv_heads = d.groups;
  s.shape.head_dim = d.head_dim;
  s.shape.max_context = d.seq_length;
  s.act = Activation::silu;
  s.attn = {.n_heads = d.heads, .n_kv_heads = d.groups, .head_dim = d.head_dim};
  s.attn.rope.rotary_dim = d.head_dim / 2;
  s.attn.rope.theta = 10000.0 * d.rope_ratio;
  s.attn.rope.interleaved = true;
  s.attn.rope.original_max_position = d.seq_length;

  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim;
  DecoderTableParams frame = table_frame(kNames, p);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "self_attention.query_key_value.", d.qkv_rows(), H, d.qkv_bias);
    add_linear(t, l + "self_attention.dense.", H, P, d.linear_bias);
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "mlp.dense_h_to_4h.", 2 * d.ffn, H, d.linear_bias);
    add_linear(t, l + "mlp.dense_4h_to_h.", H, d.ffn, d.linear_bias);
  };
  add_decoder_table(frame, p.table);
  return p;
}

// Splits the fused tensors into views: qkv rows [q | k | v], dense_h_to_4h rows [gate | up].
Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const DecoderSpec& s = p.spec;
  const int64_t P = int64_t{s.shape.n_heads} * s.shape.head_dim;
  const int64_t KV = int64_t{s.shape.n_kv_heads} * s.shape.head_dim;
  return assemble_decoder(
      kNames, p, m, [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights&) {
        const std::string qkv = l + "self_attention.query_key_value.";
        split_fused_qkv(m.at(qkv + "weight"),
                        m.has(qkv + "bias") ? m.small(qkv + "bias") : Tensor(), P, KV, L.attn);
        L.attn.wo = m.at(l + "self_attention.dense.weight");
        const Tensor& h4 = m.at(l + "mlp.dense_h_to_4h.weight");
        const int64_t F = h4.dim(0) / 2;
        L.mlp.gate = h4.rows(0, F), L.mlp.up = h4.rows(F, F);
        L.mlp.down = m.at(l + "mlp.dense_4h_to_h.weight");
        if (m.has(l + "self_attention.dense.bias")) {
          L.attn.bo = m.small(l + "self_attention.dense.bias");
          const Tensor hb = m.small(l + "mlp.dense_h_to_4h.bias");
          L.mlp.gate_bias = hb.rows(0, F), L.mlp.up_bias = hb.rows(F, F);
          L.mlp.down_bias = m.small(l + "mlp.dense_4h_to_h.bias");
        }
      });
}

constexpr std::string_view kArchitectures[] = {"ChatGLMModel"};

}  // namespace

constinit const PlannedFamily kChatglmFamily = {"chatglm", kArchitectures, plan, assemble};

}  // namespace lightllm::models
