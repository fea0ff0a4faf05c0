// src/models/qwen1.cpp — Qwen v1 (`QWenLMHeadModel`, model_type qwen; Qwen-VL's language half).
// Reference: Qwen/Qwen-7B modeling_qwen.py (re-written in tools/goldens/ref_models/qwen1.py).
// A plan for the generic decoder (layers/decoder.h): pre-norm RMSNorm, SwiGLU, MHA, where:
//  - q/k/v are row slices of the fused `attn.c_attn` [3*heads*kv_channels, hidden] (+ bias);
//    `attn.c_proj` has a bias only when no_bias is false;
//  - MLP: c_proj(w1(x) * silu(w2(x))): w2 is the gate, w1 the up projection (each
//    intermediate_size/2 rows);
//  - RoPE rotate_half on kv_channels*rotary_pct dims, base rotary_emb_base;
//  - use_dynamic_ntk: a sequence's first forward (no cached tokens) of T tokens fixes
//    alpha = max(2^ceil(log2(T/seq_length) + 1) - 1, 1) and base * alpha^(d/(d-2)); later steps
//    of that sequence keep its alpha (HF caches it while decoding). Kept per req_to_token row
//    (QwenPositions); a row whose cached length is not the one last seen (a new request
//    starting from a prefix-cache hit) recomputes alpha from its length.
//    Deviation: a chunked prefill fixes alpha from its first chunk, not the whole prompt.
//  - use_logn_attn: q at position p is scaled by log(p+1)/log(seq_length) when p+1 > seq_length
//    (ops::logn_scale on q before attention; keys unscaled, so the kernels are unchanged).
// The position step runs on the model's device (per-request rotary with a host-computed
// inv_freq; alpha is host state keyed by req_to_token row).
// Tensor names: transformer.wte, transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
// mlp.w1, mlp.w2, mlp.c_proj}, transformer.ln_f, lm_head.
#include <cmath>
#include <map>

#include <memory>

