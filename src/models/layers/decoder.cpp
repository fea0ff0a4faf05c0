// src/models/layers/decoder.cpp — the generic decoder (see decoder.h).
#include "models/layers/decoder.h"

#include <cmath>
#include <cstring>

#include "models/layers/common.h"
#include "models/layers/cuda_graph.h"
#include "models/layers/step_staging.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models::layers {

Result<TensorMap> TensorMap::fetch(const loader::WeightStore& store,
                                   const std::vector<TensorSpec>& table,
                                   const std::string& alt_prefix) {
  TensorMap m;
  for (const TensorSpec& t : table) {
    std::string name = t.name;
    if (!store.contains(name) && !alt_prefix.empty() && name.rfind(alt_prefix, 0) == 0 &&
        store.contains(name.substr(alt_prefix.size())))
      name = name.substr(alt_prefix.size());
    LLM_ASSIGN_OR_RETURN(Tensor w, store.get(name, t.shape));
    m.map_[t.name] = w;
  }
  return m;
}

const Tensor& TensorMap::at(const std::string& name) const {
  static const Tensor kNone;
  auto it = map_.find(name);
  return it == map_.end() ? kNone : it->second;
}

Tensor group_heads_by_part(const Tensor& w, int n_heads, int parts, int head_dim) {
  Tensor out = Tensor::empty(w.shape(), w.dtype());
  const int64_t row_bytes = static_cast<int64_t>(w.nbytes()) / w.dim(0);
  const auto* src = static_cast<const char*>(w.raw());
  auto* dst = static_cast<char*>(out.raw());
  const int64_t block = int64_t{head_dim} * row_bytes;  // one part of one head
  for (int h = 0; h < n_heads; ++h)
    for (int p = 0; p < parts; ++p)
      std::memcpy(dst + (int64_t{p} * n_heads + h) * block, src + (int64_t{h} * parts + p) * block,
                  static_cast<size_t>(block));
  return out;
}

Tensor stack_f32(const std::vector<Tensor>& rows) {
  const int64_t d = rows.at(0).numel();
  Tensor out = Tensor::empty({static_cast<int64_t>(rows.size()), d}, core::DType::f32);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Tensor r = small_weight_f32(rows[i]);
    std::memcpy(out.data<float>() + static_cast<int64_t>(i) * d, r.data<float>(),
                static_cast<size_t>(d) * sizeof(float));
  }
  return out;
}

int64_t count_parameters(const std::vector<TensorSpec>& table) {
  int64_t n = 0;
  for (const TensorSpec& t : table) n += t.shape.numel();
  return n;
}

ModelShape base_shape(const loader::ModelConfig& cfg) {
  ModelShape s;
  s.architecture = cfg.architecture;
  s.vocab = cfg.vocab_size;
  s.hidden = cfg.hidden_size;
  s.n_layers = static_cast<int>(cfg.num_hidden_layers);
  s.n_heads = static_cast<int>(cfg.num_attention_heads);
  s.n_kv_heads = static_cast<int>(cfg.num_key_value_heads);
  s.head_dim = static_cast<int>(cfg.head_dim);
  s.max_context = cfg.max_position_embeddings;
  return s;
}

Result<bool> cfg_bool(const loader::ModelConfig& cfg, const char* key, bool def) {
  auto it = cfg.raw.find(key);
  if (it == cfg.raw.end() || it->is_null()) return def;
  if (!it->is_boolean())
    return core::invalid_argument("{}: {} must be true or false", cfg.path, key);
  return it->get<bool>();
}

Result<double> cfg_double(const loader::ModelConfig& cfg, const char* key, double def) {
  auto it = cfg.raw.find(key);
  if (it == cfg.raw.end() || it->is_null()) return def;
  if (!it->is_number()) return core::invalid_argument("{}: {} must be a number", cfg.path, key);
  return it->get<double>();
}

Result<Activation> activation_of(const loader::ModelConfig& cfg) {
  const std::string& a = cfg.hidden_act;
  if (a == "silu" || a == "swish") return Activation::silu;
  if (a == "gelu") return Activation::gelu;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh") return Activation::gelu_tanh;
  return core::unimplemented("{}: activation '{}' is not supported", cfg.path, a);
}

