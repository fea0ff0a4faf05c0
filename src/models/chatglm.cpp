// src/models/chatglm.cpp — ChatGLM2-6B / ChatGLM3-6B (`ChatGLMModel`, model_type chatglm).
// Reference: THUDM's modeling_chatglm.py (re-written in tools/goldens/ref_models/chatglm2.py).
// A pre-norm RMSNorm decoder (layers/rms_decoder.h) where:
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

#include "models/layers/common.h"
#include "models/loader/json_fields.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"
#include "models/remote_code_families.h"

namespace lightllm::models {
namespace {

struct GlmDims {
  int64_t vocab = 0, hidden = 0, ffn = 0, layers = 0;
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
  d.layers = cfg.num_hidden_layers;
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

std::string layer_prefix(int64_t i) {
  return "transformer.encoder.layers." + std::to_string(i) + ".";
}

std::vector<TensorSpec> glm_table(const GlmDims& d) {
  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim;
  std::vector<TensorSpec> t = {{"transformer.embedding.word_embeddings.weight", {d.vocab, H}},
                               {"transformer.encoder.final_layernorm.weight", {H}},
                               {"transformer.output_layer.weight", {d.vocab, H}}};
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string p = layer_prefix(i);
    t.push_back({p + "input_layernorm.weight", {H}});
    t.push_back({p + "post_attention_layernorm.weight", {H}});
    t.push_back({p + "self_attention.query_key_value.weight", {d.qkv_rows(), H}});
    if (d.qkv_bias) t.push_back({p + "self_attention.query_key_value.bias", {d.qkv_rows()}});
    t.push_back({p + "self_attention.dense.weight", {H, P}});
    if (d.linear_bias) t.push_back({p + "self_attention.dense.bias", {H}});
    t.push_back({p + "mlp.dense_h_to_4h.weight", {2 * d.ffn, H}});
    if (d.linear_bias) t.push_back({p + "mlp.dense_h_to_4h.bias", {2 * d.ffn}});
    t.push_back({p + "mlp.dense_4h_to_h.weight", {H, d.ffn}});
    if (d.linear_bias) t.push_back({p + "mlp.dense_4h_to_h.bias", {H}});
  }
  return t;
}

class ChatGlmModel final : public Model {
 public:
  const ModelShape& shape() const override { return shape_; }
  int64_t weight_bytes() const override { return weight_bytes_; }
  Status forward(const StepBatch& batch, KvStorage& kv, Tensor& logits,
                 const LayerObserver& observer) override {
    return layers::rms_decoder_forward(dec_, batch, kv, ws_, logits, observer);
  }
  static Result<std::unique_ptr<Model>> load(const loader::ModelConfig& cfg,
                                             loader::WeightStore& store);

