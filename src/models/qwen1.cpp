// src/models/qwen1.cpp — Qwen v1 (`QWenLMHeadModel`, model_type qwen; Qwen-VL's language half).
// Reference: Qwen/Qwen-7B modeling_qwen.py (re-written in tools/goldens/ref_models/qwen1.py).
// A pre-norm RMSNorm decoder (layers/rms_decoder.h), MHA, where:
//  - q/k/v are row slices of the fused `attn.c_attn` [3*heads*kv_channels, hidden] (+ bias);
//    `attn.c_proj` has a bias only when no_bias is false;
//  - MLP: c_proj(w1(x) * silu(w2(x))): w2 is the gate, w1 the up projection (each
//    intermediate_size/2 rows);
//  - RoPE rotate_half on kv_channels*rotary_pct dims, base rotary_emb_base;
//  - use_dynamic_ntk: a sequence's first forward (no cached tokens) of T tokens fixes
//    alpha = max(2^ceil(log2(T/seq_length) + 1) - 1, 1) and base * alpha^(d/(d-2)); later steps
//    of that sequence keep its alpha (HF caches it while decoding). Kept here per req_to_token
//    row together with the length it has reached; a row whose cached length is not the one we
//    last saw (a new request starting from a prefix-cache hit) recomputes alpha from its length.
//    Deviation: a chunked prefill fixes alpha from its first chunk, not the whole prompt.
//  - use_logn_attn: q at position p is scaled by log(p+1)/log(seq_length) when p+1 > seq_length
//    (done here on q before attention; keys unscaled, so the kernels are unchanged).
// Tensor names: transformer.wte, transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
// mlp.w1, mlp.w2, mlp.c_proj}, transformer.ln_f, lm_head.
#include <cmath>
#include <map>

#include "models/layers/common.h"
#include "models/loader/json_fields.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"
#include "models/remote_code_families.h"

namespace lightllm::models {
namespace {

struct QwenDims {
  int64_t vocab = 0, hidden = 0, ffn = 0, layers = 0, seq_length = 0;
  int heads = 0, head_dim = 0, rotary_dim = 0;
  double base = 10000.0;
  bool bias = false, dynamic_ntk = false, logn = false;
};

Result<QwenDims> qwen_dims(const loader::ModelConfig& cfg) {
  loader::JsonFields f(cfg.raw, cfg.path);
  QwenDims d;
  d.vocab = cfg.vocab_size;
  d.hidden = cfg.hidden_size;
  d.layers = cfg.num_hidden_layers;
  d.heads = static_cast<int>(cfg.num_attention_heads);
  if (cfg.intermediate_size <= 0 || cfg.intermediate_size % 2 != 0)
    return f.error("intermediate_size", "must be a positive even number");
  d.ffn = cfg.intermediate_size / 2;
  LLM_ASSIGN_OR_RETURN(auto kv_channels, f.opt_int("kv_channels"));
  d.head_dim = static_cast<int>(kv_channels.value_or(cfg.head_dim));
  if (d.head_dim <= 0) return f.error("kv_channels", "must be > 0");
  LLM_ASSIGN_OR_RETURN(auto pct, f.opt_double("rotary_pct"));
  d.rotary_dim = static_cast<int>(d.head_dim * pct.value_or(1.0));
  if (d.rotary_dim <= 2 || d.rotary_dim > d.head_dim || d.rotary_dim % 2 != 0)
    return f.error("rotary_pct", "must give an even rotary width in (2, kv_channels]");
  LLM_ASSIGN_OR_RETURN(auto base, f.opt_double("rotary_emb_base"));
  d.base = base.value_or(10000.0);
  LLM_ASSIGN_OR_RETURN(auto seq, f.opt_int("seq_length"));
  d.seq_length = seq.value_or(8192);
  if (d.seq_length <= 1) return f.error("seq_length", "must be > 1");
  LLM_ASSIGN_OR_RETURN(auto no_bias, f.opt_bool("no_bias"));
  d.bias = !no_bias.value_or(true);
  LLM_ASSIGN_OR_RETURN(auto ntk, f.opt_bool("use_dynamic_ntk"));
  LLM_ASSIGN_OR_RETURN(auto logn, f.opt_bool("use_logn_attn"));
  d.dynamic_ntk = ntk.value_or(true);  // QWenConfig defaults
  d.logn = logn.value_or(true);
  return d;
}

std::vector<TensorSpec> qwen_table(const QwenDims& d) {
  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim, F = d.ffn;
  std::vector<TensorSpec> t = {{"transformer.wte.weight", {d.vocab, H}},
                               {"transformer.ln_f.weight", {H}},
                               {"lm_head.weight", {d.vocab, H}}};
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    t.push_back({p + "ln_1.weight", {H}});
    t.push_back({p + "ln_2.weight", {H}});
    t.push_back({p + "attn.c_attn.weight", {3 * P, H}});
    t.push_back({p + "attn.c_attn.bias", {3 * P}});
    t.push_back({p + "attn.c_proj.weight", {H, P}});
    t.push_back({p + "mlp.w1.weight", {F, H}});
    t.push_back({p + "mlp.w2.weight", {F, H}});
    t.push_back({p + "mlp.c_proj.weight", {H, F}});
    if (d.bias) {
      t.push_back({p + "attn.c_proj.bias", {H}});
      t.push_back({p + "mlp.w1.bias", {F}});
      t.push_back({p + "mlp.w2.bias", {F}});
      t.push_back({p + "mlp.c_proj.bias", {H}});
    }
  }
  return t;
}

int64_t ntk_alpha(int64_t true_seq_len, int64_t seq_length) {
  const double context =
      std::log2(static_cast<double>(true_seq_len) / static_cast<double>(seq_length)) + 1.0;
  const int64_t alpha = (int64_t{1} << static_cast<int>(std::max(0.0, std::ceil(context)))) - 1;
  return std::max<int64_t>(alpha, 1);
}

class QwenModel final : public Model {
 public:
  const ModelShape& shape() const override { return shape_; }
  int64_t weight_bytes() const override { return weight_bytes_; }
  Status forward(const StepBatch& batch, KvStorage& kv, Tensor& logits,
                 const LayerObserver& observer) override {
    LLM_RETURN_IF_ERROR(plan_positions(batch));
    return layers::rms_decoder_forward(dec_, batch, kv, ws_, logits, observer);
  }
  static Result<std::unique_ptr<Model>> load(const loader::ModelConfig& cfg,
                                             loader::WeightStore& store);