void add_norm(std::vector<TensorSpec>& t, const std::string& prefix, int64_t hidden, bool bias) {
  t.push_back({prefix + "weight", {hidden}});
  if (bias) t.push_back({prefix + "bias", {hidden}});
}

NormWeights norm_of(const TensorMap& m, const std::string& prefix) {
  return {m.small(prefix + "weight"), m.small(prefix + "bias")};
}

namespace {
// Bytes of the tensors a DecoderWeights holds (views count their slice only).
int64_t held_bytes(const DecoderWeights& w) {
  std::vector<const Tensor*> ts = {&w.embed,           &w.pos_embed,         &w.embed_norm.weight,
                                   &w.embed_norm.bias, &w.final_norm.weight, &w.final_norm.bias,
                                   &w.lm_head};
  for (const DecoderLayerWeights& L : w.layers) {
    for (const Tensor* t :
         {&L.attn_norm.weight, &L.attn_norm.bias, &L.mlp_norm.weight, &L.mlp_norm.bias,
          &L.attn.wq,          &L.attn.wk,        &L.attn.wv,         &L.attn.wo,
          &L.attn.bq,          &L.attn.bk,        &L.attn.bv,         &L.attn.bo,
          &L.attn.q_norm,      &L.attn.k_norm,    &L.mlp.gate,        &L.mlp.up,
          &L.mlp.down,         &L.mlp.gate_bias,  &L.mlp.up_bias,     &L.mlp.down_bias})
      ts.push_back(t);
  }
  return distinct_bytes(ts);
}
}  // namespace

Result<std::unique_ptr<Model>> load_planned(Result<DecoderPlan> plan, AssembleFn assemble,
                                            const loader::WeightStore& store,
                                            const dist::ShardSpec& shard,
                                            const std::string& alt_prefix) {
  if (!plan.ok()) return plan.status();
  ModelShape& shape = plan->spec.shape;
  LLM_ASSIGN_OR_RETURN(TensorParallel tp,
                       TensorParallel::make(shard, shape.architecture, shape.n_heads,
                                            shape.n_kv_heads, shape.vocab));
  plan->shard_heads = tp.heads();
  LLM_ASSIGN_OR_RETURN(TensorMap tensors, TensorMap::fetch(store, plan->table, alt_prefix));
  LLM_ASSIGN_OR_RETURN(DecoderWeights w, assemble(*plan, tensors));
  if (!tp.sharded()) {
    const int64_t bytes = held_bytes(w);
    return make_decoder_model(std::move(plan->spec), std::move(w), bytes);
  }
  for (DecoderLayerWeights& L : w.layers) {
    LLM_RETURN_IF_ERROR(tp.shard_attention(L.attn, shape.head_dim, w.qkv_local));
    LLM_RETURN_IF_ERROR(tp.shard_mlp(L.mlp).with_context(shape.architecture));
  }
  LLM_RETURN_IF_ERROR(tp.shard_vocab(w.embed, w.lm_head, w.lm_head.raw() == w.embed.raw()));
  plan->spec.attn.n_heads = tp.heads().n_q;
  plan->spec.attn.n_kv_heads = tp.heads().n_kv;
  const int64_t bytes = held_bytes(w);
  return make_decoder_model(std::move(plan->spec), std::move(w), bytes, std::move(tp));
}

