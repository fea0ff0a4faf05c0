// src/models/llama.cpp — the LLaMA family: LlamaForCausalLM, MistralForCausalLM (sliding
// window), Qwen2ForCausalLM (q/k/v bias), InternLMForCausalLM (q/k/v/o bias),
// MiniCPMForCausalLM (openbmb modeling_minicpm.py: embeddings x scale_emb, each sublayer's
// output x scale_depth/sqrt(num_layers) before the residual add, logits of
// final_norm(h) / (hidden/dim_model_base), tie_word_embeddings defaulting to true). MiniCPM's
// scales are folded into weight copies at load (embedding table; o_proj, down_proj and their
// biases; final norm), so the forward (CPU or CUDA) is LLaMA's.
// HF reference: transformers/models/{llama,mistral,qwen2}/modeling_*.py and InternLM's
// modeling_internlm.py. Pre-norm decoder: RMSNorm → attention (RoPE, GQA) → residual →
// RMSNorm → SwiGLU MLP → residual; final RMSNorm; lm_head (or tied embeddings).
// The variants differ only in the data of LlamaVariant.
#include <cmath>
#include <string_view>

#include "models/layers/attention.h"
#include "models/layers/common.h"
#include "models/layers/cuda_graph.h"
#include "models/layers/mlp.h"
#include "models/layers/step_staging.h"
#include "models/layers/tensor_parallel.h"
#include "models/llama_family.h"
#include "models/loader/json_fields.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

struct LlamaVariant {
  std::string_view architecture;
  bool qkv_bias_always = false;           // Qwen2: q/k/v always carry a bias, o never does
  bool bias_flag = false;                 // config "bias" (InternLM) turns on q/k/v/o biases
  bool mlp_bias_flag = false;             // config "mlp_bias" adds gate/up/down biases (Llama)
  bool attention_bias_flag = false;       // config "attention_bias" (Llama) turns on q/k/v/o biases
  bool sliding_window = false;            // honour config "sliding_window"
  bool needs_use_sliding_window = false;  // Qwen2: only when "use_sliding_window" is true
  bool minicpm_scales = false;  // MiniCPM: scale_emb, scale_depth, dim_model_base (required)
};

// A copy of weight `t` (f32 / bf16 / f16, kept in its dtype) times `s`; undefined stays so.
Tensor scaled_weight(const Tensor& t, double s) {
  if (!t.defined()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype()) {
      case core::DType::bf16:
        out.data<core::bf16>()[i] =
            core::f32_to_bf16(static_cast<float>(core::bf16_to_f32(t.data<core::bf16>()[i]) * s));
        break;
      case core::DType::f16:
        out.data<core::f16>()[i] =
            core::f32_to_f16(static_cast<float>(core::f16_to_f32(t.data<core::f16>()[i]) * s));
        break;
      default: out.data<float>()[i] = static_cast<float>(t.data<float>()[i] * s);
    }
  }
  return out;
}

constexpr LlamaVariant kVariants[] = {
    {.architecture = "LlamaForCausalLM", .mlp_bias_flag = true, .attention_bias_flag = true},
    {.architecture = "MistralForCausalLM", .sliding_window = true},
    {.architecture = "Qwen2ForCausalLM",
     .qkv_bias_always = true,
     .sliding_window = true,
     .needs_use_sliding_window = true},
    {.architecture = "InternLMForCausalLM", .bias_flag = true},
    {.architecture = "MiniCPMForCausalLM", .attention_bias_flag = true, .minicpm_scales = true},
};

struct LlamaLayer {
  Tensor input_norm, post_norm;  // [hidden]
  layers::AttentionWeights attn;
  layers::GatedMlpWeights mlp;
};

class LlamaModel final : public Model {
 public:
  const ModelShape& shape() const override { return shape_; }
  int64_t weight_bytes() const override { return weight_bytes_; }
  int64_t step_weight_bytes(int64_t tokens) const override {
    return weight_bytes_ - layers::unread_table_bytes(embed_, lm_head_, tokens);
  }

  static Result<std::unique_ptr<Model>> load(const loader::ModelConfig& cfg,
                                             loader::WeightStore& store, const LlamaVariant& var,
                                             const dist::ShardSpec& shard);