#include "models/families.h"
#include "models/layers/common.h"
#include "models/loader/json_fields.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::models {
namespace {

using namespace layers;

struct QwenDims {
  int64_t vocab = 0, hidden = 0, ffn = 0, seq_length = 0;
  int heads = 0, head_dim = 0, rotary_dim = 0;
  double base = 10000.0;
  bool bias = false, dynamic_ntk = false, logn = false;
};

Result<QwenDims> qwen_dims(const loader::ModelConfig& cfg) {
  loader::JsonFields f(cfg.raw, cfg.path);
  QwenDims d;
  d.vocab = cfg.vocab_size;
  d.hidden = cfg.hidden_size;
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

int64_t ntk_alpha(int64_t true_seq_len, int64_t seq_length) {
  const double context =
      std::log2(static_cast<double>(true_seq_len) / static_cast<double>(seq_length)) + 1.0;
  const int64_t alpha = (int64_t{1} << static_cast<int>(std::max(0.0, std::ceil(context)))) - 1;
  return std::max<int64_t>(alpha, 1);
}

// Qwen's position step (AttentionShape::position_fn), shared by all layers of one model.
// Per req_to_token row it keeps the alpha and the span [start, end) of the last step seen, so
// the per-layer calls of one step agree and the next step of the sequence keeps its alpha.
class QwenPositions {
 public:
  QwenPositions(const QwenDims& d, const ops::RopeConfig& rope) : d_(d), rope_(rope) {}

  Status operator()(const StepBatch& batch, Tensor& q, Tensor& k) {
    const ops::AttentionMeta& m = batch.attn;
    for (int32_t r = 0; r < m.n_reqs; ++r) {
      const int64_t row0 = m.q_start[r], n = m.q_start[r + 1] - m.q_start[r];
      if (n == 0) continue;
      Tensor qr = q.rows(row0, n), kr = k.rows(row0, n);
      const int64_t alpha =
          alpha_of(m.req_row != nullptr ? m.req_row[r] : r, m.kv_len[r] - n, m.kv_len[r]);
      LLM_RETURN_IF_ERROR(ops::rope(qr, kr, batch.positions.rows(row0, n), inv_freq(alpha), rope_));
    }
    if (d_.logn) return ops::logn_scale(q, batch.positions, d_.seq_length);
    return {};
  }

 private:
  struct Row {
    int64_t alpha = 1, start = -1, end = -1;
  };

  int64_t alpha_of(int32_t req_row, int64_t start, int64_t end) {
    const size_t i = static_cast<size_t>(req_row);
    if (rows_.size() <= i) rows_.resize(i + 1);
    Row& st = rows_[i];
    if (st.start == start && st.end == end) return st.alpha;  // another layer, same step
    // A first forward (nothing cached), or a row whose history we did not see (a new request
    // starting from a prefix-cache hit): alpha from its length. Otherwise keep its alpha.
    if (start == 0 || st.end != start)
      st.alpha = d_.dynamic_ntk ? ntk_alpha(end, d_.seq_length) : 1;
    st.start = start;
    st.end = end;
    return st.alpha;
  }

  const std::vector<float>& inv_freq(int64_t alpha) {
    auto it = inv_freq_.find(alpha);
    if (it != inv_freq_.end()) return it->second;
    ops::RopeConfig rc = rope_;
    const double dim = d_.rotary_dim;
    rc.theta = d_.base * std::pow(static_cast<double>(alpha), dim / (dim - 2));
    return inv_freq_.emplace(alpha, ops::rope_inv_freq(rc, 0)).first->second;
  }

  QwenDims d_;
  ops::RopeConfig rope_;
  std::vector<Row> rows_;                           // by req_to_token row
  std::map<int64_t, std::vector<float>> inv_freq_;  // alpha -> [rotary_dim/2]
};

const DecoderNames kNames = {.embed = "transformer.wte.weight",
                             .layer = "transformer.h.",
                             .attn_norm = "ln_1.",
                             .mlp_norm = "ln_2.",
                             .final_norm = "transformer.ln_f."};

Result<DecoderPlan> plan(const loader::ModelConfig& cfg) {
  LLM_ASSIGN_OR_RETURN(QwenDims d, qwen_dims(cfg));
  DecoderPlan p = new_plan(cfg, NormKind::rms);
  DecoderSpec& s = p.spec;
  s.shape.n_kv_heads = d.heads;
  s.shape.head_dim = d.head_dim;
  if (s.shape.max_context <= 0) s.shape.max_context = d.seq_length;
  s.act = Activation::silu;
  s.attn = {.n_heads = d.heads, .n_kv_heads = d.heads, .head_dim = d.head_dim};
  s.attn.rope.rotary_dim = d.rotary_dim;
  s.attn.rope.theta = d.base;
  s.attn.position_fn = [pos = std::make_shared<QwenPositions>(d, s.attn.rope)](
                           const StepBatch& b, Tensor& q, Tensor& k) { return (*pos)(b, q, k); };

  const int64_t H = d.hidden, P = int64_t{d.heads} * d.head_dim, F = d.ffn;
  DecoderTableParams frame = table_frame(kNames, p);
  frame.attention = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "attn.c_attn.", 3 * P, H, true);
    add_linear(t, l + "attn.c_proj.", H, P, d.bias);
  };
  frame.mlp = [&](const std::string& l, TensorTable& t) {
    add_linear(t, l + "mlp.w1.", F, H, d.bias);
    add_linear(t, l + "mlp.w2.", F, H, d.bias);
    add_linear(t, l + "mlp.c_proj.", H, F, d.bias);
  };
  add_decoder_table(frame, p.table);
  return p;
}

// c_attn rows [q | k | v] become views; w2 is the gate, w1 the up projection.
Result<DecoderWeights> assemble(const DecoderPlan& p, const TensorMap& m) {
  const int64_t P = int64_t{p.spec.shape.n_heads} * p.spec.shape.head_dim;
  return assemble_decoder(kNames, p, m,
                          [&](const std::string& l, DecoderLayerWeights& L, DecoderWeights&) {
                            split_fused_qkv(m.at(l + "attn.c_attn.weight"),
                                            m.small(l + "attn.c_attn.bias"), P, P, L.attn);
                            L.attn.wo = m.at(l + "attn.c_proj.weight");
                            L.mlp.gate = m.at(l + "mlp.w2.weight");
                            L.mlp.up = m.at(l + "mlp.w1.weight");
                            L.mlp.down = m.at(l + "mlp.c_proj.weight");
                            if (m.has(l + "attn.c_proj.bias")) {
                              L.attn.bo = m.small(l + "attn.c_proj.bias");
                              L.mlp.gate_bias = m.small(l + "mlp.w2.bias");
                              L.mlp.up_bias = m.small(l + "mlp.w1.bias");
                              L.mlp.down_bias = m.small(l + "mlp.c_proj.bias");
                            }
                          });
}

constexpr std::string_view kArchitectures[] = {"QWenLMHeadModel"};

}  // namespace

constinit const PlannedFamily kQwen1Family = {"qwen1", kArchitectures, plan, assemble};

}  // namespace lightllm::models