namespace {

// An f32 copy of `t` times `s` (t f32 already).
Tensor scaled_copy(const Tensor& t, double s) {
  if (!t.defined()) return t;
  Tensor out = Tensor::empty(t.shape(), core::DType::f32);
  for (int64_t i = 0; i < t.numel(); ++i)
    out.data<float>()[i] = static_cast<float>(t.data<float>()[i] * s);
  return out;
}

class DecoderModel final : public Model {
 public:
  DecoderModel(DecoderSpec spec, DecoderWeights w, int64_t bytes, TensorParallel tp)
      : spec_(std::move(spec)), w_(std::move(w)), weight_bytes_(bytes), tp_(std::move(tp)) {
    if (spec_.alibi) slopes_ = tp_.local_heads(alibi_slopes(spec_.shape.n_heads));
    tp_.shard_shape(spec_.shape);  // per-rank heads from here on
    if (spec_.attn.use_rope) init_rope(spec_.attn);
  }
  const ModelShape& shape() const override { return spec_.shape; }
  int64_t weight_bytes() const override { return weight_bytes_; }
  int64_t step_weight_bytes(int64_t tokens) const override {
    return weight_bytes_ - unread_table_bytes(w_.embed, w_.lm_head, tokens) -
           unread_table_bytes(w_.pos_embed, w_.lm_head, tokens);
  }
  Status forward(const StepBatch& batch, KvStorage& kv, Tensor& logits,
                 const LayerObserver& observer) override;
  Status to_device(core::Device device) override;
  core::Device device() const override { return ws_.device(); }
  core::DType activation_dtype() const override { return ws_.act_dtype(); }
  Status set_cuda_graphs(const CudaGraphOptions& opts) override;
  Status start_forward(const StepBatch& batch, KvStorage& kv, Tensor& logits) override;
  Status finish_forward() override { return graphs_.finish(); }
  CudaGraphStats cuda_graph_stats() const override { return graphs_.stats(); }

 private:
  Status mlp(const DecoderLayerWeights& L, const Tensor& h, Workspace& ws, Tensor& out) {
    return spec_.gated_mlp ? gated_mlp(L.mlp, spec_.act, h, ws, out)
                           : plain_mlp(L.mlp, spec_.act, h, ws, out);
  }
  // The host-side checks of a step, eager or from a graph: the KV storage's layer count and,
  // with learned positions, every position inside the table (a device gather cannot report one
  // past it, and a graph reads the positions from device memory only).
  Status check_step(const StepBatch& host_batch, const KvStorage& kv) const;
  // Embedding, every decoder layer (attention as `attn` says: spec_.attn, or its graph form)
  // and the final norm over a staged batch, in `ws`; returns the normed hidden states
  // [n_tokens, hidden] (a view of ws). Capture-safe on CUDA: every per-step value it reads is
  // staged device data (ALiBi slopes are device memory already).
  Result<Tensor> run_layers(const StepBatch& batch, KvStorage& kv, Workspace& ws,
                            const LayerObserver& observer, const AttentionShape& attn);
  // The decode step the graphs run: run_layers, then the lm_head.
  DecodeGraphs::ModelStep graph_step(KvStorage& kv);

  DecoderSpec spec_;
  DecoderWeights w_;
  int64_t weight_bytes_ = 0;
  std::vector<float> slopes_;  // [n_heads] ALiBi slopes of this rank's heads (host)
  Tensor slopes_dev_;          // the same, f32 on the device once the model is there
  Workspace ws_;
  TensorParallel tp_;
  DecodeGraphs graphs_;
};

Status DecoderModel::to_device(core::Device device) {
  if (device == ws_.device()) return {};
  if (device == core::Device::cpu)
    return core::unimplemented("{}: moving a model back to the CPU", spec_.shape.architecture);
  const core::DType act = device_act_dtype(spec_.shape.weight_dtype);
  WeightUploader up(device, act);  // a tied lm_head shares the embedding's device copy
  LLM_RETURN_IF_ERROR(up.upload({&w_.embed, &w_.pos_embed, &w_.lm_head, &w_.embed_norm.weight,
                                 &w_.embed_norm.bias, &w_.final_norm.weight, &w_.final_norm.bias}));
  for (DecoderLayerWeights& L : w_.layers) {
    AttentionWeights& a = L.attn;
    GatedMlpWeights& m = L.mlp;
    LLM_RETURN_IF_ERROR(
        up.upload({&L.attn_norm.weight, &L.attn_norm.bias, &L.mlp_norm.weight, &L.mlp_norm.bias}));
    // q/k/v and gate/up (and biases) each in one allocation where the family has them.
    LLM_RETURN_IF_ERROR(up.upload_fused({&a.wq, &a.wk, &a.wv}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&a.bq, &a.bk, &a.bv}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&m.gate, &m.up}));
    LLM_RETURN_IF_ERROR(up.upload_fused({&m.gate_bias, &m.up_bias}));
    LLM_RETURN_IF_ERROR(up.upload({&a.wo, &a.bo, &a.q_norm, &a.k_norm, &m.down, &m.down_bias}));
  }
  if (spec_.alibi) {  // f32 on the device: the attention kernels read slopes in f32
    const Tensor host =
        Tensor::view(slopes_.data(), {static_cast<int64_t>(slopes_.size())}, core::DType::f32);
    LLM_ASSIGN_OR_RETURN(slopes_dev_, ops::to_device(host, device, core::DType::f32));
  }
  w_.owned.clear();  // the host copies the views pointed into are no longer used
  weight_bytes_ = up.bytes();
  ws_.set_device(device, act);
  return {};
}

