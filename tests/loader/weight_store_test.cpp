// tests/loader/weight_store_test.cpp — model folders: single file, sharded index, several
// files without an index, and every folder-level error (missing shard, missing tensor,
// wrong shape/dtype, empty folder).
#include <gtest/gtest.h>

#include "loader/st_writer.h"
#include "models/loader/weight_store.h"

using namespace lightllm;
using namespace lightllm::loader;
using namespace lightllm::loader::testing;
using core::StatusCode;

namespace {

std::vector<float> iota(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

bool mentions(const core::Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

class WeightStoreTest : public TempDirTest {
 protected:
  void write_single() {
    write_file(
        path("model.safetensors"),
        st_file({{"embed.weight", "F32", {4, 2}, to_bytes(iota(8, 0.0f))},
                 {"norm.weight", "BF16", {2}, to_bytes(std::vector<uint16_t>{0x3F80, 0x4000})},
                 {"step", "I64", {1}, to_bytes(std::vector<int64_t>{42})}}));
  }
  void write_shards(const std::string& index_json) {
    write_file(path("model-00001-of-00002.safetensors"),
               st_file({{"a.weight", "F32", {2, 2}, to_bytes(iota(4, 10.0f))}}));
    write_file(path("model-00002-of-00002.safetensors"),
               st_file({{"b.weight", "F16", {2}, to_bytes(std::vector<uint16_t>{0x3C00, 0x3800})},
                        {"c.weight", "F32", {1}, to_bytes(iota(1, 5.0f))}}));
    write_file(path("model.safetensors.index.json"), index_json);
  }
  std::string dir() const { return dir_.string(); }
};

const char* kGoodIndex = R"({"metadata": {"total_size": 26}, "weight_map": {
  "a.weight": "model-00001-of-00002.safetensors",
  "b.weight": "model-00002-of-00002.safetensors",
  "c.weight": "model-00002-of-00002.safetensors"}})";

TEST_F(WeightStoreTest, SingleFileGetChecksShapeAndDtype) {
  write_single();
  auto ws = WeightStore::open(dir());
  ASSERT_TRUE(ws.ok()) << ws.status().to_string();
  EXPECT_EQ(ws->names(), (std::vector<std::string>{"embed.weight", "norm.weight", "step"}));
  EXPECT_EQ(ws->total_bytes(), 32 + 4 + 8);
  EXPECT_TRUE(ws->contains("norm.weight"));
  EXPECT_FALSE(ws->contains("lm_head.weight"));

  auto e = ws->get("embed.weight", {4, 2});
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->data<float>()[7], 7.0f);
  auto n = ws->get("norm.weight", {2});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(core::bf16_to_f32(n->data<core::bf16>()[1]), 2.0f);

  auto bad_shape = ws->get("embed.weight", {2, 4});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_EQ(bad_shape.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(mentions(bad_shape.status(), "'embed.weight'"));
  EXPECT_TRUE(mentions(bad_shape.status(), path("model.safetensors")));
  EXPECT_TRUE(mentions(bad_shape.status(), "[4, 2]"));
  EXPECT_TRUE(mentions(bad_shape.status(), "[2, 4]"));

  auto bad_dtype = ws->get("step", {1});
  ASSERT_FALSE(bad_dtype.ok());
  EXPECT_EQ(bad_dtype.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(mentions(bad_dtype.status(), "'step'"));
  EXPECT_TRUE(mentions(bad_dtype.status(), "I64"));
  auto any = ws->get_any("step");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->data<int64_t>()[0], 42);

  auto missing = ws->get("lm_head.weight", {4, 2});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
  EXPECT_TRUE(mentions(missing.status(), "'lm_head.weight'"));
  EXPECT_TRUE(mentions(missing.status(), dir()));
}

TEST_F(WeightStoreTest, TensorsOutliveTheStore) {
  write_single();
  core::Tensor t;
  {
    auto ws = WeightStore::open(dir());
    ASSERT_TRUE(ws.ok());
    auto r = ws->get("embed.weight", {4, 2});
    ASSERT_TRUE(r.ok());
    t = *r;
  }
  EXPECT_EQ(t.data<float>()[3], 3.0f);
}

