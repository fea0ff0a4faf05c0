// stories260K (karpathy's trained 260K-parameter Llama, converted to an HF folder by
// tools/convert_llama2c.py): 256 greedy steps equal llama2.c's reference ids, and the first
// four positions' logits match within 1e-4.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/direct_runner.h"

using namespace lightllm;

namespace {
nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}
}  // namespace

TEST(Stories260K, GreedyIdsAndLogitsMatchLlama2c) {
  const auto ref = read_json(std::string(LIGHTLLM_SHARED_TESTDATA) +
                             "/vectors/stories260K/greedy_ids_and_logits.json");
  const std::vector<int32_t> ids = ref["ids"].get<std::vector<int32_t>>();
  auto model = models::load_model(STORIES260K_DIR);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const int64_t vocab = (*model)->shape().vocab;
  ASSERT_EQ(vocab, 512);

  test_util::DirectRunner runner(**model, /*capacity=*/512, /*max_reqs=*/1, /*shuffle=*/true);
  std::vector<int32_t> generated = {ids[0]};
  for (size_t p = 0; p + 1 < ids.size(); ++p) {
    auto logits = runner.step({{generated.back()}}, false);
    ASSERT_TRUE(logits.ok()) << logits.status().to_string();
    const float* row = logits->data<float>();
    if (p < 4) {
      const auto expect = ref["logits_first4"][p].get<std::vector<float>>();
      for (int64_t v = 0; v < vocab; ++v) {
        const float e = expect[static_cast<size_t>(v)];
        ASSERT_NEAR(row[v], e, 1e-4 * std::max(1.0f, std::abs(e)))
            << "position " << p << " token " << v;
      }
    }
    generated.push_back(test_util::DirectRunner::argmax(row, vocab));
  }
  EXPECT_EQ(generated, ids);
}

TEST(Stories260K, FlatPrefillEqualsStepByStep) {
  const auto ref = read_json(std::string(LIGHTLLM_SHARED_TESTDATA) +
                             "/vectors/stories260K/greedy_ids_and_logits.json");
  std::vector<int32_t> ids = ref["ids"].get<std::vector<int32_t>>();
  ids.resize(40);
  auto model = models::load_model(STORIES260K_DIR);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const int64_t vocab = (*model)->shape().vocab;
  // The whole prefix in one prefill step: the argmax at every position is the next id.
  test_util::DirectRunner runner(**model, 512, 1, false);
  auto logits = runner.step({ids}, /*all_logits=*/true);
  ASSERT_TRUE(logits.ok()) << logits.status().to_string();
  for (size_t p = 0; p + 1 < ids.size(); ++p)
    EXPECT_EQ(test_util::DirectRunner::argmax(logits->data<float>() + p * vocab, vocab), ids[p + 1])
        << "position " << p;
}
