// Every golden model from tools/goldens (tiny random-weight HF models: Llama and its RoPE
// scalings, Mistral's sliding window, Qwen2, InternLM, BLOOM, StarCoder, Phi-3 (+ longrope),
// StableLM, Cohere; f32 and bf16) against transformers:
//  - logits at every position of four prompts run together as ONE flat padding-free batch;
//  - the hidden state after every layer (a divergence names the first layer that differs);
//  - 32-token greedy continuations of all prompts decoded together, KV slots in random order.
// f32 must match to 1e-4 relative (greedy exactly). bf16 checkpoints: HF computes every op in
// bf16 while our CPU backend keeps activations in f32 (bf16 weights, f32 accumulation), so
// logits agree to kBf16LogitTol of the row's scale, and greedy ids are compared up to the
// first step whose reference top-2 margin is within that tolerance (a near-tie).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/direct_runner.h"
#include "ops/ops.h"

using namespace lightllm;
namespace fs = std::filesystem;

namespace {

constexpr double kF32LogitTol = 1e-4;   // relative to max(1, |logit|)
constexpr double kBf16LogitTol = 0.08;  // relative to the row's largest |logit|

struct Golden {
  std::string dir;
  nlohmann::json json;
  bool bf16() const { return json["dtype"] == "bf16"; }
};

std::vector<std::string> golden_dirs() {
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(std::string(LIGHTLLM_TEST_DATA_DIR) + "/models"))
    if (fs::exists(e.path() / "golden.json")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

Golden load_golden(const std::string& dir) {
  std::ifstream f(dir + "/golden.json");
  return {dir, nlohmann::json::parse(f)};
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

// Largest |a - b| over a row, scaled as the dtype's tolerance is defined.
double row_error(const float* got, const nlohmann::json& want, bool bf16) {
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::abs(want[i].get<double>()));
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i].get<double>();
    const double err = std::abs(got[i] - w) / (bf16 ? scale : std::max(1.0, std::abs(w)));
    worst = std::max(worst, err);
  }
  return worst;
}

class GoldenModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenModel, FlatBatchLogitsAndLayersMatchTransformers) {
  const Golden g = load_golden(GetParam());
  auto model = models::load_model(g.dir);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const int64_t vocab = (*model)->shape().vocab, hidden = (*model)->shape().hidden;
  const double tol = g.bf16() ? kBf16LogitTol : kF32LogitTol;

  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : g.json["prompts"])
    prompts.push_back(p["input_ids"].get<std::vector<int32_t>>());

  // Per-layer hidden states of the first prompt (rows [0, len) of the flat batch).
  const auto& ref_hidden = g.json["prompts"][g.json["hidden_prompt_index"].get<size_t>()]["hidden"];
  int first_bad_layer = -1;
  double first_bad_err = 0;
  auto observer = [&](int layer, const core::Tensor& h) {
    if (first_bad_layer >= 0) return;
    const auto& want = ref_hidden["layer_outputs"][static_cast<size_t>(layer)];
    for (size_t t = 0; t < want.size(); ++t) {
      const double err = row_error(h.data<float>() + t * hidden, want[t], g.bf16());
      if (err > tol) {
        first_bad_layer = layer;
        first_bad_err = err;
        return;
      }
    }
  };

  test_util::DirectRunner runner(**model, 256, static_cast<int>(prompts.size()), /*shuffle=*/true);
  auto logits = runner.step(prompts, /*all_logits=*/true, observer);
  ASSERT_TRUE(logits.ok()) << logits.status().to_string();
  EXPECT_EQ(first_bad_layer, -1) << "first diverging layer: " << first_bad_layer << " (error "
                                 << first_bad_err << ")";

  int64_t row = 0;
  double worst = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto& want = g.json["prompts"][p]["logits"];
    for (size_t t = 0; t < want.size(); ++t, ++row) {
      const double err = row_error(logits->data<float>() + row * vocab, want[t], g.bf16());
      worst = std::max(worst, err);
      EXPECT_LE(err, tol) << "prompt " << p << " position " << t;
    }
  }
  RecordProperty("max_logit_error", std::to_string(worst));
}

TEST_P(GoldenModel, BatchedGreedyContinuationsMatchTransformers) {
  const Golden g = load_golden(GetParam());
  auto model = models::load_model(g.dir);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : g.json["prompts"])
    prompts.push_back(p["input_ids"].get<std::vector<int32_t>>());
  const int n_new = g.json["greedy_new_tokens"].get<int>();

  test_util::DirectRunner runner(**model, 512, static_cast<int>(prompts.size()), /*shuffle=*/true);
  auto out = runner.greedy(prompts, n_new);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto want = g.json["prompts"][p]["greedy"].get<std::vector<int32_t>>();
    const auto margins = g.json["prompts"][p]["greedy_margins"].get<std::vector<double>>();
    size_t n_compare = want.size();
    if (g.bf16()) {  // stop before the first near-tie of the bf16 reference
      for (size_t i = 0; i < margins.size(); ++i)
        if (margins[i] < 0.05) {
          n_compare = i;
          break;
        }
    }
    const std::vector<int32_t> got((*out)[p].begin(),
                                   (*out)[p].begin() + static_cast<long>(n_compare));
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + static_cast<long>(n_compare)))
        << "prompt " << p << " (compared " << n_compare << " of " << want.size() << " steps)";
  }
}

// Every family has a CUDA path (Model::to_device). Without the CUDA backend, or without a GPU,
// placing the model there is a clear error naming the model folder, never a crash; with a GPU
// the weights land there in a 16-bit activation dtype (the numbers are checked by the `cuda`
// tests in tests/cuda/model_cuda_test.cpp).
TEST_P(GoldenModel, PlacingOnCudaWorksOrFailsClearly) {
  auto model = models::load_model(GetParam(), core::Device::cuda);
  int64_t free_bytes = 0, total_bytes = 0;
  if (!ops::cuda_built()) {
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), core::StatusCode::unimplemented);
    EXPECT_NE(model.status().message().find("CUDA backend not built"), std::string::npos)
        << model.status().to_string();
    EXPECT_NE(model.status().message().find(GetParam()), std::string::npos)
        << model.status().to_string();
  } else if (!ops::cuda_mem_info(&free_bytes, &total_bytes).ok()) {  // built, no usable GPU
    ASSERT_FALSE(model.ok());
    EXPECT_NE(model.status().message().find(GetParam()), std::string::npos)
        << model.status().to_string();
  } else {
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    EXPECT_EQ((*model)->device(), core::Device::cuda);
    const core::DType act = (*model)->activation_dtype();
    EXPECT_TRUE(act == core::DType::bf16 || act == core::DType::f16);
    EXPECT_GT((*model)->weight_bytes(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenModel, ::testing::ValuesIn(golden_dirs()), name_of);

}  // namespace
