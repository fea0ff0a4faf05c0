// src/models/layers/decoder.h — the generic decoder-only transformer the non-LLaMA families
// are built from. A family file turns config.json into a DecoderSpec (what the forward does)
// and a tensor table (every checkpoint tensor with its shape), then fills DecoderWeights from
// the fetched tensors (splitting fused projections). Differences between families are data
// here: norm kind, parallel residual, gated or plain MLP, learned positions, ALiBi, q/k norm,
// embedding norm, logit scale.
// Forward (per layer): a = attn_norm(x); x += attn(a) and then
//   sequential: x += mlp(mlp_norm(x));   parallel: x += mlp(a) (same normed input).
// On CUDA, decode steps run from CUDA graphs when set_cuda_graphs() asks (layers/cuda_graph.h:
// the same run_layers captured; Qwen v1's position step and tensor-parallel shards stay eager).
// Invariants: every weight is checked against the table's shape at load; norm weights and
// biases are f32 (small_weight_f32); logit_scale is folded into the final norm (weight and
// bias), so logits = lm_head(final_norm(x)) * logit_scale exactly up to f32 rounding.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/layers/attention.h"
#include "models/layers/blocks.h"
#include "models/layers/common.h"
#include "models/layers/mlp.h"
#include "models/layers/tensor_parallel.h"
#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::loader {
class WeightStore;
struct ModelConfig;
}  // namespace lightllm::loader

namespace lightllm::models::layers {

// One checkpoint tensor the family reads: its name and the shape config.json implies.
struct TensorSpec {
  std::string name;
  core::Shape shape;
};

struct DecoderSpec {
  ModelShape shape;
  NormKind norm = NormKind::rms;
  float eps = 1e-5f;
  bool parallel_residual = false;  // x += attn(ln(x)) + mlp(ln(x)) (one norm per layer)
  bool gated_mlp = true;           // down(act(gate) * up) vs down(act(up))
  Activation act = Activation::silu;
  bool learned_positions = false;  // x = wte[ids] + wpe[positions] (StarCoder)
  bool embed_norm = false;         // LayerNorm right after the embedding (BLOOM)
  bool alibi = false;              // ALiBi bias instead of rotary (BLOOM)
  double logit_scale = 1.0;        // logits multiplier (Cohere)
  int32_t sliding_window = 0;      // 0 = full causal attention
  float attn_scale = 0.0f;         // softmax scale; 0 = 1/sqrt(head_dim)
  AttentionShape attn;             // heads, head_dim, rope (use_rope false with ALiBi)
};

struct DecoderLayerWeights {
  NormWeights attn_norm, mlp_norm;  // mlp_norm unused with parallel_residual
  AttentionWeights attn;            // (+ q_norm / k_norm per head when present)
  GatedMlpWeights mlp;              // gate undefined for plain MLPs
};

struct DecoderWeights {
  Tensor embed;      // [vocab, hidden]
  Tensor pos_embed;  // [max_positions, hidden] with learned_positions
  NormWeights embed_norm, final_norm;
  Tensor lm_head;  // [vocab, hidden] (may be `embed` when tied)
  std::vector<DecoderLayerWeights> layers;
  std::vector<Tensor> owned;  // copies made at load (de-interleaved fused projections)
  // q/k/v hold only the plan's shard_heads already (families that de-interleave a per-head
  // fused projection take the rank's heads first); otherwise load_planned slices them.
  bool qkv_local = false;
};

// Fetched tensors by table name. `alt_prefix`: published checkpoints of some families omit
// the base-model prefix ("transformer." for BLOOM); a name missing from the store is then
// looked up without it. Errors name the folder, the tensor and both shapes.
class TensorMap {
 public:
  static Result<TensorMap> fetch(const loader::WeightStore& store,
                                 const std::vector<TensorSpec>& table,
                                 const std::string& alt_prefix = "");
  // The tensor named `name` (must be in the table).
  const Tensor& at(const std::string& name) const;
  // Norm weights / biases as f32 copies.
  Tensor small(const std::string& name) const { return small_weight_f32(at(name)); }
  bool has(const std::string& name) const { return map_.count(name) != 0; }

