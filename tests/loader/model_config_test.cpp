// tests/loader/model_config_test.cpp — config.json / generation_config.json parsing: every
// real config in the shared test data, checked field by field against its own JSON, plus
// wrong-type / missing-field / unknown-rope errors naming the field and the file.
#include <filesystem>

#include <gtest/gtest.h>

#include "loader/st_writer.h"
#include "models/loader/model_config.h"
#include "models/model.h"

using namespace lightllm;
using namespace lightllm::loader;
using core::StatusCode;
using nlohmann::json;

namespace {

const std::string kConfigs = std::string(LIGHTLLM_SHARED_TESTDATA) + "/configs";

std::vector<std::string> all_real_configs() {
  std::vector<std::string> out;
  for (const auto& d : std::filesystem::directory_iterator(kConfigs))
    for (const auto& f : std::filesystem::directory_iterator(d.path())) {
      const std::string name = f.path().filename().string();
      if (name.rfind("config", 0) == 0 && name.size() > 5 &&
          name.compare(name.size() - 5, 5, ".json") == 0)
        out.push_back(f.path().string());
    }
  std::sort(out.begin(), out.end());
  return out;
}

// The families whose configs must parse into exactly what their JSON says.
bool is_llama_like(const json& j) {
  const std::string mt = j.value("model_type", "");
  return mt == "llama" || mt == "mistral" || mt == "qwen2" || mt == "mixtral";
}

TEST(ModelConfig, EveryRealConfigParsesOrFailsCleanly) {
  const auto files = all_real_configs();
  ASSERT_GE(files.size(), 20u) << "shared test data missing? " << kConfigs;
  int llama_like = 0;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    auto j = read_json_file(path);
    ASSERT_TRUE(j.ok()) << j.status().to_string();
    auto c = load_model_config(path);
    if (is_llama_like(*j)) {
      ++llama_like;
      ASSERT_TRUE(c.ok()) << c.status().to_string();
      // Field by field against the file's own JSON (defaults where the key is absent).
      EXPECT_EQ(c->architecture, (*j)["architectures"][0].get<std::string>());
      EXPECT_EQ(c->vocab_size, (*j)["vocab_size"].get<int64_t>());
      EXPECT_EQ(c->hidden_size, (*j)["hidden_size"].get<int64_t>());
      EXPECT_EQ(c->intermediate_size, (*j)["intermediate_size"].get<int64_t>());
      EXPECT_EQ(c->num_hidden_layers, (*j)["num_hidden_layers"].get<int64_t>());
      EXPECT_EQ(c->num_attention_heads, (*j)["num_attention_heads"].get<int64_t>());
      EXPECT_EQ(c->num_key_value_heads, j->value("num_key_value_heads", c->num_attention_heads));
      EXPECT_EQ(c->head_dim, j->contains("head_dim") ? (*j)["head_dim"].get<int64_t>()
                                                     : c->hidden_size / c->num_attention_heads);
      EXPECT_EQ(c->max_position_embeddings, (*j)["max_position_embeddings"].get<int64_t>());
      EXPECT_EQ(c->norm_eps, (*j)["rms_norm_eps"].get<double>());
      EXPECT_EQ(c->rope_theta, j->value("rope_theta", 10000.0));
      EXPECT_EQ(c->tie_word_embeddings, j->value("tie_word_embeddings", false));
      EXPECT_EQ(c->bos_token_id, (*j)["bos_token_id"].get<int64_t>());
      EXPECT_EQ(c->hidden_act, "silu");
      const auto sw = j->find("sliding_window");
      if (sw == j->end() || sw->is_null()) {
        EXPECT_FALSE(c->sliding_window.has_value());
      } else {
        EXPECT_EQ(c->sliding_window, sw->get<int64_t>());
      }
      const json rs = j->value("rope_scaling", json());
      if (rs.is_null()) {
        EXPECT_EQ(c->rope_scaling.type, RopeType::none);
      } else {
        EXPECT_EQ(c->rope_scaling.type, RopeType::llama3);
        EXPECT_EQ(c->rope_scaling.factor, rs["factor"].get<double>());
        EXPECT_EQ(c->rope_scaling.original_max_position_embeddings,
                  rs["original_max_position_embeddings"].get<int64_t>());
        EXPECT_EQ(c->rope_scaling.low_freq_factor, rs["low_freq_factor"].get<double>());
        EXPECT_EQ(c->rope_scaling.high_freq_factor, rs["high_freq_factor"].get<double>());
      }
      auto arch = models::resolve_architecture(*c);
      if (c->architecture != "MixtralForCausalLM") {
        ASSERT_TRUE(arch.ok()) << arch.status().to_string();
      }
    } else if (c.ok()) {
      // Other families: the architecture is reported; support is a separate question.
      if (j->contains("architectures")) {
        EXPECT_EQ(c->architecture, (*j)["architectures"][0].get<std::string>());
      }
      auto arch = models::resolve_architecture(*c);
      if (!arch.ok()) {
        EXPECT_EQ(arch.status().code(), StatusCode::unimplemented);
        EXPECT_NE(arch.status().message().find(c->architecture), std::string::npos);
        EXPECT_NE(arch.status().message().find("LlamaForCausalLM"), std::string::npos);
      }
    } else {
      EXPECT_NE(c.status().message().find(path), std::string::npos) << c.status().to_string();
    }
  }
  EXPECT_GE(llama_like, 12);
}