Status DecoderModel::set_cuda_graphs(const CudaGraphOptions& opts) {
  graphs_.configure_for_model(opts, ws_.device(), spec_.shape.max_context,
                              {.vocab = spec_.shape.vocab,
                               .n_heads = spec_.attn.n_heads,
                               .n_kv_heads = spec_.attn.n_kv_heads,
                               .head_dim = spec_.attn.head_dim,
                               .act_dtype = ws_.act_dtype()},
                              spec_.attn, tp_.sharded());
  return {};
}

Status DecoderModel::check_step(const StepBatch& host_batch, const KvStorage& kv) const {
  if (kv.layers.size() != w_.layers.size())
    return core::internal_error("KV storage has {} layers, model has {}", kv.layers.size(),
                                w_.layers.size());
  if (spec_.learned_positions) {
    const int32_t* pos = host_batch.positions.data<int32_t>();
    for (int64_t t = 0; t < host_batch.n_tokens(); ++t)
      if (pos[t] < 0 || pos[t] >= w_.pos_embed.dim(0))
        return core::invalid_argument(
            "{}: position {} is outside the {} learned positions (n_positions)",
            spec_.shape.architecture, pos[t], w_.pos_embed.dim(0));
  }
  return {};
}

Result<Tensor> DecoderModel::run_layers(const StepBatch& batch, KvStorage& kv, Workspace& ws,
                                        const LayerObserver& observer, const AttentionShape& attn) {
  const int64_t n_tokens = batch.n_tokens();
  const int64_t H = spec_.shape.hidden;
  Tensor x = ws.get(Buf::residual, {n_tokens, H});  // residual stream [n_tokens, hidden]
  Tensor normed = ws.get(Buf::normed, {n_tokens, H});
  Tensor attn_out = ws.get(Buf::proj_out, {n_tokens, H});
  Tensor mlp_out = ws.get(Buf::mlp_out, {n_tokens, H});
  LLM_RETURN_IF_ERROR(ops::embedding(w_.embed, batch.token_ids, x));
  LLM_RETURN_IF_ERROR(tp_.all_reduce(x));
  if (spec_.learned_positions) {
    LLM_RETURN_IF_ERROR(ops::embedding(w_.pos_embed, batch.positions, normed));
    LLM_RETURN_IF_ERROR(add_inplace(x, normed));
  }
  if (spec_.embed_norm)
    LLM_RETURN_IF_ERROR(ops::layer_norm(x, w_.embed_norm.weight, w_.embed_norm.bias, spec_.eps, x));

  StepBatch step = batch;
  step.attn.sliding_window = spec_.sliding_window;
  step.attn.scale = spec_.attn_scale > 0
                        ? spec_.attn_scale
                        : 1.0f / std::sqrt(static_cast<float>(spec_.shape.head_dim));
  // ALiBi slopes [n_heads] f32 where the attention runs (device memory on CUDA).
  step.attn.alibi_slopes = !spec_.alibi                       ? nullptr
                           : ws.device() == core::Device::cpu ? slopes_.data()
                                                              : slopes_dev_.data<float>();

  for (size_t l = 0; l < w_.layers.size(); ++l) {
    const DecoderLayerWeights& L = w_.layers[l];
    LLM_RETURN_IF_ERROR(apply_norm(spec_.norm, L.attn_norm, spec_.eps, x, normed));
    LLM_RETURN_IF_ERROR(self_attention(L.attn, attn, normed, step, kv.layers[l], ws, attn_out));
    LLM_RETURN_IF_ERROR(tp_.all_reduce(attn_out));
    if (spec_.parallel_residual) {
      LLM_RETURN_IF_ERROR(mlp(L, normed, ws, mlp_out));
      LLM_RETURN_IF_ERROR(add_inplace(x, attn_out));
    } else {
      LLM_RETURN_IF_ERROR(add_inplace(x, attn_out));
      LLM_RETURN_IF_ERROR(apply_norm(spec_.norm, L.mlp_norm, spec_.eps, x, normed));
      LLM_RETURN_IF_ERROR(mlp(L, normed, ws, mlp_out));
    }
    LLM_RETURN_IF_ERROR(tp_.all_reduce(mlp_out));
    LLM_RETURN_IF_ERROR(add_inplace(x, mlp_out));
    if (observer) observer(static_cast<int>(l), x);
  }
  LLM_RETURN_IF_ERROR(apply_norm(spec_.norm, w_.final_norm, spec_.eps, x, normed));
  return normed;
}

