// tests/loader/golden_models_test.cpp — every tiny model in tests/data/models (written by
// tools/goldens/make_goldens.py with transformers) opens with the loader: config parses,
// architecture is supported, and each Llama-style tensor has the shape the config implies;
// for families with a tensor table (models::parameter_count) the file holds exactly as many
// parameters as the table, all in the folder's dtype.
#include <filesystem>

#include <gtest/gtest.h>

#include "models/loader/weight_store.h"
#include "models/model.h"

using namespace lightllm;
using namespace lightllm::loader;

namespace {

const std::string kModels = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models";

TEST(GoldenModels, OpenAndMatchConfigShapes) {
  ASSERT_TRUE(std::filesystem::is_directory(kModels)) << kModels;
  int n = 0;
  for (const auto& d : std::filesystem::directory_iterator(kModels)) {
    SCOPED_TRACE(d.path().string());
    auto m = open_model_folder(d.path().string());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    ++n;
    const ModelConfig& c = m->config;
    ASSERT_TRUE(models::resolve_architecture(c).ok());
    const bool bf16 = d.path().filename().string().find("-bf16") != std::string::npos;
    const core::DType want_dtype = bf16 ? core::DType::bf16 : core::DType::f32;
    EXPECT_EQ(c.dtype, want_dtype);
    if (auto table_count = models::parameter_count(c); table_count.ok()) {
      int64_t stored = 0;
      for (const std::string& name : m->weights.names()) {
        // ChatGLM checkpoints also save RotaryEmbedding's inv_freq buffer (not a parameter).
        if (name.ends_with("rotary_pos_emb.inv_freq")) continue;
        auto t = m->weights.get_any(name);
        ASSERT_TRUE(t.ok()) << t.status().to_string();
        EXPECT_EQ(t->dtype(), want_dtype) << name;
        stored += t->numel();
      }
      EXPECT_EQ(stored, *table_count) << "tensors beyond the family's table";
      continue;
    }
    const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                  kv = c.num_key_value_heads * c.head_dim, ff = c.intermediate_size;
    // q/k/v bias: Llama/Mistral attention_bias, InternLM bias, Qwen2 always.
    const bool qkv_bias =
        c.attention_bias || c.bias.value_or(false) || c.architecture == "Qwen2ForCausalLM";
    const bool o_bias = c.attention_bias || c.bias.value_or(false);
    std::vector<std::pair<std::string, core::Shape>> want = {
        {"model.embed_tokens.weight", {c.vocab_size, h}}, {"model.norm.weight", {h}}};
    if (!c.tie_word_embeddings) want.push_back({"lm_head.weight", {c.vocab_size, h}});
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      want.push_back({p + "input_layernorm.weight", {h}});
      want.push_back({p + "post_attention_layernorm.weight", {h}});
      want.push_back({p + "self_attn.q_proj.weight", {q, h}});
      want.push_back({p + "self_attn.k_proj.weight", {kv, h}});
      want.push_back({p + "self_attn.v_proj.weight", {kv, h}});
      want.push_back({p + "self_attn.o_proj.weight", {h, q}});
      want.push_back({p + "mlp.gate_proj.weight", {ff, h}});
      want.push_back({p + "mlp.up_proj.weight", {ff, h}});
      want.push_back({p + "mlp.down_proj.weight", {h, ff}});
      if (qkv_bias) {
        want.push_back({p + "self_attn.q_proj.bias", {q}});
        want.push_back({p + "self_attn.k_proj.bias", {kv}});
        want.push_back({p + "self_attn.v_proj.bias", {kv}});
      }
      if (o_bias) want.push_back({p + "self_attn.o_proj.bias", {h}});
    }
    for (const auto& [name, shape] : want) {
      auto t = m->weights.get(name, shape);
      ASSERT_TRUE(t.ok()) << t.status().to_string();
      EXPECT_EQ(t->dtype(), want_dtype) << name;
    }
    EXPECT_EQ(m->weights.names().size(), want.size()) << "unexpected extra tensors";
  }
  EXPECT_GE(n, 14);
}

}  // namespace
