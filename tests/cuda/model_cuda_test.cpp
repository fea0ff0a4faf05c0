// The model path on CUDA (ctest label `cuda`): the same model code as on the CPU (the LLaMA
// family in src/models/llama.cpp; BLOOM, StarCoder, Phi-3, StableLM, Cohere, ChatGLM2/3 and
// Qwen v1 through the generic decoder of layers/decoder.cpp) with --device cuda, i.e. weights
// uploaded to the GPU, bf16/f16 activations and KV, the CUDA ops (cuBLASLt GEMMs, our norm /
// rotary / activation / residual-add / per-head-norm / log-n / KV-scatter kernels, split-K
// decode attention for decode-only steps and FA2 prefill attention for the others).
//  - Every golden model of tests/data/models (tools/goldens: tiny random HF models, f32 and
//    bf16), every family, nothing skipped (BLOOM needs ALiBi in the CUDA attention kernels),
//    against the transformers references of golden.json: logits of four prompts run as
//    one flat batch, the hidden state after each layer, and 32-token greedy continuations
//    decoded together with KV slots in random order. f32 checkpoints run with bf16 weights on
//    the GPU (rounded at upload) while HF computed them in f32; bf16 checkpoints compute in bf16
//    as HF does but with a different summation order. So logits must agree to kLogitTol of the
//    row's largest |logit| and greedy ids are compared up to the first step whose reference
//    top-2 margin is under kTieMargin (a near-tie, where rounding may pick either token).
//  - The bundled model (models/lightllm-tiny-en) through the Engine with device = cuda: the
//    greedy continuation of reference.json (PyTorch, f32 compute) and held-out perplexity
//    within kPplTol of PyTorch's.
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lightllm/engine.h"
#include "models/direct_runner.h"
#include "models/perplexity.h"
#include "ops/ops.h"

using namespace lightllm;
namespace fs = std::filesystem;

namespace {

constexpr double kLogitTol =
    0.08;  // relative to the row's largest |logit| (as the CPU bf16 goldens)
constexpr double kTieMargin = 0.05;  // reference top-2 logit margin treated as a near-tie
constexpr double kPplTol = 0.02;     // bundled model: bf16 compute vs PyTorch's f32

std::vector<std::string> golden_dirs() {
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(std::string(LIGHTLLM_TEST_DATA_DIR) + "/models"))
    if (fs::exists(e.path() / "golden.json")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

double row_error(const float* got, const nlohmann::json& want) {
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::abs(want[i].get<double>()));
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want[i].get<double>()) / scale);
  return worst;
}

class CudaGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaGolden, FlatBatchLogitsAndLayersMatchTransformers) {
  const auto g = load_json(GetParam() + "/golden.json");
  auto model = models::load_model(GetParam(), core::Device::cuda);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_EQ((*model)->device(), core::Device::cuda);
  const int64_t vocab = (*model)->shape().vocab, hidden = (*model)->shape().hidden;
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : g["prompts"]) prompts.push_back(p["input_ids"].get<std::vector<int32_t>>());

  const auto& ref_hidden = g["prompts"][g["hidden_prompt_index"].get<size_t>()]["hidden"];
  int first_bad_layer = -1;
  double first_bad_err = 0, worst_hidden = 0;
  auto observer = [&](int layer, const core::Tensor& h) {
    core::Tensor host = core::Tensor::empty(h.shape(), core::DType::f32);
    ASSERT_TRUE(ops::copy_to_host_f32(h, host).ok());
    const auto& want = ref_hidden["layer_outputs"][static_cast<size_t>(layer)];
    for (size_t t = 0; t < want.size(); ++t) {
      const double err = row_error(host.data<float>() + t * hidden, want[t]);
      worst_hidden = std::max(worst_hidden, err);
      if (err > kLogitTol && first_bad_layer < 0) {
        first_bad_layer = layer;
        first_bad_err = err;
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
    const auto& want = g["prompts"][p]["logits"];
    for (size_t t = 0; t < want.size(); ++t, ++row) {
      const double err = row_error(logits->data<float>() + row * vocab, want[t]);
      worst = std::max(worst, err);
      EXPECT_LE(err, kLogitTol) << "prompt " << p << " position " << t;
    }
  }
  std::cout << fs::path(GetParam()).filename().string() << ": max logit error " << worst
            << ", max hidden error " << worst_hidden << " (relative to the row max)\n";
  RecordProperty("max_logit_error", std::to_string(worst));
}

TEST_P(CudaGolden, BatchedGreedyContinuationsMatchTransformers) {
  const auto g = load_json(GetParam() + "/golden.json");
  auto model = models::load_model(GetParam(), core::Device::cuda);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : g["prompts"]) prompts.push_back(p["input_ids"].get<std::vector<int32_t>>());
  const int n_new = g["greedy_new_tokens"].get<int>();
  test_util::DirectRunner runner(**model, 512, static_cast<int>(prompts.size()), /*shuffle=*/true);
  auto out = runner.greedy(prompts, n_new);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  size_t compared = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto want = g["prompts"][p]["greedy"].get<std::vector<int32_t>>();
    const auto margins = g["prompts"][p]["greedy_margins"].get<std::vector<double>>();
    size_t n_compare = want.size();
    for (size_t i = 0; i < margins.size(); ++i)
      if (margins[i] < kTieMargin) {
        n_compare = i;
        break;
      }
    compared += n_compare;
    const std::vector<int32_t> got((*out)[p].begin(),
                                   (*out)[p].begin() + static_cast<long>(n_compare));
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + static_cast<long>(n_compare)))
        << "prompt " << p << " (compared " << n_compare << " of " << want.size() << " steps)";
  }
  std::cout << fs::path(GetParam()).filename().string() << ": greedy steps compared " << compared
            << " of " << prompts.size() * static_cast<size_t>(n_new) << "\n";
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGolden, ::testing::ValuesIn(golden_dirs()), name_of);

const std::string kBundled = std::string(LIGHTLLM_SOURCE_DIR) + "/models/lightllm-tiny-en";

TEST(CudaBundledModel, EngineGreedyContinuationEqualsPyTorch) {
  const auto ref = load_json(kBundled + "/reference.json")["greedy"];
  EngineConfig cfg;
  cfg.model_dir = kBundled;
  cfg.device = "cuda";
  cfg.mem_fraction = 0.05;  // sizes the pool from free device memory (logged)
  std::string error;
  auto engine = Engine::create(cfg, &error);
  ASSERT_NE(engine, nullptr) << error;
  GenerateRequest req;
  req.prompt = ref["prompt"].get<std::string>();
  req.params.max_new_tokens = static_cast<int>(ref["output_ids"].size());
  req.params.ignore_eos = true;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> ids;
  std::string text;
  bool done = false;
  const uint64_t id = engine->submit(
      req,
      [&](const StreamEvent& ev) {
        std::lock_guard lock(mu);
        for (const auto& t : ev.tokens) ids.push_back(t.id);
        text += ev.text;
        if (ev.finished) done = true;
        cv.notify_all();
      },
      &error);
  ASSERT_NE(id, 0u) << error;
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  EXPECT_EQ(ids, ref["output_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(text, ref["output_text"].get<std::string>());
}

TEST(CudaBundledModel, HeldOutPerplexityNearPyTorch) {
  const auto ref = load_json(kBundled + "/reference.json")["heldout"];
  std::ifstream f(kBundled + "/heldout.bin", std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), {});
  std::vector<int32_t> tokens(b.size() / 2);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = b[2 * i] | (b[2 * i + 1] << 8);
  const size_t window = ref["window"].get<size_t>();
  auto model = models::load_model(kBundled, core::Device::cuda);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  double ours = 0, theirs = 0;
  int n = 0;
  for (size_t w = 0; w < ref["per_window_nll"].size(); ++w, ++n) {
    auto r =
        models::sequence_nll(**model, std::span<const int32_t>(tokens.data() + w * window, window));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ours += r->mean();
    theirs += ref["per_window_nll"][w].get<double>();
  }
  const double ppl_ours = std::exp(ours / n), ppl_ref = std::exp(theirs / n);
  std::cout << "bundled model held-out perplexity: CUDA " << ppl_ours << ", PyTorch f32 " << ppl_ref
            << "\n";
  EXPECT_NEAR(ppl_ours, ppl_ref, kPplTol * ppl_ref);
}

}  // namespace