  Status forward(const StepBatch& batch, KvStorage& kv, Tensor& logits,
                 const LayerObserver& observer) override;
  Status to_device(core::Device device) override;
  // Bytes of the tensors this model holds (views count their slice only).
  int64_t held_bytes() const;
  core::Device device() const override { return ws_.device(); }
  Status set_cuda_graphs(const CudaGraphOptions& opts) override;
  Status start_forward(const StepBatch& batch, KvStorage& kv, Tensor& logits) override;
  Status finish_forward() override { return graphs_.finish(); }
  CudaGraphStats cuda_graph_stats() const override { return graphs_.stats(); }
  core::DType activation_dtype() const override { return ws_.act_dtype(); }

 private:
  ModelShape shape_;
  int64_t intermediate_ = 0;
  float eps_ = 1e-6f;
  layers::AttentionShape attn_shape_;
  int32_t sliding_window_ = 0;
  Tensor embed_, final_norm_, lm_head_;
  std::vector<LlamaLayer> layers_;
  int64_t weight_bytes_ = 0;
  Workspace ws_;
  DecodeGraphs graphs_;

  // Embedding, every decoder layer (attention as `attn` says: attn_shape_, or its graph form)
  // and the final norm over a staged batch, in `ws`; returns the normed hidden states
  // [n_tokens, hidden] (a view of ws). Capture-safe on CUDA.
  Result<Tensor> run_layers(const StepBatch& batch, KvStorage& kv, Workspace& ws,
                            const LayerObserver& observer, const layers::AttentionShape& attn);
  // The decode step the graphs run: run_layers, then the lm_head.
  DecodeGraphs::ModelStep graph_step(KvStorage& kv);
  layers::TensorParallel tp_;  // this rank's part (whole model when not sharded)
};