 private:
  struct RowState {
    int64_t alpha = 1;
    int64_t len = -1;  // sequence length after the last step we ran for this row
  };
  Status plan_positions(const StepBatch& batch);
  Status apply_positions(const StepBatch& batch, Tensor& q, Tensor& k) const;
  const std::vector<float>& inv_freq(int64_t alpha);

  ModelShape shape_;
  QwenDims dims_;
  layers::RmsDecoder dec_;
  int64_t weight_bytes_ = 0;
  Workspace ws_;
  std::vector<RowState> rows_;                      // by req_to_token row
  std::vector<int64_t> step_alpha_;                 // [n_reqs] this step's alpha per request
  std::map<int64_t, std::vector<float>> inv_freq_;  // alpha -> [rotary_dim/2]
};

// Once per step (all layers share it): each request's NTK alpha.
Status QwenModel::plan_positions(const StepBatch& batch) {
  const ops::AttentionMeta& m = batch.attn;
  step_alpha_.assign(static_cast<size_t>(m.n_reqs), 1);
  for (int32_t r = 0; r < m.n_reqs; ++r) {
    const int64_t q_len = m.q_start[r + 1] - m.q_start[r], kv_len = m.kv_len[r];
    const size_t row = static_cast<size_t>(m.req_row != nullptr ? m.req_row[r] : r);
    if (rows_.size() <= row) rows_.resize(row + 1);
    RowState& st = rows_[row];
    if (kv_len == q_len || st.len != kv_len - q_len)  // first forward of this sequence
      st.alpha = dims_.dynamic_ntk ? ntk_alpha(kv_len, dims_.seq_length) : 1;
    st.len = kv_len;
    step_alpha_[static_cast<size_t>(r)] = st.alpha;
    inv_freq(st.alpha);  // computed outside the layer loop
  }
  return {};
}

const std::vector<float>& QwenModel::inv_freq(int64_t alpha) {
  auto it = inv_freq_.find(alpha);
  if (it != inv_freq_.end()) return it->second;
  ops::RopeConfig rc = dec_.attn_shape.rope;
  const double d = dims_.rotary_dim;
  rc.theta = dims_.base * std::pow(static_cast<double>(alpha), d / (d - 2));
  return inv_freq_.emplace(alpha, ops::rope_inv_freq(rc, 0)).first->second;
}

Status QwenModel::apply_positions(const StepBatch& batch, Tensor& q, Tensor& k) const {
  const ops::AttentionMeta& m = batch.attn;
  const ops::RopeConfig& rc = dec_.attn_shape.rope;
  for (int32_t r = 0; r < m.n_reqs; ++r) {
    const int64_t row0 = m.q_start[r], n = m.q_start[r + 1] - m.q_start[r];
    if (n == 0) continue;
    Tensor qr = q.rows(row0, n), kr = k.rows(row0, n);
    const auto& freq = inv_freq_.at(step_alpha_[static_cast<size_t>(r)]);
    LLM_RETURN_IF_ERROR(ops::rope(qr, kr, batch.positions.rows(row0, n), freq, rc));
  }
  if (!dims_.logn) return {};
  const int64_t row_len = q.dim(1) * q.dim(2);
  const double log_base = std::log(static_cast<double>(dims_.seq_length));
  const int32_t* pos = batch.positions.data<int32_t>();
  for (int64_t t = 0; t < q.dim(0); ++t) {
    const int64_t p1 = int64_t{pos[t]} + 1;
    if (p1 <= dims_.seq_length) continue;
    const float s = static_cast<float>(std::log(static_cast<double>(p1)) / log_base);
    float* row = q.data<float>() + t * row_len;
    for (int64_t i = 0; i < row_len; ++i) row[i] *= s;
  }
  return {};
}

Result<std::unique_ptr<Model>> QwenModel::load(const loader::ModelConfig& cfg,
                                               loader::WeightStore& store) {
  LLM_ASSIGN_OR_RETURN(QwenDims d, qwen_dims(cfg));
  auto m = std::make_unique<QwenModel>();
  QwenModel* self = m.get();
  m->dims_ = d;
  ModelShape& s = m->shape_;
  s.architecture = cfg.architecture;
  s.vocab = d.vocab;
  s.hidden = d.hidden;
  s.n_layers = static_cast<int>(d.layers);
  s.n_heads = s.n_kv_heads = d.heads;
  s.head_dim = d.head_dim;
  s.max_context = cfg.max_position_embeddings > 0 ? cfg.max_position_embeddings : d.seq_length;

  layers::RmsDecoder& dec = m->dec_;
  dec.eps = static_cast<float>(cfg.norm_eps);
  layers::AttentionShape& a = dec.attn_shape;
  a.n_heads = a.n_kv_heads = d.heads;
  a.head_dim = d.head_dim;
  a.rope.rotary_dim = d.rotary_dim;
  a.rope.theta = d.base;
  a.position_fn = [self](const StepBatch& b, Tensor& q, Tensor& k) {
    return self->apply_positions(b, q, k);
  };

  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim, F = d.ffn;
  LLM_ASSIGN_OR_RETURN(dec.embed, store.get("transformer.wte.weight", {d.vocab, H}));
  LLM_ASSIGN_OR_RETURN(dec.final_norm, store.get("transformer.ln_f.weight", {H}));
  dec.final_norm = small_weight_f32(dec.final_norm);
  LLM_ASSIGN_OR_RETURN(dec.lm_head, store.get("lm_head.weight", {d.vocab, H}));
  s.weight_dtype = dec.embed.dtype();

  dec.layers.resize(static_cast<size_t>(d.layers));
  for (int64_t i = 0; i < d.layers; ++i) {
    layers::RmsDecoderLayer& L = dec.layers[static_cast<size_t>(i)];
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    auto rows = [&](const std::string& name, core::Shape shape, int64_t r0, int64_t n,
                    Tensor& out) -> Status {
      LLM_ASSIGN_OR_RETURN(out, layers::load_rows(store, p + name, shape, r0, n));
      return {};
    };
    auto whole = [&](const std::string& name, core::Shape shape, Tensor& out) {
      return rows(name, shape, 0, shape[0], out);
    };
    LLM_RETURN_IF_ERROR(whole("ln_1.weight", {H}, L.input_norm));
    LLM_RETURN_IF_ERROR(whole("ln_2.weight", {H}, L.post_norm));
    Tensor* qkv_w[] = {&L.attn.wq, &L.attn.wk, &L.attn.wv};
    Tensor* qkv_b[] = {&L.attn.bq, &L.attn.bk, &L.attn.bv};
    for (int j = 0; j < 3; ++j) {
      LLM_RETURN_IF_ERROR(rows("attn.c_attn.weight", {3 * P, H}, j * P, P, *qkv_w[j]));
      LLM_RETURN_IF_ERROR(rows("attn.c_attn.bias", {3 * P}, j * P, P, *qkv_b[j]));
    }
    LLM_RETURN_IF_ERROR(whole("attn.c_proj.weight", {H, P}, L.attn.wo));
    LLM_RETURN_IF_ERROR(whole("mlp.w2.weight", {F, H}, L.mlp.gate));
    LLM_RETURN_IF_ERROR(whole("mlp.w1.weight", {F, H}, L.mlp.up));
    LLM_RETURN_IF_ERROR(whole("mlp.c_proj.weight", {H, F}, L.mlp.down));
    if (d.bias) {
      LLM_RETURN_IF_ERROR(whole("attn.c_proj.bias", {H}, L.attn.bo));
      LLM_RETURN_IF_ERROR(whole("mlp.w2.bias", {F}, L.mlp.gate_bias));
      LLM_RETURN_IF_ERROR(whole("mlp.w1.bias", {F}, L.mlp.up_bias));
      LLM_RETURN_IF_ERROR(whole("mlp.c_proj.bias", {H}, L.mlp.down_bias));
    }
  }
  m->weight_bytes_ = store.total_bytes();
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace

Result<std::unique_ptr<Model>> load_qwen1(const loader::ModelConfig& cfg,
                                          loader::WeightStore& store) {
  return QwenModel::load(cfg, store);
}

std::vector<std::string> qwen1_architectures() {
  return {"QWenLMHeadModel"};
}

Result<std::vector<TensorSpec>> qwen1_tensors(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(QwenDims d, qwen_dims(cfg));
  return qwen_table(d);
}

}  // namespace lightllm::models
