// src/models/loader/model_config.cpp — config.json / generation_config.json parsing.
#include "models/loader/model_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/loader/json_fields.h"

namespace lightllm::loader {

using core::Result;
using core::Status;
using nlohmann::json;

namespace {

// Reads the first present of `keys` as an integer into `out` (unchanged when all absent).
// `required` makes absence an error naming the first key.
Status read_int(const JsonFields& f, std::initializer_list<const char*> keys, int64_t& out,
                bool required) {
  const std::string key = f.first_present(keys);
  if (key.empty()) {
    if (required) return f.error(*keys.begin(), "is required but missing");
    return Status();
  }
  LLM_ASSIGN_OR_RETURN(std::optional<int64_t> v, f.opt_int(key));
  out = *v;
  return Status();
}

Status read_double(const JsonFields& f, std::initializer_list<const char*> keys, double& out) {
  const std::string key = f.first_present(keys);
  if (key.empty()) return Status();
  LLM_ASSIGN_OR_RETURN(std::optional<double> v, f.opt_double(key));
  out = *v;
  return Status();
}

Status read_bool(const JsonFields& f, const char* key, bool& out) {
  LLM_ASSIGN_OR_RETURN(std::optional<bool> v, f.opt_bool(key));
  if (v) out = *v;
  return Status();
}

Status parse_rope_scaling(const JsonFields& top, const std::string& path, RopeScaling& out) {
  const json* rs = top.find("rope_scaling");
  if (rs == nullptr) return Status();
  if (!rs->is_object()) return top.error("rope_scaling", "must be an object or null");
  JsonFields f(*rs, path, "rope_scaling.");
  const std::string type_key = f.first_present({"rope_type", "type"});
  if (type_key.empty()) return f.error("rope_type", "is required in rope_scaling");
  LLM_ASSIGN_OR_RETURN(std::optional<std::string> type, f.opt_string(type_key));
  out.type_name = *type;
  if (*type == "default") {
    out.type = RopeType::none;
    return Status();
  }
  if (*type == "linear")
    out.type = RopeType::linear;
  else if (*type == "dynamic")
    out.type = RopeType::dynamic;
  else if (*type == "llama3")
    out.type = RopeType::llama3;
  else if (*type == "yarn")
    out.type = RopeType::yarn;
  else if (*type == "longrope" || *type == "su")
    out.type = RopeType::longrope;
  else
    return core::unimplemented(
        "{}: rope_scaling type '{}' is not supported (known: default, linear, dynamic, llama3, "
        "yarn, longrope)",
        path, *type);

  if (out.type != RopeType::longrope && f.find("factor") == nullptr)
    return f.error("factor", "is required for rope type '" + *type + "'");
  LLM_RETURN_IF_ERROR(read_double(f, {"factor"}, out.factor));
  LLM_RETURN_IF_ERROR(read_int(f, {"original_max_position_embeddings"},
                               out.original_max_position_embeddings,
                               /*required=*/out.type == RopeType::llama3));
  LLM_RETURN_IF_ERROR(read_double(f, {"low_freq_factor"}, out.low_freq_factor));
  LLM_RETURN_IF_ERROR(read_double(f, {"high_freq_factor"}, out.high_freq_factor));
  LLM_RETURN_IF_ERROR(read_double(f, {"beta_fast"}, out.beta_fast));
  LLM_RETURN_IF_ERROR(read_double(f, {"beta_slow"}, out.beta_slow));
  LLM_RETURN_IF_ERROR(read_double(f, {"mscale"}, out.mscale));
  LLM_RETURN_IF_ERROR(read_double(f, {"mscale_all_dim"}, out.mscale_all_dim));
  if (!(out.factor > 0)) return f.error("factor", "must be > 0");
  return Status();
}

Status parse_architecture(const JsonFields& f, const json& j, ModelConfig& c) {
  if (const json* a = f.find("architectures")) {
    if (!a->is_array()) return f.error("architectures", "must be a list of strings");
    for (const json& s : *a) {
      if (!s.is_string()) return f.error("architectures", "must be a list of strings");
      c.architectures.push_back(s.get<std::string>());
    }
  }
  LLM_ASSIGN_OR_RETURN(std::optional<std::string> mt, f.opt_string("model_type"));
  c.model_type = mt.value_or("");
  c.architecture = c.architectures.empty() ? c.model_type : c.architectures[0];
  if (c.architecture.empty()) return f.error("architectures", "is missing (and so is model_type)");
  (void)j;
  return Status();
}

Status parse_dims(const JsonFields& f, ModelConfig& c) {
  LLM_RETURN_IF_ERROR(
      read_int(f, {"hidden_size", "n_embd", "n_embed", "d_model"}, c.hidden_size, true));
  LLM_RETURN_IF_ERROR(
      read_int(f, {"num_hidden_layers", "num_layers", "n_layer"}, c.num_hidden_layers, true));
  LLM_RETURN_IF_ERROR(
      read_int(f, {"num_attention_heads", "n_head", "num_heads"}, c.num_attention_heads, true));
  LLM_RETURN_IF_ERROR(read_int(f, {"vocab_size", "padded_vocab_size"}, c.vocab_size, true));
  LLM_RETURN_IF_ERROR(
      read_int(f, {"intermediate_size", "ffn_hidden_size", "n_inner"}, c.intermediate_size, false));
  LLM_RETURN_IF_ERROR(read_int(f, {"max_position_embeddings", "n_positions", "seq_length"},
                               c.max_position_embeddings, false));
  c.num_key_value_heads = c.num_attention_heads;
  LLM_RETURN_IF_ERROR(read_int(f, {"num_key_value_heads"}, c.num_key_value_heads, false));

  if (c.hidden_size <= 0) return f.error("hidden_size", "must be > 0");
  if (c.num_hidden_layers <= 0) return f.error("num_hidden_layers", "must be > 0");
  if (c.num_attention_heads <= 0) return f.error("num_attention_heads", "must be > 0");
  if (c.vocab_size <= 0) return f.error("vocab_size", "must be > 0");
  if (c.intermediate_size < 0) return f.error("intermediate_size", "must be >= 0");
  if (c.max_position_embeddings < 0) return f.error("max_position_embeddings", "must be >= 0");
  if (c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    return f.error("num_key_value_heads",
                   fmt::format("must be > 0 and divide num_attention_heads ({}), got {}",
                               c.num_attention_heads, c.num_key_value_heads));
  if (f.find("head_dim") != nullptr) {
    LLM_RETURN_IF_ERROR(read_int(f, {"head_dim"}, c.head_dim, false));
    if (c.head_dim <= 0) return f.error("head_dim", "must be > 0");
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      return f.error("hidden_size", fmt::format("({}) must be divisible by num_attention_heads "
                                                "({}) when head_dim is not given",
                                                c.hidden_size, c.num_attention_heads));
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  return Status();
}

Status parse_flags_and_ids(const JsonFields& f, ModelConfig& c) {
  LLM_RETURN_IF_ERROR(read_double(
      f, {"rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "layernorm_epsilon", "norm_eps"},
      c.norm_eps));
  LLM_RETURN_IF_ERROR(read_double(f, {"rope_theta"}, c.rope_theta));
  LLM_RETURN_IF_ERROR(read_double(f, {"partial_rotary_factor"}, c.partial_rotary_factor));
  if (!(c.rope_theta > 0)) return f.error("rope_theta", "must be > 0");
  if (!(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1))
    return f.error("partial_rotary_factor", "must be in (0, 1]");
  LLM_RETURN_IF_ERROR(read_bool(f, "tie_word_embeddings", c.tie_word_embeddings));
  LLM_RETURN_IF_ERROR(read_bool(f, "attention_bias", c.attention_bias));
  LLM_RETURN_IF_ERROR(read_bool(f, "mlp_bias", c.mlp_bias));
  LLM_ASSIGN_OR_RETURN(c.bias, f.opt_bool("bias"));
  LLM_ASSIGN_OR_RETURN(c.sliding_window, f.opt_int("sliding_window"));
  if (c.sliding_window && *c.sliding_window <= 0) return f.error("sliding_window", "must be > 0");
  LLM_ASSIGN_OR_RETURN(c.use_sliding_window, f.opt_bool("use_sliding_window"));

  const std::string dkey = f.first_present({"torch_dtype", "dtype"});
  if (!dkey.empty()) {
    LLM_ASSIGN_OR_RETURN(std::optional<std::string> d, f.opt_string(dkey));
    c.dtype_name = *d;
    if (*d == "float32")
      c.dtype = core::DType::f32;
    else if (*d == "float16")
      c.dtype = core::DType::f16;
    else if (*d == "bfloat16")
      c.dtype = core::DType::bf16;
  }
  LLM_ASSIGN_OR_RETURN(c.bos_token_id, f.opt_int("bos_token_id"));
  LLM_ASSIGN_OR_RETURN(c.eos_token_ids, f.int_or_int_list("eos_token_id"));
  LLM_ASSIGN_OR_RETURN(c.pad_token_id, f.opt_int("pad_token_id"));
  const std::string act_key = f.first_present({"hidden_act", "activation_function"});
  if (!act_key.empty()) {
    LLM_ASSIGN_OR_RETURN(std::optional<std::string> act, f.opt_string(act_key));
    c.hidden_act = *act;
  }
  return Status();
}

}  // namespace

Result<json> read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return core::not_found("{}: no such file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::not_found("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return core::invalid_argument("{}: not valid JSON", path);
  return j;
}

Result<ModelConfig> parse_model_config(const json& j, const std::string& path) {
  if (!j.is_object()) return core::invalid_argument("{}: must be a JSON object", path);
  JsonFields f(j, path);
  ModelConfig c;
  c.path = path;
  LLM_RETURN_IF_ERROR(parse_architecture(f, j, c));
  LLM_RETURN_IF_ERROR(parse_dims(f, c));
  LLM_RETURN_IF_ERROR(parse_flags_and_ids(f, c));
  LLM_RETURN_IF_ERROR(parse_rope_scaling(f, path, c.rope_scaling));
  c.raw = j;
  return c;
}

Result<ModelConfig> load_model_config(const std::string& config_json_path) {
  LLM_ASSIGN_OR_RETURN(json j, read_json_file(config_json_path));
  return parse_model_config(j, config_json_path);
}

Result<GenerationDefaults> parse_generation_config(const json& j, const std::string& path) {
  if (!j.is_object()) return core::invalid_argument("{}: must be a JSON object", path);
  JsonFields f(j, path);
  GenerationDefaults g;
  LLM_ASSIGN_OR_RETURN(g.temperature, f.opt_double("temperature"));
  LLM_ASSIGN_OR_RETURN(g.top_p, f.opt_double("top_p"));
  LLM_ASSIGN_OR_RETURN(g.top_k, f.opt_int("top_k"));
  LLM_ASSIGN_OR_RETURN(g.do_sample, f.opt_bool("do_sample"));
  LLM_ASSIGN_OR_RETURN(g.repetition_penalty, f.opt_double("repetition_penalty"));
  LLM_ASSIGN_OR_RETURN(g.max_new_tokens, f.opt_int("max_new_tokens"));
  LLM_ASSIGN_OR_RETURN(g.eos_token_ids, f.int_or_int_list("eos_token_id"));
  return g;
}

Result<GenerationDefaults> load_generation_defaults(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "generation_config.json").string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return GenerationDefaults{};
  LLM_ASSIGN_OR_RETURN(json j, read_json_file(path));
  return parse_generation_config(j, path);
}

}  // namespace lightllm::loader