TEST(ModelConfig, SpotChecksOfKnownModels) {
  auto l31 = load_model_config(kConfigs + "/llama3.1-8b/config.json");
  ASSERT_TRUE(l31.ok()) << l31.status().to_string();
  EXPECT_EQ(l31->num_key_value_heads, 8);
  EXPECT_EQ(l31->head_dim, 128);
  EXPECT_EQ(l31->rope_theta, 500000.0);
  EXPECT_EQ(l31->rope_scaling.type, RopeType::llama3);
  EXPECT_EQ(l31->rope_scaling.factor, 8.0);
  EXPECT_EQ(l31->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(l31->dtype, core::DType::bf16);
  EXPECT_EQ(l31->eos_token_ids, (std::vector<int64_t>{128001}));

  auto q = load_model_config(kConfigs + "/qwen2-0.5b/config.json");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(q->num_key_value_heads, 2);
  EXPECT_EQ(q->head_dim, 64);
  EXPECT_TRUE(q->tie_word_embeddings);
  EXPECT_EQ(q->norm_eps, 1e-6);
  EXPECT_EQ(q->use_sliding_window, false);
  EXPECT_FALSE(q->sliding_window.has_value());

  auto m = load_model_config(kConfigs + "/mistral-7b-v0.1/config.1layer.json");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sliding_window, 4096);
  EXPECT_EQ(m->num_key_value_heads, 8);

  auto t = load_model_config(kConfigs + "/tinyllama-1.1b-chat-v1.0/config.json");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype, core::DType::f32);  // written as "dtype" by newer transformers
  EXPECT_EQ(t->num_key_value_heads, 4);

  auto glm = load_model_config(kConfigs + "/glm-4.5/config.json");
  ASSERT_TRUE(glm.ok()) << glm.status().to_string();
  EXPECT_EQ(glm->eos_token_ids, (std::vector<int64_t>{151329, 151336, 151338}));

  auto ds = load_model_config(kConfigs + "/deepseek-v2-shrunk/config.json");
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->rope_scaling.type, RopeType::yarn);
  EXPECT_EQ(ds->rope_scaling.factor, 40.0);
  EXPECT_EQ(models::resolve_architecture(*ds).status().code(), StatusCode::unimplemented);

  auto glm2 = load_model_config(kConfigs + "/chatglm2-6b/config.json");
  ASSERT_TRUE(glm2.ok()) << glm2.status().to_string();  // num_layers / padded_vocab_size aliases
  EXPECT_EQ(glm2->num_hidden_layers, glm2->raw["num_layers"].get<int64_t>());
  EXPECT_EQ(glm2->vocab_size, glm2->raw["padded_vocab_size"].get<int64_t>());
}

// A minimal valid Llama config, to break one field at a time.
json base_config() {
  return json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 512, "intermediate_size": 128,
    "rms_norm_eps": 1e-5, "max_position_embeddings": 64})");
}

void expect_field_error(const json& j, const std::string& field, StatusCode code) {
  auto c = parse_model_config(j, "/m/config.json");
  ASSERT_FALSE(c.ok()) << j.dump();
  EXPECT_EQ(c.status().code(), code) << c.status().to_string();
  EXPECT_NE(c.status().message().find("/m/config.json"), std::string::npos);
  EXPECT_NE(c.status().message().find(field), std::string::npos) << c.status().message();
}