 private:
  std::map<std::string, Tensor> map_;
};

// Rows [row0, row0 + n) of a [rows, ...] weight, as a view.
inline Tensor rows_of(const Tensor& w, int64_t row0, int64_t n) {
  return w.rows(row0, n);
}

// A copy of fused `w` [n_heads * parts * head_dim, ...] (rows grouped per head: head h holds
// part 0..parts-1, each head_dim rows) regrouped per part: [parts * n_heads * head_dim, ...],
// so part p of every head becomes one contiguous block of rows (BLOOM, GPTBigCode MHA).
Tensor group_heads_by_part(const Tensor& w, int n_heads, int parts, int head_dim);

// Points attn.wq/wk/wv (and bq/bk/bv when `bias` is defined) at the row blocks of a fused
// projection laid out [q (q_rows) | k (kv_rows) | v (kv_rows)]: views, no copies. `bias` may be
// [rows] or [rows, 1]; the bias views are 1-D.
void split_fused_qkv(const Tensor& weight, const Tensor& bias, int64_t q_rows, int64_t kv_rows,
                     AttentionWeights& attn);

// Stacks per-head vectors [head_dim] x n into one f32 [n, head_dim] tensor.
Tensor stack_f32(const std::vector<Tensor>& rows);

// The model that runs a DecoderSpec with DecoderWeights; with a sharded `tp` the weights and
// spec are already this rank's (load_planned) and forward runs the collectives.
Result<std::unique_ptr<Model>> make_decoder_model(DecoderSpec spec, DecoderWeights weights,
                                                  int64_t weight_bytes, TensorParallel tp = {});

// Sum of the elements of a tensor table (the parameter count of that checkpoint).
int64_t count_parameters(const std::vector<TensorSpec>& table);

// What a family derives from config.json alone: the forward's spec and the tensor table.
struct DecoderPlan {
  DecoderSpec spec;
  std::vector<TensorSpec> table;
  bool tied = false;  // lm_head is the embedding (no lm_head.weight in the table)
  // The query / KV heads this rank holds (all of them when not tensor parallel); set by
  // load_planned before assemble.
  dist::HeadShard shard_heads;
};

// ModelShape fields from the parsed config (architecture, vocab, hidden, layers, heads,
// head_dim, max_context).
ModelShape base_shape(const loader::ModelConfig& cfg);
// config.json fields beyond ModelConfig (cfg.raw); absent or null = `def`, wrong type =
// invalid_argument naming the file and field.
Result<bool> cfg_bool(const loader::ModelConfig& cfg, const char* key, bool def);
Result<double> cfg_double(const loader::ModelConfig& cfg, const char* key, double def);
// hidden_act / activation_function → Activation (silu, gelu, gelu_new / gelu_pytorch_tanh).
Result<Activation> activation_of(const loader::ModelConfig& cfg);

// Appends "<prefix>{weight,bias}" of a norm ([hidden]; bias when `bias`).
void add_norm(std::vector<TensorSpec>& t, const std::string& prefix, int64_t hidden, bool bias);
NormWeights norm_of(const TensorMap& m, const std::string& prefix);  // bias if fetched

// plan → fetch (with alt_prefix) → assemble → (shard) → model; the loader of every plan-based
// family. With a sharded `shard` the fetched views are sliced to the rank's part
// (TensorParallel) and weight_bytes counts only what the rank holds.
using AssembleFn = Result<DecoderWeights> (*)(const DecoderPlan&, const TensorMap&);
Result<std::unique_ptr<Model>> load_planned(Result<DecoderPlan> plan, AssembleFn assemble,
                                            const loader::WeightStore& store,
                                            const dist::ShardSpec& shard,
                                            const std::string& alt_prefix = "");

}  // namespace lightllm::models::layers
