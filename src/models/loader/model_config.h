// src/models/loader/model_config.h — config.json and generation_config.json as typed structs.
// ModelConfig holds the fields every decoder-only family shares, with HF's defaults and
// HF's alternative key names (GPT-2's n_embd, ChatGLM's num_layers, ...); family-specific
// fields stay in `raw` for the family's own code. Per-family facts (Qwen2 always has q/k/v
// bias) live in the model code, not here: this file only reports what the JSON says.
// Invariants of a parsed ModelConfig: hidden_size, num_hidden_layers, num_attention_heads,
// vocab_size, num_key_value_heads, head_dim > 0 and num_attention_heads % num_key_value_heads
// == 0. Errors are invalid_argument naming the file and the field; an unknown rope type is
// unimplemented naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::loader {

enum class RopeType { none, linear, dynamic, llama3, yarn, longrope };

struct RopeScaling {
  RopeType type = RopeType::none;
  std::string type_name;  // as written: "linear", "llama3", ... ("" when none)
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // 0 when not given
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn (the family code must reject what it does not implement)
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

struct ModelConfig {
  std::string path;                        // the config.json this came from (for messages)
  std::string architecture;                // architectures[0], else model_type
  std::vector<std::string> architectures;  // as written (may be empty)
  std::string model_type;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // 0 when the config does not say
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;      // default: num_attention_heads
  int64_t head_dim = 0;                 // default: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;  // 0 when the config does not say

  // rms_norm_eps, else layer_norm_eps / layer_norm_epsilon / layernorm_epsilon / norm_eps.
  double norm_eps = 1e-6;  // LlamaConfig's default
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double partial_rotary_factor = 1.0;

  bool tie_word_embeddings = false;  // Llama/Mistral/Qwen2 configs default to false
  bool attention_bias = false;       // Llama: q/k/v/o bias
  bool mlp_bias = false;
  std::optional<bool> bias;  // InternLM v1: q/k/v/o bias
  // Mistral applies sliding_window when set; Qwen2 only when use_sliding_window is true.
  std::optional<int64_t> sliding_window;
  std::optional<bool> use_sliding_window;

  std::optional<core::DType> dtype;  // torch_dtype or dtype: float32/float16/bfloat16
  std::string dtype_name;            // as written ("" when absent)
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // eos_token_id: an int or a list
  std::optional<int64_t> pad_token_id;
  std::string hidden_act = "silu";

  nlohmann::json raw;  // the whole config.json, for family-specific fields
};

// Sampling defaults from generation_config.json; every field is optional.
struct GenerationDefaults {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<bool> do_sample;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
  std::vector<int64_t> eos_token_ids;
};

// Parses a config already read as JSON; `path` names it in messages.
core::Result<ModelConfig> parse_model_config(const nlohmann::json& j, const std::string& path);
// Reads and parses a config.json file. not_found if missing; invalid_argument if not JSON.
core::Result<ModelConfig> load_model_config(const std::string& config_json_path);

core::Result<GenerationDefaults> parse_generation_config(const nlohmann::json& j,
                                                         const std::string& path);
// Reads <model_dir>/generation_config.json; defaults (all empty) when the file is absent.
core::Result<GenerationDefaults> load_generation_defaults(const std::string& model_dir);

// Reads a whole file as JSON (not_found / invalid_argument naming the file).
core::Result<nlohmann::json> read_json_file(const std::string& path);

}  // namespace lightllm::loader
