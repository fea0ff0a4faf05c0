// src/models/families.h — the plan-based families (src/models/<family>.cpp, built on the
// generic decoder of layers/decoder.h) as data for the registry, and the frame they share.
// Each family file defines one PlannedFamily: the architectures it loads, its plan
// (config.json → DecoderSpec + tensor table), its assemble (fetched tensors → DecoderWeights)
// and the base-model prefix published checkpoints may omit. registry.cpp loads every one the
// same way (layers::load_planned with the rank's ShardSpec) and takes its tensor table from
// the plan. A family file keeps only its names, shapes, flags and what is truly its own.
// Invariants: the table lists every checkpoint tensor with the shape config.json implies (the
// parameter count is its sum), in checkpoint order: embedding, layers, final norm, lm_head.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/layers/decoder.h"
#include "models/model.h"

namespace lightllm::models {

using TensorTable = std::vector<layers::TensorSpec>;
using PlanFn = Result<layers::DecoderPlan> (*)(const loader::ModelConfig& cfg);

struct PlannedFamily {
  std::string_view name;
  std::span<const std::string_view> architectures;  // config.json `architectures` it loads
  PlanFn plan;
  layers::AssembleFn assemble;
  std::string_view alt_prefix = {};  // see layers::TensorMap::fetch
};

extern const PlannedFamily kBloomFamily;
extern const PlannedFamily kGptBigcodeFamily;
extern const PlannedFamily kPhi3Family;
extern const PlannedFamily kStablelmFamily;
extern const PlannedFamily kCohereFamily;
extern const PlannedFamily kChatglmFamily;
extern const PlannedFamily kQwen1Family;

// The checkpoint tensors `cfg` implies (names and shapes, nothing allocated); unimplemented for
// an architecture whose family has no tensor table (LLaMA's own model class).
Result<TensorTable> tensor_table(const loader::ModelConfig& cfg);

// --- the frame every plan-based decoder shares, in the family's tensor names ---

// A plan with the config's base shape (layers::base_shape), `norm` and its eps (norm_eps).
layers::DecoderPlan new_plan(const loader::ModelConfig& cfg, layers::NormKind norm);

struct DecoderNames {
  std::string embed;       // [vocab, hidden]
  std::string layer;       // layer i's tensors start with layer + i + "."
  std::string attn_norm;   // within a layer: the norm before attention
  std::string mlp_norm;    // within a layer: the norm before the MLP; "" = none (parallel)
  std::string final_norm;  // after the last layer
  std::string lm_head = "lm_head.weight";  // [vocab, hidden]; absent when tied
  bool norm_bias = false;                  // LayerNorms with a bias

  std::string layer_prefix(int64_t i) const { return layer + std::to_string(i) + "."; }
};

// The names of HF's LLaMA-style checkpoints: model.embed_tokens, model.layers.N.{
// input_layernorm, post_attention_layernorm (when `mlp_norm`)}, model.norm, lm_head.
DecoderNames llama_style_names(bool norm_bias, bool mlp_norm = true);

// Appends the tensors of one layer (prefix "<layer><i>.") to the table.
using LayerTableFn = std::function<void(const std::string& layer_prefix, TensorTable& t)>;

struct DecoderTableParams {
  const DecoderNames& names;
  int64_t vocab = 0, hidden = 0;
  int n_layers = 0;
  bool tied = false;
  LayerTableFn attention;   // the layer's tensors between attn_norm and mlp_norm
  LayerTableFn mlp;         // the layer's tensors after mlp_norm
  TensorTable after_embed;  // e.g. an embedding norm or position embeddings
};

// The frame of plan `p`: its vocab, hidden, n_layers and tied; the family adds the rest.
DecoderTableParams table_frame(const DecoderNames& names, const layers::DecoderPlan& p);

// Fills the table: embed, after_embed, per layer {attn_norm, attention, mlp_norm, mlp},
// final_norm, lm_head unless tied.
void add_decoder_table(const DecoderTableParams& p, TensorTable& t);

// Fills one layer's attention and MLP weights from the tensors of prefix "<layer><i>."; `w`
// takes any copies made (w.owned).
using LayerWeightsFn = std::function<void(
    const std::string& layer_prefix, layers::DecoderLayerWeights& L, layers::DecoderWeights& w)>;

// DecoderWeights with embed, final_norm, lm_head (the embedding when p.tied) and per layer
// attn_norm / mlp_norm set from `names`; `layer` fills the rest of each layer.
layers::DecoderWeights assemble_decoder(const DecoderNames& names, const layers::DecoderPlan& p,
                                        const layers::TensorMap& m, const LayerWeightsFn& layer);

// Appends "<prefix>weight" [out_features, in_features] and, when `bias`, "<prefix>bias"
// [out_features] (a Linear layer; add_norm's counterpart).
void add_linear(TensorTable& t, const std::string& prefix, int64_t out_features,
                int64_t in_features, bool bias);

// Separate q_proj / k_proj / v_proj / o_proj under `attn_prefix` (rows q, kv, kv and [hidden,
// q]); biases on q/k/v when `qkv_bias`, on o when `o_bias`.
void add_separate_qkv(TensorTable& t, const std::string& attn_prefix, int64_t q, int64_t kv,
                      int64_t hidden, bool qkv_bias, bool o_bias);
// Points attn at those tensors (biases undefined when absent from the table).
void separate_qkv_of(const layers::TensorMap& m, const std::string& attn_prefix,
                     layers::AttentionWeights& attn);

// Separate gate_proj / up_proj [inter, hidden] and down_proj [hidden, inter] under
// `mlp_prefix`, no biases; gated_mlp_of points mlp at them.
void add_gated_mlp(TensorTable& t, const std::string& mlp_prefix, int64_t inter, int64_t hidden);
void gated_mlp_of(const layers::TensorMap& m, const std::string& mlp_prefix,
                  layers::GatedMlpWeights& mlp);

}  // namespace lightllm::models