TEST(ModelConfig, DefaultsOfAMinimalConfig) {
  auto c = parse_model_config(base_config(), "/m/config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeType::none);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->bias.has_value());
  json j = base_config();
  j.erase("num_key_value_heads");
  EXPECT_EQ(parse_model_config(j, "x")->num_key_value_heads, 4);
}

TEST(ModelConfig, WrongTypesAndMissingFieldsNameTheField) {
  json j = base_config();
  j["hidden_size"] = "64";
  expect_field_error(j, "hidden_size", StatusCode::invalid_argument);
  j = base_config();
  j.erase("num_attention_heads");
  expect_field_error(j, "num_attention_heads", StatusCode::invalid_argument);
  j = base_config();
  j["num_key_value_heads"] = 3;
  expect_field_error(j, "num_key_value_heads", StatusCode::invalid_argument);
  j = base_config();
  j["tie_word_embeddings"] = 1;
  expect_field_error(j, "tie_word_embeddings", StatusCode::invalid_argument);
  j = base_config();
  j["rope_theta"] = "big";
  expect_field_error(j, "rope_theta", StatusCode::invalid_argument);
  j = base_config();
  j["eos_token_id"] = json::array({1, "two"});
  expect_field_error(j, "eos_token_id", StatusCode::invalid_argument);
  j = base_config();
  j["num_hidden_layers"] = 2.5;
  expect_field_error(j, "num_hidden_layers", StatusCode::invalid_argument);
  j = base_config();
  j["architectures"] = "LlamaForCausalLM";
  expect_field_error(j, "architectures", StatusCode::invalid_argument);
  j = base_config();
  j["hidden_size"] = 66;  // not divisible by 4 heads, no head_dim
  expect_field_error(j, "hidden_size", StatusCode::invalid_argument);
  expect_field_error(json::array(), "", StatusCode::invalid_argument);
}

TEST(ModelConfig, RopeScalingVariants) {
  json j = base_config();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  auto c = parse_model_config(j, "x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->rope_scaling.type, RopeType::linear);
  EXPECT_EQ(c->rope_scaling.factor, 2.0);
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 4}};
  EXPECT_EQ(parse_model_config(j, "x")->rope_scaling.type, RopeType::dynamic);
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse_model_config(j, "x")->rope_scaling.type, RopeType::none);

  j["rope_scaling"] = {{"rope_type", "ntk-by-parts-2"}, {"factor", 2.0}};
  expect_field_error(j, "ntk-by-parts-2", StatusCode::unimplemented);
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};  // no original_max
  expect_field_error(j, "original_max_position_embeddings", StatusCode::invalid_argument);
  j["rope_scaling"] = {{"rope_type", "linear"}};
  expect_field_error(j, "factor", StatusCode::invalid_argument);
  j["rope_scaling"] = {{"factor", 2.0}};
  expect_field_error(j, "rope_type", StatusCode::invalid_argument);
  j["rope_scaling"] = 3;
  expect_field_error(j, "rope_scaling", StatusCode::invalid_argument);
}

TEST(ModelConfig, BiasFlagsAndSlidingWindow) {
  json j = base_config();
  j["attention_bias"] = true;
  j["bias"] = true;
  j["sliding_window"] = 6;
  j["use_sliding_window"] = true;
  j["partial_rotary_factor"] = 0.5;
  j["layer_norm_epsilon"] = 1e-3;
  j.erase("rms_norm_eps");
  auto c = parse_model_config(j, "x");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->bias, true);
  EXPECT_EQ(c->sliding_window, 6);
  EXPECT_EQ(c->use_sliding_window, true);
  EXPECT_EQ(c->partial_rotary_factor, 0.5);
  EXPECT_EQ(c->norm_eps, 1e-3);
}

TEST(ModelConfig, UnknownArchitectureListsSupported) {
  json j = base_config();
  j["architectures"] = {"FancyNetForCausalLM"};
  auto c = parse_model_config(j, "/m/config.json");
  ASSERT_TRUE(c.ok());
  auto a = models::resolve_architecture(*c);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::unimplemented);
  for (const char* s : {"FancyNetForCausalLM", "LlamaForCausalLM", "MistralForCausalLM",
                        "Qwen2ForCausalLM", "InternLMForCausalLM"})
    EXPECT_NE(a.status().message().find(s), std::string::npos) << a.status().message();
}

TEST(ModelConfig, FileErrors) {
  auto missing = load_model_config("/nonexistent/config.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
  const auto tmp =
      std::filesystem::temp_directory_path() / ("llm_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  loader::testing::write_file(tmp / "config.json", "{ not json");
  auto bad = load_model_config((tmp / "config.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("config.json"), std::string::npos);
  std::filesystem::remove_all(tmp);
}

TEST(GenerationConfig, ParsesFieldsAndIsOptional) {
  auto g = parse_generation_config(
      json::parse(R"({"temperature": 0.7, "top_p": 0.9, "top_k": 20, "do_sample": true,
                      "repetition_penalty": 1.1, "max_new_tokens": 256, "eos_token_id": [1, 2]})"),
      "g.json");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->temperature, 0.7);
  EXPECT_EQ(g->top_p, 0.9);
  EXPECT_EQ(g->top_k, 20);
  EXPECT_EQ(g->do_sample, true);
  EXPECT_EQ(g->repetition_penalty, 1.1);
  EXPECT_EQ(g->max_new_tokens, 256);
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{1, 2}));

  auto bad = parse_generation_config(json::parse(R"({"top_k": "many"})"), "g.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("top_k"), std::string::npos);

  auto real = load_generation_defaults(kConfigs + "/llama2-7b");
  ASSERT_TRUE(real.ok()) << real.status().to_string();
  EXPECT_EQ(real->eos_token_ids, (std::vector<int64_t>{2}));
  auto absent = load_generation_defaults(kConfigs + "/qwen2-0.5b");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->temperature.has_value());
}

}  // namespace
