// The model that ships in models/ (trained by tools/train_default_model): our engine
// reproduces what PyTorch recorded at training time in reference.json —
//  - held-out perplexity within 1% (per-window NLL too), bf16 weights, f32 compute;
//  - the 32-token greedy continuation of the fixed prompt, through the whole Engine (tokenizer
//    pool → router → runner → detokenizer), text included.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine_harness.h"
#include "lightllm/engine.h"
#include "models/perplexity.h"

using namespace lightllm;

namespace {

const std::string& kModel = test_util::kBundledModel;

nlohmann::json reference() {
  std::ifstream f(kModel + "/reference.json");
  return nlohmann::json::parse(f);
}

// heldout.bin: uint16 little-endian token ids.
std::vector<int32_t> heldout_tokens() {
  std::ifstream f(kModel + "/heldout.bin", std::ios::binary);
  const std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), {});
  std::vector<int32_t> ids(b.size() / 2);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = b[2 * i] | (b[2 * i + 1] << 8);
  return ids;
}

TEST(BundledModel, HeldOutPerplexityMatchesPyTorchWithinOnePercent) {
  const auto ref = reference()["heldout"];
  const auto tokens = heldout_tokens();
  const int64_t window = ref["window"].get<int64_t>();
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), ref["n_tokens"].get<int64_t>());
  auto model = models::load_model(kModel);
  ASSERT_TRUE(model.ok()) << model.status().to_string();

  // Every 4th window keeps the test quick; `lightllm perplexity` runs all 32.
  double ours = 0, theirs = 0;
  int n = 0;
  for (size_t w = 0; w < ref["per_window_nll"].size(); w += 4, ++n) {
    std::span<const int32_t> win(tokens.data() + w * static_cast<size_t>(window),
                                 static_cast<size_t>(window));
    auto r = models::sequence_nll(**model, win);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const double want = ref["per_window_nll"][w].get<double>();
    EXPECT_NEAR(r->mean(), want, 0.01 * want) << "window " << w;
    ours += r->mean();
    theirs += want;
  }
  const double ppl_ours = std::exp(ours / n), ppl_ref = std::exp(theirs / n);
  EXPECT_NEAR(ppl_ours, ppl_ref, 0.01 * ppl_ref);
  RecordProperty("ppl_ours", std::to_string(ppl_ours));
  RecordProperty("ppl_pytorch", std::to_string(ppl_ref));
}

TEST(BundledModel, EngineGreedyContinuationEqualsPyTorch) {
  const auto ref = reference()["greedy"];
  EngineConfig cfg;
  cfg.model_dir = kModel;
  cfg.max_total_token_num = 4096;
  std::string error;
  auto engine = Engine::create(cfg, &error);
  ASSERT_NE(engine, nullptr) << error;

  GenerateRequest req;
  req.prompt = ref["prompt"].get<std::string>();
  req.params.max_new_tokens = static_cast<int>(ref["output_ids"].size());
  req.params.ignore_eos = true;
  const test_util::Completion got = test_util::run_batch(*engine, {req}).at(0);
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(engine->tokenize(req.prompt, true), ref["prompt_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(got.ids, ref["output_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(got.text, ref["output_text"].get<std::string>());
}

}  // namespace