 private:
  ModelShape shape_;
  layers::RmsDecoder dec_;
  int64_t weight_bytes_ = 0;
  Workspace ws_;
};

Result<std::unique_ptr<Model>> ChatGlmModel::load(const loader::ModelConfig& cfg,
                                                  loader::WeightStore& store) {
  LLM_ASSIGN_OR_RETURN(GlmDims d, glm_dims(cfg));
  auto m = std::make_unique<ChatGlmModel>();
  ModelShape& s = m->shape_;
  s.architecture = cfg.architecture;
  s.vocab = d.vocab;
  s.hidden = d.hidden;
  s.n_layers = static_cast<int>(d.layers);
  s.n_heads = d.heads;
  s.n_kv_heads = d.groups;
  s.head_dim = d.head_dim;
  s.max_context = d.seq_length;

  layers::RmsDecoder& dec = m->dec_;
  dec.eps = static_cast<float>(cfg.norm_eps);
  layers::AttentionShape& a = dec.attn_shape;
  a.n_heads = d.heads;
  a.n_kv_heads = d.groups;
  a.head_dim = d.head_dim;
  a.rope.rotary_dim = d.head_dim / 2;
  a.rope.theta = 10000.0 * d.rope_ratio;
  a.rope.interleaved = true;
  a.rope.original_max_position = d.seq_length;
  layers::init_rope(a);

  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim;
  const int64_t KV = int64_t{d.groups} * d.head_dim;
  LLM_ASSIGN_OR_RETURN(dec.embed,
                       store.get("transformer.embedding.word_embeddings.weight", {d.vocab, H}));
  LLM_ASSIGN_OR_RETURN(dec.final_norm,
                       store.get("transformer.encoder.final_layernorm.weight", {H}));
  dec.final_norm = small_weight_f32(dec.final_norm);
  LLM_ASSIGN_OR_RETURN(dec.lm_head, store.get("transformer.output_layer.weight", {d.vocab, H}));
  s.weight_dtype = dec.embed.dtype();

  dec.layers.resize(static_cast<size_t>(d.layers));
  for (int64_t i = 0; i < d.layers; ++i) {
    layers::RmsDecoderLayer& L = dec.layers[static_cast<size_t>(i)];
    const std::string p = layer_prefix(i);
    auto rows = [&](const std::string& name, core::Shape shape, int64_t r0, int64_t n,
                    Tensor& out) -> Status {
      LLM_ASSIGN_OR_RETURN(out, layers::load_rows(store, p + name, shape, r0, n));
      return {};
    };
    auto whole = [&](const std::string& name, core::Shape shape, Tensor& out) {
      return rows(name, shape, 0, shape[0], out);
    };
    LLM_RETURN_IF_ERROR(whole("input_layernorm.weight", {H}, L.input_norm));
    LLM_RETURN_IF_ERROR(whole("post_attention_layernorm.weight", {H}, L.post_norm));
    const std::string qkv = "self_attention.query_key_value.";
    const core::Shape qkv_w{d.qkv_rows(), H}, qkv_b{d.qkv_rows()};
    LLM_RETURN_IF_ERROR(rows(qkv + "weight", qkv_w, 0, P, L.attn.wq));
    LLM_RETURN_IF_ERROR(rows(qkv + "weight", qkv_w, P, KV, L.attn.wk));
    LLM_RETURN_IF_ERROR(rows(qkv + "weight", qkv_w, P + KV, KV, L.attn.wv));
    if (d.qkv_bias) {
      LLM_RETURN_IF_ERROR(rows(qkv + "bias", qkv_b, 0, P, L.attn.bq));
      LLM_RETURN_IF_ERROR(rows(qkv + "bias", qkv_b, P, KV, L.attn.bk));
      LLM_RETURN_IF_ERROR(rows(qkv + "bias", qkv_b, P + KV, KV, L.attn.bv));
    }
    LLM_RETURN_IF_ERROR(whole("self_attention.dense.weight", {H, P}, L.attn.wo));
    const core::Shape h4_w{2 * d.ffn, H}, h4_b{2 * d.ffn};
    LLM_RETURN_IF_ERROR(rows("mlp.dense_h_to_4h.weight", h4_w, 0, d.ffn, L.mlp.gate));
    LLM_RETURN_IF_ERROR(rows("mlp.dense_h_to_4h.weight", h4_w, d.ffn, d.ffn, L.mlp.up));
    LLM_RETURN_IF_ERROR(whole("mlp.dense_4h_to_h.weight", {H, d.ffn}, L.mlp.down));
    if (d.linear_bias) {
      LLM_RETURN_IF_ERROR(whole("self_attention.dense.bias", {H}, L.attn.bo));
      LLM_RETURN_IF_ERROR(rows("mlp.dense_h_to_4h.bias", h4_b, 0, d.ffn, L.mlp.gate_bias));
      LLM_RETURN_IF_ERROR(rows("mlp.dense_h_to_4h.bias", h4_b, d.ffn, d.ffn, L.mlp.up_bias));
      LLM_RETURN_IF_ERROR(whole("mlp.dense_4h_to_h.bias", {H}, L.mlp.down_bias));
    }
  }
  m->weight_bytes_ = store.total_bytes();
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace

Result<std::unique_ptr<Model>> load_chatglm(const loader::ModelConfig& cfg,
                                            loader::WeightStore& store) {
  return ChatGlmModel::load(cfg, store);
}

std::vector<std::string> chatglm_architectures() {
  return {"ChatGLMModel"};
}

Result<std::vector<TensorSpec>> chatglm_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(GlmDims d, glm_dims(cfg));
  return glm_table(d);
}

}  // namespace lightllm::models