TEST_F(WeightStoreTest, ShardedIndex) {
  write_shards(kGoodIndex);
  auto ws = WeightStore::open(dir());
  ASSERT_TRUE(ws.ok()) << ws.status().to_string();
  EXPECT_EQ(ws->names().size(), 3u);
  auto a = ws->get("a.weight", {2, 2});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->data<float>()[3], 13.0f);
  auto b = ws->get("b.weight", {2});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(core::f16_to_f32(b->data<core::f16>()[1]), 0.5f);
  auto c = ws->get("c.weight", {1});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data<float>()[0], 5.0f);
  EXPECT_EQ(ws->file_of("b.weight"), path("model-00002-of-00002.safetensors"));
  EXPECT_EQ(ws->file_of("c.weight"), ws->file_of("b.weight"));
  EXPECT_EQ(ws->total_bytes(), 16 + 4 + 4);
}

TEST_F(WeightStoreTest, IndexPointingToMissingShard) {
  write_shards(R"({"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                  "z.weight": "model-00003-of-00002.safetensors"}})");
  auto ws = WeightStore::open(dir());
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), StatusCode::not_found);
  EXPECT_TRUE(mentions(ws.status(), "model-00003-of-00002.safetensors"));
  EXPECT_TRUE(mentions(ws.status(), "'z.weight'"));
}

TEST_F(WeightStoreTest, IndexListingATensorTheShardLacks) {
  write_shards(R"({"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                  "b.weight": "model-00001-of-00002.safetensors"}})");
  auto ws = WeightStore::open(dir());
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), StatusCode::not_found);
  EXPECT_TRUE(mentions(ws.status(), "'b.weight'"));
  EXPECT_TRUE(mentions(ws.status(), "model-00001-of-00002.safetensors"));
}

TEST_F(WeightStoreTest, MalformedIndex) {
  for (const char* bad :
       {"{", "[]", R"({"weight_map": 3})", R"({"weight_map": {"a": 1}})",
        R"({"weight_map": {"a": "../../etc/passwd"}})",
        R"({"weight_map": {"a": "/abs.safetensors"}})", R"({"weight_map": {}})"}) {
    write_shards(bad);
    auto ws = WeightStore::open(dir());
    ASSERT_FALSE(ws.ok()) << bad;
    EXPECT_TRUE(ws.status().code() == StatusCode::data_loss ||
                ws.status().code() == StatusCode::not_found)
        << ws.status().to_string();
    EXPECT_TRUE(mentions(ws.status(), "model.safetensors.index.json")) << ws.status().message();
  }
}

TEST_F(WeightStoreTest, BrokenShardIsReportedWithItsPath) {
  write_shards(kGoodIndex);
  write_file(path("model-00002-of-00002.safetensors"), "short");
  auto ws = WeightStore::open(dir());
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), StatusCode::data_loss);
  EXPECT_TRUE(mentions(ws.status(), "model-00002-of-00002.safetensors"));
}

TEST_F(WeightStoreTest, SeveralFilesWithoutIndex) {
  write_file(path("part-b.safetensors"), st_file({{"b", "F32", {1}, to_bytes(iota(1, 2.0f))}}));
  write_file(path("part-a.safetensors"), st_file({{"a", "F32", {1}, to_bytes(iota(1, 1.0f))}}));
  auto ws = WeightStore::open(dir());
  ASSERT_TRUE(ws.ok()) << ws.status().to_string();
  EXPECT_EQ(ws->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ws->get("b", {1})->data<float>()[0], 2.0f);

  write_file(path("part-c.safetensors"), st_file({{"a", "F32", {1}, to_bytes(iota(1, 9.0f))}}));
  auto dup = WeightStore::open(dir());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::data_loss);
  EXPECT_TRUE(mentions(dup.status(), "'a'"));
}

TEST_F(WeightStoreTest, EmptyOrMissingFolder) {
  auto empty = WeightStore::open(dir());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::not_found);
  EXPECT_TRUE(mentions(empty.status(), dir()));

  auto none = WeightStore::open(path("does-not-exist"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::not_found);

  auto folder = open_model_folder(dir());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().code(), StatusCode::not_found);
  EXPECT_TRUE(mentions(folder.status(), "config.json"));

  write_file(path("pytorch_model.bin"), "not safetensors");
  auto bin = WeightStore::open(dir());
  ASSERT_FALSE(bin.ok());
  EXPECT_EQ(bin.status().code(), StatusCode::unimplemented);
}

TEST_F(WeightStoreTest, OpenModelFolderReadsConfigGenerationAndWeights) {
  write_single();
  write_file(path("config.json"), R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 2, "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 4})");
  write_file(path("generation_config.json"), R"({"temperature": 0.6, "eos_token_id": [2, 7]})");
  auto m = open_model_folder(dir());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(m->generation.temperature, 0.6);
  EXPECT_EQ(m->generation.eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_TRUE(m->weights.contains("embed.weight"));
}

}  // namespace
