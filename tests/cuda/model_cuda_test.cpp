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
//  - int8 KV on CUDA (store_kv quantizes, both attention kernels dequantize) against the
//    activation-dtype KV run of the same model: prompts prefilled together, then decode steps
//    teacher-forced with the reference run's greedy tokens; logits within kInt8KvTol of the
//    row's largest |logit|.
//  - The bundled model (models/lightllm-tiny-en) through the Engine with device = cuda: the
//    greedy continuation of reference.json (PyTorch, f32 compute: equal up to a step whose
//    reference top-2 margin is a near-tie) and held-out perplexity within kPplTol of PyTorch's.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine_harness.h"
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
// int8 vs 16-bit KV, relative to the row's largest |logit|. The CPU engine measured at most
// 1.7% for int8 vs f32 KV on these golden models (docs/PERFORMANCE.md); 5% leaves room for
// bf16 activations around it.
constexpr double kInt8KvTol = 0.05;

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

TEST_P(CudaGolden, Int8KvLogitsNearActivationDtypeKv) {
  const auto g = load_json(GetParam() + "/golden.json");
  auto model = models::load_model(GetParam(), core::Device::cuda);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const int64_t vocab = (*model)->shape().vocab;
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : g["prompts"]) prompts.push_back(p["input_ids"].get<std::vector<int32_t>>());
  const int n = static_cast<int>(prompts.size());
  test_util::DirectRunner ref(**model, 512, n, /*shuffle=*/true);
  test_util::DirectRunner q8(**model, 512, n, /*shuffle=*/true, core::DType::i8);
  double worst = 0, max_logit = 0;
  int argmax_same = 0, rows = 0;
  auto compare = [&](const core::Tensor& a, const core::Tensor& b) {
    ASSERT_EQ(a.dim(0), b.dim(0));
    for (int64_t r = 0; r < a.dim(0); ++r, ++rows) {
      const float* x = a.data<float>() + r * vocab;
      const float* y = b.data<float>() + r * vocab;
      double scale = 1e-30, err = 0;
      for (int64_t i = 0; i < vocab; ++i) scale = std::max(scale, double(std::abs(x[i])));
      for (int64_t i = 0; i < vocab; ++i) err = std::max(err, double(std::abs(x[i] - y[i])));
      worst = std::max(worst, err / scale);
      max_logit = std::max(max_logit, scale);
      argmax_same +=
          test_util::DirectRunner::argmax(x, vocab) == test_util::DirectRunner::argmax(y, vocab);
      EXPECT_LE(err / scale, kInt8KvTol) << "logit row " << rows;
    }
  };
  auto a = ref.step(prompts, /*all_logits=*/true);
  auto b = q8.step(prompts, /*all_logits=*/true);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  compare(*a, *b);
  // Teacher-forced decode: both runs get the reference run's greedy token.
  std::vector<std::vector<int32_t>> feed(prompts.size());
  int64_t row = -1;
  for (size_t p = 0; p < prompts.size(); ++p) {
    row += static_cast<int64_t>(prompts[p].size());
    feed[p] = {test_util::DirectRunner::argmax(a->data<float>() + row * vocab, vocab)};
  }
  for (int step = 0; step < 24; ++step) {
    a = ref.step(feed, false);
    b = q8.step(feed, false);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    compare(*a, *b);
    for (size_t p = 0; p < prompts.size(); ++p)
      feed[p] = {test_util::DirectRunner::argmax(a->data<float>() + int64_t(p) * vocab, vocab)};
  }
  std::cout << fs::path(GetParam()).filename().string() << ": int8 vs "
            << core::dtype_name((*model)->activation_dtype()) << " KV: max logit error " << worst
            << " of the row max (largest |logit| " << max_logit << "), argmax equal in "
            << argmax_same << " of " << rows << " rows\n";
  RecordProperty("int8_kv_max_logit_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGolden, ::testing::ValuesIn(golden_dirs()), name_of);

const std::string& kBundled = test_util::kBundledModel;

// Greedy ids and text of the bundled model's reference prompt through the Engine on CUDA.
test_util::Completion engine_greedy(const std::string& kv_cache_dtype, const nlohmann::json& ref) {
  EngineConfig cfg;
  cfg.model_dir = kBundled;
  cfg.device = "cuda";
  cfg.mem_fraction = 0.05;  // sizes the pool from free device memory (logged)
  cfg.kv_cache_dtype = kv_cache_dtype;
  std::string error;
  auto engine = Engine::create(cfg, &error);
  EXPECT_NE(engine, nullptr) << error;
  if (!engine) return {};
  GenerateRequest req;
  req.prompt = ref["prompt"].get<std::string>();
  req.params.max_new_tokens = static_cast<int>(ref["output_ids"].size());
  req.params.ignore_eos = true;
  test_util::Completion c = test_util::run_batch(*engine, {req}).at(0);
  EXPECT_EQ(c.error, "");
  return c;
}

// The engine (bf16 compute) must pick PyTorch's (f32) greedy tokens until a step where
// PyTorch's own top-1 / top-2 logit margin (reference.json "top2_margin") is under 0.05: there
// bf16 rounding may pick the runner-up and the continuations part. A divergence anywhere else
// fails, and so does a run shorter than the reference.
TEST(CudaBundledModel, EngineGreedyContinuationEqualsPyTorch) {
  constexpr double kNearTie = 0.05;
  const auto ref = load_json(kBundled + "/reference.json")["greedy"];
  const auto want = ref["output_ids"].get<std::vector<int32_t>>();
  const auto margin = ref["top2_margin"].get<std::vector<double>>();
  ASSERT_EQ(margin.size(), want.size());
  const test_util::Completion got = engine_greedy("auto", ref);
  const std::vector<int32_t>& ids = got.ids;
  const std::string& text = got.text;
  ASSERT_EQ(ids.size(), want.size());
  size_t same = 0;
  while (same < ids.size() && ids[same] == want[same]) ++same;
  if (same == ids.size()) {
    EXPECT_EQ(text, ref["output_text"].get<std::string>());
    return;
  }
  EXPECT_LT(margin[same], kNearTie) << "step " << same << ": engine " << ids[same] << ", PyTorch "
                                    << want[same] << " by a clear margin";
  std::printf("greedy equals PyTorch for %zu of %zu tokens; step %zu is a near-tie (margin %.4f)\n",
              same, ids.size(), same, margin[same]);
}

// `--kv-cache-dtype int8 --device cuda`: the engine serves with the int8 pool. Free-running
// greedy may leave the reference at a near-tie (docs/PERFORMANCE.md), so the test asserts the
// full length and prints how many leading tokens equal PyTorch's; the accuracy of int8 KV on
// CUDA is asserted by CudaGolden.Int8KvLogitsNearActivationDtypeKv.
TEST(CudaBundledModel, EngineRunsWithInt8KvCache) {
  const auto ref = load_json(kBundled + "/reference.json")["greedy"];
  const std::vector<int32_t> ids = engine_greedy("int8", ref).ids;
  const auto want = ref["output_ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(ids.size(), want.size());
  size_t same = 0;
  while (same < ids.size() && ids[same] == want[same]) ++same;
  std::cout << "bundled model, int8 KV on CUDA: first " << same << " of " << want.size()
            << " greedy tokens equal PyTorch's (f32 KV)\n";
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
