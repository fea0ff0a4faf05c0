// tests/kernels/rope_test.cpp — rotary embedding.
// (1) rope_inv_freq and the rope kernel against HF transformers' values
//     (tests/data/kernels/rope_vectors.json, made by tools/goldens/rope_vectors.py) for
//     default, partial, linear, dynamic NTK (below and beyond the original max), llama3 and
//     Phi-3 longrope (short and long factors, cos/sin scaled by the attention factor).
// (2) the CPU rope kernel against kernels/ref for halves and interleaved pairs, partial
//     rotary, GQA, odd token counts, every ISA path.
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

using ops::RopeConfig;
using ops::RopeScaling;

constexpr double kHfRtol = 1e-6;  // relative, against HF's float32 values
constexpr double kHfAtol = 1e-7;  // for values that are (nearly) zero, e.g. sin(0)

nlohmann::json load_vectors() {
  std::ifstream f(std::string(LIGHTLLM_TEST_DATA_DIR) + "/kernels/rope_vectors.json");
  EXPECT_TRUE(f.good()) << "missing tests/data/kernels/rope_vectors.json";
  return nlohmann::json::parse(f);
}

RopeConfig config_of(const nlohmann::json& c) {
  RopeConfig cfg;
  cfg.rotary_dim = c["rotary_dim"];
  cfg.theta = c["theta"];
  const std::string s = c["scaling"];
  cfg.scaling = s == "linear"     ? RopeScaling::linear
                : s == "dynamic"  ? RopeScaling::dynamic_ntk
                : s == "llama3"   ? RopeScaling::llama3
                : s == "longrope" ? RopeScaling::longrope
                                  : RopeScaling::none;
  cfg.factor = c["factor"];
  cfg.original_max_position = c["original_max_position"];
  cfg.low_freq_factor = c["low_freq_factor"];
  cfg.high_freq_factor = c["high_freq_factor"];
  if (c.contains("short_factor")) {
    cfg.short_factor = c["short_factor"].get<std::vector<float>>();
    cfg.long_factor = c["long_factor"].get<std::vector<float>>();
  }
  cfg.attention_factor = c["attention_scaling"];  // HF's cos/sin include it
  return cfg;
}

void expect_hf_close(double got, double want, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), kHfAtol + kHfRtol * std::fabs(want))
      << what << " got " << got << " want " << want;
}

TEST(RopeHf, InvFreqMatchesTransformers) {
  const nlohmann::json v = load_vectors();
  ASSERT_GE(v["cases"].size(), 10u);
  for (const auto& c : v["cases"]) {
    const std::string name = c["name"];
    const std::vector<float> got = ops::rope_inv_freq(config_of(c), c["seq_len"].get<int64_t>());
    const std::vector<double> want = c["inv_freq"];
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < got.size(); ++i)
      expect_hf_close(got[i], want[i], name + " inv_freq[" + std::to_string(i) + "]");
  }
}

// A head whose first rotary half is 1 and second half 0 rotates into (cos, sin).
TEST(RopeHf, RotationMatchesTransformersCosSin) {
  const nlohmann::json v = load_vectors();
  for (const auto& c : v["cases"]) {
    const std::string name = c["name"];
    const RopeConfig cfg = config_of(c);
    const std::vector<int32_t> positions = c["positions"];
    const int64_t n = static_cast<int64_t>(positions.size()), hd = c["head_dim"];
    const int64_t half = cfg.rotary_dim / 2;
    const std::vector<float> inv = ops::rope_inv_freq(cfg, c["seq_len"].get<int64_t>());
    Tensor q = Tensor::empty({n, 2, hd}, DType::f32), k = Tensor::empty({n, 1, hd}, DType::f32);
    Tensor pos = Tensor::empty({n}, DType::i32);
    for (int64_t t = 0; t < n; ++t) {
      pos.data<int32_t>()[t] = positions[static_cast<size_t>(t)];
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t d = 0; d < hd; ++d)
          q.data<float>()[(t * 2 + h) * hd + d] = d < half ? 1.0f : 0.5f;
      for (int64_t d = 0; d < hd; ++d) k.data<float>()[t * hd + d] = d < half ? 1.0f : 0.5f;
      for (int64_t d = half; d < cfg.rotary_dim; ++d) {
        q.data<float>()[t * 2 * hd + d] = q.data<float>()[(t * 2 + 1) * hd + d] = 0.0f;
        k.data<float>()[t * hd + d] = 0.0f;
      }
    }
    ASSERT_TRUE(ops::rope(q, k, pos, inv, cfg).ok()) << name;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < half; ++i) {
        const double c_hf = c["cos"][static_cast<size_t>(t)][static_cast<size_t>(i)];
        const double s_hf = c["sin"][static_cast<size_t>(t)][static_cast<size_t>(i)];
        const std::string at = name + " pos " + std::to_string(positions[static_cast<size_t>(t)]) +
                               " i " + std::to_string(i);
        for (const float* head : {q.data<float>() + t * 2 * hd, q.data<float>() + (t * 2 + 1) * hd,
                                  k.data<float>() + t * hd}) {
          expect_hf_close(head[i], c_hf, at + " cos");
          expect_hf_close(head[i + half], s_hf, at + " sin");
        }
      }
    for (int64_t t = 0; t < n; ++t)  // dims past rotary_dim pass through untouched
      for (int64_t d = cfg.rotary_dim; d < hd; ++d) EXPECT_EQ(k.data<float>()[t * hd + d], 0.5f);
  }
}

TEST(Rope, KernelMatchesReferenceForEveryLayout) {
  for (bool interleaved : {false, true})
    for (int64_t rotary_dim : {64, 32, 2})
      for (int64_t n_tokens : {1, 7, 83}) {
        const int64_t hd = 64, n_heads = 4, n_kv = 2;
        RopeConfig cfg{.rotary_dim = static_cast<int>(rotary_dim), .interleaved = interleaved};
        cfg.attention_factor = rotary_dim == 32 ? 1.19 : 1.0;
        const std::vector<float> inv = ops::rope_inv_freq(cfg, n_tokens);
        Tensor q0 = random_tensor({n_tokens, n_heads, hd}, 31);
        Tensor k0 = random_tensor({n_tokens, n_kv, hd}, 32);
        Tensor pos = Tensor::empty({n_tokens}, DType::i32);
        for (int64_t t = 0; t < n_tokens; ++t)
          pos.data<int32_t>()[t] = static_cast<int32_t>(t * 131 % 5000);
        Tensor qw = copy_of(q0), kw = copy_of(k0);
        kernels::ref::rope({.q = qw.data<float>(),
                            .k = kw.data<float>(),
                            .positions = pos.data<int32_t>(),
                            .inv_freq = inv.data(),
                            .n_tokens = n_tokens,
                            .n_heads = n_heads,
                            .n_kv_heads = n_kv,
                            .head_dim = hd,
                            .rotary_dim = rotary_dim,
                            .interleaved = interleaved,
                            .attention_factor = static_cast<float>(cfg.attention_factor)});
        for (Isa isa : available_isas()) {
          IsaScope scope(isa);
          Tensor q = copy_of(q0), k = copy_of(k0);
          ASSERT_TRUE(ops::rope(q, k, pos, inv, cfg).ok());
          expect_close(q, qw, Tolerance::kF32Atol, Tolerance::kF32Rtol, "rope q");
          expect_close(k, kw, Tolerance::kF32Atol, Tolerance::kF32Rtol, "rope k");
        }
      }
}

}  // namespace
}  // namespace lightllm::ktest
