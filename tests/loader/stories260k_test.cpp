// tests/loader/stories260k_test.cpp — tools/convert_llama2c.py output loads with the loader.
// The converter runs at test time (standard-library Python) on the shared stories260K.bin
// and writes into the build folder; its numerical correctness against llama2.c is checked
// by tools/check_stories260k.py (transformers) and, later, by the C++ forward tests.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "models/loader/weight_store.h"
#include "models/model.h"

using namespace lightllm;
using namespace lightllm::loader;

namespace {

TEST(Stories260K, ConvertedFolderLoads) {
  const std::string out = std::string(LIGHTLLM_TEST_BINARY_DIR) + "/stories260K-hf";
  const std::string cmd = std::string(LIGHTLLM_PYTHON) + " " + LIGHTLLM_SOURCE_DIR +
                          "/tools/convert_llama2c.py " + LIGHTLLM_SHARED_TESTDATA +
                          "/weights/stories260K/stories260K.bin " + out + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto m = open_model_folder(out);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const ModelConfig& c = m->config;
  // The llama2.c header of stories260K (PROVENANCE.md): dim 64, hidden 172, 5 layers,
  // 8 heads, 4 kv heads, vocab 512, seq_len 512; shared classifier.
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_TRUE(models::resolve_architecture(c).ok());
  EXPECT_FALSE(m->weights.contains("lm_head.weight"));
  EXPECT_TRUE(m->weights.get("model.embed_tokens.weight", {512, 64}).ok());
  EXPECT_TRUE(m->weights.get("model.layers.4.self_attn.k_proj.weight", {32, 64}).ok());
  EXPECT_TRUE(m->weights.get("model.layers.4.mlp.down_proj.weight", {64, 172}).ok());
  // 9 tensors per layer + embeddings + final norm.
  EXPECT_EQ(m->weights.names().size(), 5u * 9 + 2);
  // All f32 parameters of the .bin except the RoPE tables (28-byte header, 2 * 512 * 4 floats).
  const auto bin_bytes = std::filesystem::file_size(std::string(LIGHTLLM_SHARED_TESTDATA) +
                                                    "/weights/stories260K/stories260K.bin");
  EXPECT_EQ(static_cast<uint64_t>(m->weights.total_bytes()), bin_bytes - 28 - 2 * 512 * 4 * 4);
}

}  // namespace