Result<std::unique_ptr<Model>> LlamaModel::load(const loader::ModelConfig& cfg,
                                                loader::WeightStore& store, const LlamaVariant& var,
                                                const dist::ShardSpec& shard) {
  auto m = std::make_unique<LlamaModel>();
  ModelShape& s = m->shape_;
  s.architecture = std::string(var.architecture);
  s.vocab = cfg.vocab_size;
  s.hidden = cfg.hidden_size;
  s.n_layers = static_cast<int>(cfg.num_hidden_layers);
  s.n_heads = static_cast<int>(cfg.num_attention_heads);
  s.n_kv_heads = static_cast<int>(cfg.num_key_value_heads);
  s.head_dim = static_cast<int>(cfg.head_dim);
  s.max_context = cfg.max_position_embeddings;
  m->intermediate_ = cfg.intermediate_size;
  m->eps_ = static_cast<float>(cfg.norm_eps);
  if (s.n_heads % s.n_kv_heads != 0)
    return core::invalid_argument(
        "config.json: num_attention_heads {} is not a multiple of "
        "num_key_value_heads {}",
        s.n_heads, s.n_kv_heads);
  LLM_ASSIGN_OR_RETURN(m->tp_, layers::TensorParallel::make(shard, s.architecture, s.n_heads,
                                                            s.n_kv_heads, s.vocab));

  LLM_ASSIGN_OR_RETURN(m->attn_shape_.rope, llama_rope_config(cfg));
  m->attn_shape_.n_heads = m->tp_.heads().n_q;  // this rank's heads
  m->attn_shape_.n_kv_heads = m->tp_.heads().n_kv;
  m->attn_shape_.head_dim = s.head_dim;
  layers::init_rope(m->attn_shape_);
  const bool window_on = var.sliding_window && cfg.sliding_window.has_value() &&
                         (!var.needs_use_sliding_window || cfg.use_sliding_window.value_or(false));
  if (window_on) m->sliding_window_ = static_cast<int32_t>(*cfg.sliding_window);

  bool tie = cfg.tie_word_embeddings;
  double minicpm[3] = {1, 1, 1};  // scale_emb, scale_depth, dim_model_base
  if (var.minicpm_scales) {
    loader::JsonFields f(cfg.raw, cfg.path);
    const char* keys[3] = {"scale_emb", "scale_depth", "dim_model_base"};
    for (int i = 0; i < 3; ++i) {
      LLM_ASSIGN_OR_RETURN(auto x, f.opt_double(keys[i]));
      if (!x || !(*x > 0)) return f.error(keys[i], "is required for MiniCPM and must be > 0");
      minicpm[i] = *x;
    }
    LLM_ASSIGN_OR_RETURN(auto t, f.opt_bool("tie_word_embeddings"));
    tie = t.value_or(true);  // MiniCPMConfig's default
  }
  const bool attn_bias = (var.bias_flag && cfg.bias.value_or(false)) ||
                         (var.attention_bias_flag && cfg.attention_bias);
  const bool qkv_bias = var.qkv_bias_always || attn_bias;
  const bool o_bias = attn_bias;
  const bool mlp_bias = var.mlp_bias_flag && cfg.mlp_bias;

  const int64_t H = s.hidden, I = m->intermediate_, D = s.head_dim;
  const int64_t q_dim = s.n_heads * D, kv_dim = s.n_kv_heads * D;
  LLM_ASSIGN_OR_RETURN(m->embed_, store.get("model.embed_tokens.weight", {s.vocab, H}));
  LLM_ASSIGN_OR_RETURN(m->final_norm_, store.get("model.norm.weight", {H}));
  if (tie && !store.contains("lm_head.weight")) {
    m->lm_head_ = m->embed_;
  } else {
    LLM_ASSIGN_OR_RETURN(m->lm_head_, store.get("lm_head.weight", {s.vocab, H}));
  }
  s.weight_dtype = m->embed_.dtype();

  m->layers_.resize(static_cast<size_t>(s.n_layers));
  for (int i = 0; i < s.n_layers; ++i) {
    LlamaLayer& L = m->layers_[static_cast<size_t>(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto get = [&](const std::string& name, core::Shape shape, Tensor& out) -> Status {
      LLM_ASSIGN_OR_RETURN(out, store.get(p + name, shape));
      return {};
    };
    LLM_RETURN_IF_ERROR(get("input_layernorm.weight", {H}, L.input_norm));
    LLM_RETURN_IF_ERROR(get("post_attention_layernorm.weight", {H}, L.post_norm));
    LLM_RETURN_IF_ERROR(get("self_attn.q_proj.weight", {q_dim, H}, L.attn.wq));
    LLM_RETURN_IF_ERROR(get("self_attn.k_proj.weight", {kv_dim, H}, L.attn.wk));
    LLM_RETURN_IF_ERROR(get("self_attn.v_proj.weight", {kv_dim, H}, L.attn.wv));
    LLM_RETURN_IF_ERROR(get("self_attn.o_proj.weight", {H, q_dim}, L.attn.wo));
    if (qkv_bias) {
      LLM_RETURN_IF_ERROR(get("self_attn.q_proj.bias", {q_dim}, L.attn.bq));
      LLM_RETURN_IF_ERROR(get("self_attn.k_proj.bias", {kv_dim}, L.attn.bk));
      LLM_RETURN_IF_ERROR(get("self_attn.v_proj.bias", {kv_dim}, L.attn.bv));
    }
    if (o_bias) LLM_RETURN_IF_ERROR(get("self_attn.o_proj.bias", {H}, L.attn.bo));
    LLM_RETURN_IF_ERROR(get("mlp.gate_proj.weight", {I, H}, L.mlp.gate));
    LLM_RETURN_IF_ERROR(get("mlp.up_proj.weight", {I, H}, L.mlp.up));
    LLM_RETURN_IF_ERROR(get("mlp.down_proj.weight", {H, I}, L.mlp.down));
    if (mlp_bias) {
      LLM_RETURN_IF_ERROR(get("mlp.gate_proj.bias", {I}, L.mlp.gate_bias));
      LLM_RETURN_IF_ERROR(get("mlp.up_proj.bias", {I}, L.mlp.up_bias));
      LLM_RETURN_IF_ERROR(get("mlp.down_proj.bias", {H}, L.mlp.down_bias));
    }
  }
  if (m->tp_.sharded()) {  // slice the (mmapped view) weights to this rank's part
    for (LlamaLayer& L : m->layers_) {
      LLM_RETURN_IF_ERROR(m->tp_.shard_attention(L.attn, s.head_dim));
      LLM_RETURN_IF_ERROR(m->tp_.shard_mlp(L.mlp).with_context(s.architecture));
    }
    LLM_RETURN_IF_ERROR(
        m->tp_.shard_vocab(m->embed_, m->lm_head_, m->lm_head_.raw() == m->embed_.raw()));
  }
  m->final_norm_ = small_weight_f32(m->final_norm_);
  for (LlamaLayer& L : m->layers_) {
    for (Tensor* t : {&L.input_norm, &L.post_norm, &L.attn.bq, &L.attn.bk, &L.attn.bv, &L.attn.bo,
                      &L.mlp.gate_bias, &L.mlp.up_bias, &L.mlp.down_bias})
      *t = small_weight_f32(*t);
  }
  if (var.minicpm_scales) {
    const double depth = minicpm[1] / std::sqrt(static_cast<double>(s.n_layers));
    m->embed_ = scaled_weight(m->embed_, minicpm[0]);  // lm_head keeps the unscaled table
    m->final_norm_ = scaled_weight(m->final_norm_, minicpm[2] / static_cast<double>(s.hidden));
    for (LlamaLayer& L : m->layers_)
      for (Tensor* t : {&L.attn.wo, &L.attn.bo, &L.mlp.down, &L.mlp.down_bias})
        *t = scaled_weight(*t, depth);
  }
  m->weight_bytes_ = m->held_bytes();
  m->tp_.shard_shape(s);
  return std::unique_ptr<Model>(std::move(m));
}

int64_t LlamaModel::held_bytes() const {
  std::vector<const Tensor*> ts = {&embed_, &final_norm_, &lm_head_};
  for (const LlamaLayer& L : layers_)
    for (const Tensor* t :
         {&L.input_norm, &L.post_norm, &L.attn.wq, &L.attn.wk, &L.attn.wv, &L.attn.wo, &L.attn.bq,
          &L.attn.bk, &L.attn.bv, &L.attn.bo, &L.mlp.gate, &L.mlp.up, &L.mlp.down, &L.mlp.gate_bias,
          &L.mlp.up_bias, &L.mlp.down_bias})
      ts.push_back(t);
  return layers::distinct_bytes(ts);
}

Status LlamaModel::to_device(core::Device device) {
  if (device == ws_.device()) return {};
  if (device == core::Device::cpu)
    return core::unimplemented("{}: moving a model back to the CPU", shape_.architecture);
  const core::DType act = device_act_dtype(shape_.weight_dtype);
  WeightUploader up(device, act);  // a tied lm_head shares the embedding's device copy
  LLM_RETURN_IF_ERROR(up.upload({&embed_, &final_norm_, &lm_head_}));
  for (LlamaLayer& L : layers_) {
    // q/k/v and gate/up (and their biases) each in one allocation: one GEMV launch each.
    LLM_RETURN_IF_ERROR(up.upload_fused({&L.attn.wq, &L.attn.wk, &L.attn.wv}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&L.attn.bq, &L.attn.bk, &L.attn.bv}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&L.mlp.gate, &L.mlp.up}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&L.mlp.gate_bias, &L.mlp.up_bias}));
    LLM_RETURN_IF_ERROR(up.upload(
        {&L.input_norm, &L.post_norm, &L.attn.wo, &L.attn.bo, &L.mlp.down, &L.mlp.down_bias}));
  }
  weight_bytes_ = up.bytes();
  ws_.set_device(device, act);
  return {};
}

