// The real config.json of ChatGLM2-6B / ChatGLM3-6B (shared test data) parses, resolves to the
// ChatGLM family, and its tensor table (names + shapes from config alone, nothing allocated)
// counts the published parameter number: THUDM/chatglm2-6b's pytorch_model.bin.index.json
// says total_size 12487168064 bytes of f16 = 6,243,584,032 values, of which 32 are the
// transformer.rotary_pos_emb.inv_freq buffer (not a parameter; the table skips it):
// 6,243,584,000 parameters. ChatGLM3-6B has the same shapes (the shared copy of its config has
// num_layers reduced to 1 by its source; restoring the real 28 gives the same count).
#include <map>

#include <gtest/gtest.h>

#include "models/families.h"
#include "models/loader/model_config.h"
#include "models/model.h"

using namespace lightllm;

namespace {

const std::string kConfigs = std::string(LIGHTLLM_SHARED_TESTDATA) + "/configs/";
constexpr int64_t kChatGlm6bParams = 6'243'584'000;

loader::ModelConfig parse(const std::string& path, int64_t num_layers = 0) {
  auto j = loader::read_json_file(path);
  EXPECT_TRUE(j.ok()) << j.status().to_string();
  if (num_layers > 0) (*j)["num_layers"] = num_layers;
  auto c = loader::parse_model_config(*j, path);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return *c;
}

TEST(FamilyConfig, ChatGlm2_6bParameterCountIsPublishedSize) {
  const auto cfg = parse(kConfigs + "chatglm2-6b/config.json");
  auto arch = models::resolve_architecture(cfg);
  ASSERT_TRUE(arch.ok()) << arch.status().to_string();
  EXPECT_EQ(*arch, "ChatGLMModel");
  auto n = models::parameter_count(cfg);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(*n, kChatGlm6bParams);
}

TEST(FamilyConfig, ChatGlm2_6bTensorTableHasTrueShapes) {
  const auto cfg = parse(kConfigs + "chatglm2-6b/config.json");
  auto table = models::tensor_table(cfg);
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : *table) shapes[t.name] = t.shape.to_vector();
  EXPECT_EQ(shapes.size(), 3u + 28u * 7u);  // 7 tensors per layer: 2 norms, qkv w+b, dense, 2 mlp
  const std::string l27 = "transformer.encoder.layers.27.";
  EXPECT_EQ(shapes["transformer.embedding.word_embeddings.weight"],
            (std::vector<int64_t>{65024, 4096}));
  // 32 query heads + 2 groups of k and v, kv_channels 128: 4096 + 2 * 2 * 128 = 4608 rows.
  EXPECT_EQ(shapes[l27 + "self_attention.query_key_value.weight"],
            (std::vector<int64_t>{4608, 4096}));
  EXPECT_EQ(shapes[l27 + "self_attention.query_key_value.bias"], (std::vector<int64_t>{4608}));
  EXPECT_EQ(shapes[l27 + "mlp.dense_h_to_4h.weight"], (std::vector<int64_t>{27392, 4096}));
  EXPECT_EQ(shapes[l27 + "mlp.dense_4h_to_h.weight"], (std::vector<int64_t>{4096, 13696}));
  EXPECT_EQ(shapes.count(l27 + "self_attention.dense.bias"), 0u);  // add_bias_linear false
}

TEST(FamilyConfig, ChatGlm3_6bParameterCount) {
  const std::string path = kConfigs + "chatglm3-6b/config.1layer.json";
  auto one = models::parameter_count(parse(path));
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  // embedding + output layer + final norm + one layer of 203,960,832.
  EXPECT_EQ(*one, 2 * 65024 * 4096 + 4096 + 203'960'832);
  auto full = models::parameter_count(parse(path, 28));
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  EXPECT_EQ(*full, kChatGlm6bParams);
}

TEST(FamilyConfig, ChatGlmUnsupportedOptionsFailLoudly) {
  auto j = loader::read_json_file(kConfigs + "chatglm2-6b/config.json");
  ASSERT_TRUE(j.ok());
  (*j)["rmsnorm"] = false;
  auto cfg = loader::parse_model_config(*j, "chatglm2-6b/config.json");
  ASSERT_TRUE(cfg.ok());
  auto n = models::parameter_count(*cfg);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().to_string().find("rmsnorm"), std::string::npos) << n.status().to_string();
}

TEST(FamilyConfig, LlamaFamilyHasNoTensorTableYet) {
  auto n = models::parameter_count(parse(kConfigs + "llama2-7b/config.json"));
  EXPECT_FALSE(n.ok());
}

}  // namespace