DecodeGraphs::ModelStep DecoderModel::graph_step(KvStorage& kv) {
  return {.run_layers =
              [this, &kv](const StepBatch& staged, Workspace& ws, const AttentionShape& attn) {
                return run_layers(staged, kv, ws, {}, attn);
              },
          .lm_head = w_.lm_head};
}

Status DecoderModel::start_forward(const StepBatch& batch, KvStorage& kv, Tensor& logits) {
  if (!graphs_.accepts(batch, kv)) return forward(batch, kv, logits, {});
  LLM_RETURN_IF_ERROR(check_step(batch, kv));
  return graphs_.start(batch, kv, graph_step(kv), logits);
}

Status DecoderModel::forward(const StepBatch& host_batch, KvStorage& kv, Tensor& logits,
                             const LayerObserver& observer) {
  LLM_RETURN_IF_ERROR(check_step(host_batch, kv));
  if (!observer && graphs_.accepts(host_batch, kv))
    return graphs_.run(host_batch, kv, graph_step(kv), logits);
  graphs_.note_eager_step();
  // Tensor parallel: token ids as rows of this rank's embedding shard (else the batch as is).
  LLM_ASSIGN_OR_RETURN(const StepBatch local, tp_.local_token_ids(host_batch));
  LLM_ASSIGN_OR_RETURN(const StepBatch batch, stage_step(local, w_.embed.dim(0), kv.capacity, ws_));
  LLM_ASSIGN_OR_RETURN(Tensor normed, run_layers(batch, kv, ws_, observer, spec_.attn));
  return tp_.lm_head(normed, batch.logit_rows, w_.lm_head, ws_, logits);
}

}  // namespace

Result<std::unique_ptr<Model>> make_decoder_model(DecoderSpec spec, DecoderWeights weights,
                                                  int64_t weight_bytes, TensorParallel tp) {
  if (spec.logit_scale != 1.0) {
    if (spec.norm == NormKind::rms && weights.final_norm.bias.defined())
      return core::internal_error("RMSNorm with a bias");
    weights.final_norm.weight = scaled_copy(weights.final_norm.weight, spec.logit_scale);
    weights.final_norm.bias = scaled_copy(weights.final_norm.bias, spec.logit_scale);
  }
  if (weights.layers.size() != static_cast<size_t>(spec.shape.n_layers))
    return core::internal_error("{} layers of weights for {} layers", weights.layers.size(),
                                spec.shape.n_layers);
  spec.shape.weight_dtype = weights.embed.dtype();
  return std::unique_ptr<Model>(std::make_unique<DecoderModel>(std::move(spec), std::move(weights),
                                                               weight_bytes, std::move(tp)));
}

void split_fused_qkv(const Tensor& weight, const Tensor& bias, int64_t q_rows, int64_t kv_rows,
                     AttentionWeights& attn) {
  attn.wq = weight.rows(0, q_rows);
  attn.wk = weight.rows(q_rows, kv_rows);
  attn.wv = weight.rows(q_rows + kv_rows, kv_rows);
  if (!bias.defined()) return;
  attn.bq = bias.rows(0, q_rows).reshape({q_rows});
  attn.bk = bias.rows(q_rows, kv_rows).reshape({kv_rows});
  attn.bv = bias.rows(q_rows + kv_rows, kv_rows).reshape({kv_rows});
}

}  // namespace lightllm::models::layers