Status LlamaModel::set_cuda_graphs(const CudaGraphOptions& opts) {
  graphs_.configure_for_model(opts, ws_.device(), shape_.max_context,
                              {.vocab = shape_.vocab,
                               .n_heads = shape_.n_heads,
                               .n_kv_heads = shape_.n_kv_heads,
                               .head_dim = shape_.head_dim,
                               .act_dtype = ws_.act_dtype()},
                              attn_shape_, tp_.sharded());
  return {};
}

Result<Tensor> LlamaModel::run_layers(const StepBatch& batch, KvStorage& kv, Workspace& ws,
                                      const LayerObserver& observer,
                                      const layers::AttentionShape& attn) {
  const int64_t n_tokens = batch.n_tokens();
  const int64_t H = shape_.hidden;
  Tensor residual = ws.get(Buf::residual, {n_tokens, H});  // [n_tokens, hidden]
  Tensor normed = ws.get(Buf::normed, {n_tokens, H});
  Tensor proj = ws.get(Buf::proj_out, {n_tokens, H});
  LLM_RETURN_IF_ERROR(ops::embedding(embed_, batch.token_ids, residual));
  LLM_RETURN_IF_ERROR(tp_.all_reduce(residual));

  StepBatch step = batch;
  step.attn.sliding_window = sliding_window_;
  step.attn.scale = 1.0f / std::sqrt(static_cast<float>(shape_.head_dim));

  // Batch-1 decode on one device (the GEMV path): each block's RMSNorm runs inside its first
  // projection and its residual add inside its last, so a layer is QKV (norm) -> rotary + KV
  // store -> attention -> o (+ residual) -> gate/up (norm) -> down (+ residual). Same values
  // as the path below up to f32 accumulation order (tests/cuda/test_gemv_ops.cpp).
  if (!tp_.sharded() && ops::fused_decode_path(residual)) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      const LlamaLayer& L = layers_[l];
      LLM_RETURN_IF_ERROR(layers::self_attention(
          L.attn, attn, {.residual = residual, .norm_weight = L.input_norm, .eps = eps_}, step,
          kv.layers[l], ws));
      LLM_RETURN_IF_ERROR(
          layers::gated_mlp(L.mlp, layers::Activation::silu,
                            {.residual = residual, .norm_weight = L.post_norm, .eps = eps_}, ws));
      if (observer) observer(static_cast<int>(l), residual);
    }
    LLM_RETURN_IF_ERROR(ops::rms_norm(residual, final_norm_, eps_, normed));
    return normed;
  }

  LLM_RETURN_IF_ERROR(ops::rms_norm(residual, layers_[0].input_norm, eps_, normed));

  for (size_t l = 0; l < layers_.size(); ++l) {
    const LlamaLayer& L = layers_[l];
    LLM_RETURN_IF_ERROR(layers::self_attention(L.attn, attn, normed, step, kv.layers[l], ws, proj));
    LLM_RETURN_IF_ERROR(tp_.all_reduce(proj));
    LLM_RETURN_IF_ERROR(ops::add_rms_norm(residual, proj, L.post_norm, eps_, normed));
    LLM_RETURN_IF_ERROR(layers::gated_mlp(L.mlp, layers::Activation::silu, normed, ws, proj));
    LLM_RETURN_IF_ERROR(tp_.all_reduce(proj));
    const Tensor& next_norm = l + 1 < layers_.size() ? layers_[l + 1].input_norm : final_norm_;
    LLM_RETURN_IF_ERROR(ops::add_rms_norm(residual, proj, next_norm, eps_, normed));
    if (observer) observer(static_cast<int>(l), residual);
  }
  return normed;
}

