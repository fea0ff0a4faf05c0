// Model::step_weight_bytes, the weight bytes a forward step reads (the decode benchmarks divide
// it by the step time): every weight once, except the rows of a look-up-only table (an
// embedding not shared with the lm_head, learned positions) that no token of the step looks up.
// The expectations come from each golden model's config.json (tests/data/models), not from the
// model code: tied or not, vocab, hidden size, learned positions, element size.
#include <gtest/gtest.h>

#include "models/loader/model_config.h"
#include "models/model.h"

using namespace lightllm;

namespace {

struct Case {
  const char* model;
  bool embedding_read_whole;  // tied to the lm_head, so the lm_head reads the whole table
  bool learned_positions;     // a [n_positions, hidden] table looked up by position
};

// llama: untied; qwen2: tied; minicpm: tied, but the embedding is a scaled copy that only the
// look-up reads; starcoder-mha: untied, with learned positions; bloom: tied (HF default).
const Case kCases[] = {
    {"llama-f32", false, false},   {"llama-bf16", false, false},       {"qwen2-f32", true, false},
    {"minicpm-f32", false, false}, {"starcoder-mha-f32", false, true}, {"bloom-f32", true, false},
};

std::string dir_of(const char* model) {
  return std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/" + model;
}

TEST(StepWeightBytes, LeaveOutTheEmbeddingRowsNoTokenLooksUp) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.model);
    auto cfg = loader::read_json_file(dir_of(c.model) + "/config.json");
    ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
    const int64_t vocab = (*cfg)["vocab_size"].get<int64_t>();
    const int64_t hidden = (*cfg)[cfg->contains("hidden_size") ? "hidden_size" : "n_embd"];
    // f32 checkpoints keep f32 tables on the CPU; bf16 ones keep bf16.
    const int64_t row_bytes = hidden * (std::string(c.model).ends_with("-bf16") ? 2 : 4);
    const int64_t positions = c.learned_positions ? (*cfg)["n_positions"].get<int64_t>() : 0;

    auto model = models::load_model(dir_of(c.model), core::Device::cpu);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const int64_t all = (*model)->weight_bytes();
    auto unread = [&](int64_t tokens) { return all - (*model)->step_weight_bytes(tokens); };
    const int64_t tables_looked_up = (c.embedding_read_whole ? 0 : 1) + (positions > 0 ? 1 : 0);

    EXPECT_EQ(unread(1), (c.embedding_read_whole ? 0 : (vocab - 1) * row_bytes) +
                             (positions > 0 ? (positions - 1) * row_bytes : 0));
    EXPECT_EQ(unread(1) - unread(3), 2 * tables_looked_up * row_bytes);
    // A step of more tokens than any table has rows reads every weight.
    EXPECT_EQ(unread(std::max(vocab, positions)), 0);
  }
}

}  // namespace