DecodeGraphs::ModelStep LlamaModel::graph_step(KvStorage& kv) {
  return {
      .run_layers =
          [this, &kv](const StepBatch& staged, Workspace& ws, const layers::AttentionShape& attn) {
            return run_layers(staged, kv, ws, {}, attn);
          },
      .lm_head = lm_head_};
}

Status LlamaModel::start_forward(const StepBatch& batch, KvStorage& kv, Tensor& logits) {
  if (kv.layers.size() == layers_.size() && graphs_.accepts(batch, kv))
    return graphs_.start(batch, kv, graph_step(kv), logits);
  return forward(batch, kv, logits, {});
}

Status LlamaModel::forward(const StepBatch& host_batch, KvStorage& kv, Tensor& logits,
                           const LayerObserver& observer) {
  if (kv.layers.size() != layers_.size())
    return core::internal_error("KV storage has {} layers, model has {}", kv.layers.size(),
                                layers_.size());
  if (!observer && graphs_.accepts(host_batch, kv))
    return graphs_.run(host_batch, kv, graph_step(kv), logits);
  graphs_.note_eager_step();
  // Tensor parallel: token ids as rows of this rank's embedding shard (else the batch as is).
  LLM_ASSIGN_OR_RETURN(const StepBatch local, tp_.local_token_ids(host_batch));
  LLM_ASSIGN_OR_RETURN(const StepBatch batch, stage_step(local, embed_.dim(0), kv.capacity, ws_));
  LLM_ASSIGN_OR_RETURN(Tensor normed, run_layers(batch, kv, ws_, observer, attn_shape_));
  return tp_.lm_head(normed, batch.logit_rows, lm_head_, ws_, logits);
}

}  // namespace

Result<std::unique_ptr<Model>> load_llama_family(const loader::ModelConfig& cfg,
                                                 loader::WeightStore& store,
                                                 const dist::ShardSpec& shard) {
  for (const LlamaVariant& v : kVariants)
    if (cfg.architecture == v.architecture) return LlamaModel::load(cfg, store, v, shard);
  return core::unimplemented("{} is not a LLaMA-family architecture", cfg.architecture);
}

std::vector<std::string> llama_family_architectures() {
  std::vector<std::string> names;
  for (const LlamaVariant& v : kVariants) names.emplace_back(v.architecture);
  return names;
}

}  // namespace lightllm::models
