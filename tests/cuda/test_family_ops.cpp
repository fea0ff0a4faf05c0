// tests/cuda/test_family_ops.cpp — the CUDA kernels the non-LLaMA families need, on the GPU
// against scalar f64 references written here, on odd shapes, for bf16 and f16: the residual
// add, plain and gated GELU (erf and tanh) / SiLU, per-head LayerNorm (StableLM / Cohere q/k
// norm, weight row per head), rotary with an attention factor (longrope) in both styles and
// partial, and Qwen v1's log-n query scaling.
#include <cmath>
#include <random>

#include "cuda_test_util.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/rotary.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

class FamilyOps : public ::testing::TestWithParam<DType> {};

const int64_t kSizes[] = {1, 7, 83, 769, 5 * 4096 + 3};

double act_ref(kc::GatedAct a, double g) {
  switch (a) {
    case kc::GatedAct::silu: return g / (1.0 + std::exp(-g));
    case kc::GatedAct::gelu_tanh:
      return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
    case kc::GatedAct::gelu_erf: return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
  }
  return 0;
}

const char* act_name(kc::GatedAct a) {
  return a == kc::GatedAct::silu ? "silu" : a == kc::GatedAct::gelu_tanh ? "gelu_tanh" : "gelu_erf";
}

TEST_P(FamilyOps, ResidualAddRoundsTheF32SumOnce) {
  const DType dt = GetParam();
  for (int64_t n : kSizes) {
    const size_t un = static_cast<size_t>(n);
    auto acc = random_values(dt, un, -4.f, 4.f, 11);
    auto x = random_values(dt, un, -4.f, 4.f, 12);
    auto dacc = upload_half(dt, acc), dx = upload_half(dt, x);
    ASSERT_TRUE(
        kc::add_inplace({.dtype = dt, .acc = dacc.data(), .x = dx.data(), .n = n}, nullptr).ok());
    auto got = download_half(dt, dacc, un);
    std::vector<float> want(un);
    for (size_t i = 0; i < un; ++i) want[i] = from_bits(dt, to_bits(dt, acc[i] + x[i]));
    EXPECT_EQ(got, want) << "add n=" << n;  // one f32 add, one round to nearest even: exact
  }
}

TEST_P(FamilyOps, PlainActivationsInPlaceAndOutOfPlace) {
  const DType dt = GetParam();
  for (kc::GatedAct a : {kc::GatedAct::silu, kc::GatedAct::gelu_tanh, kc::GatedAct::gelu_erf}) {
    for (int64_t n : kSizes) {
      const size_t un = static_cast<size_t>(n);
      auto x = random_values(dt, un, -5.f, 5.f, 13);
      std::vector<double> want(un);
      for (size_t i = 0; i < un; ++i) want[i] = act_ref(a, x[i]);
      auto dx = upload_half(dt, x);
      auto dout = zeros(un * 2);
      ASSERT_TRUE(kc::activation(
                      {.dtype = dt, .x = dx.data(), .out = dout.data(), .n = n, .act = a}, nullptr)
                      .ok());
      expect_close(download_half(dt, dout, un), want, tol_for(dt),
                   std::string(act_name(a)) + " n=" + std::to_string(n));
      ASSERT_TRUE(
          kc::activation({.dtype = dt, .x = dx.data(), .out = dx.data(), .n = n, .act = a}, nullptr)
              .ok());
      expect_close(download_half(dt, dx, un), want, tol_for(dt),
                   std::string(act_name(a)) + " in place n=" + std::to_string(n));
    }
  }
}

TEST_P(FamilyOps, GatedErfGeluSeparateAndFused) {
  const DType dt = GetParam();
  for (int64_t rows : {int64_t{1}, int64_t{7}, int64_t{83}}) {
    for (int64_t inter : {int64_t{7}, int64_t{769}}) {
      const size_t n = static_cast<size_t>(rows * inter);
      auto fused = random_values(dt, 2 * n, -4.f, 4.f, 14);  // rows of [gate | up]
      std::vector<float> gate(n), up(n);
      std::vector<double> want(n);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < inter; ++j) {
          const size_t k = static_cast<size_t>(r * inter + j);
          gate[k] = fused[static_cast<size_t>(r * 2 * inter + j)];
          up[k] = fused[static_cast<size_t>(r * 2 * inter + inter + j)];
          want[k] = act_ref(kc::GatedAct::gelu_erf, gate[k]) * up[k];
        }
      auto dg = upload_half(dt, gate), du = upload_half(dt, up), df = upload_half(dt, fused);
      auto dout = zeros(n * 2);
      kc::GatedActParams p{.dtype = dt,
                           .in = dg.data(),
                           .up = du.data(),
                           .out = dout.data(),
                           .n_tokens = rows,
                           .inter = inter,
                           .act = kc::GatedAct::gelu_erf};
      ASSERT_TRUE(kc::gated_activation(p, nullptr).ok());
      const std::string shape = std::to_string(rows) + "x" + std::to_string(inter);
      expect_close(download_half(dt, dout, n), want, tol_for(dt, 4), "gelu_erf*up " + shape);
      p.in = df.data();
      p.up = nullptr;
      ASSERT_TRUE(kc::gated_activation(p, nullptr).ok());
      expect_close(download_half(dt, dout, n), want, tol_for(dt, 4), "fused gelu_erf*up " + shape);
    }
  }
}

TEST_P(FamilyOps, PerHeadLayerNormUsesEachHeadsWeight) {
  const DType dt = GetParam();
  struct Case {
    int64_t n_tokens, heads, head_dim;
    bool bias, in_place;
  };
  for (const Case& c : {Case{1, 4, 16, false, true}, Case{7, 3, 64, true, false},
                        Case{83, 8, 128, false, true}, Case{5, 1, 7, true, true}}) {
    const int64_t rows = c.n_tokens * c.heads;
    const size_t n = static_cast<size_t>(rows * c.head_dim);
    const size_t nw = static_cast<size_t>(c.heads * c.head_dim);
    auto x = random_values(dt, n, -1.f, 3.f, 15);  // mean far from 0
    auto w = random_values(dt, nw, 0.5f, 1.5f, 16);
    auto b = random_values(dt, nw, -0.5f, 0.5f, 17);
    std::vector<double> want(n);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t h = r % c.heads;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < c.head_dim; ++i) mean += x[static_cast<size_t>(r * c.head_dim + i)];
      mean /= static_cast<double>(c.head_dim);
      for (int64_t i = 0; i < c.head_dim; ++i) {
        const double d = x[static_cast<size_t>(r * c.head_dim + i)] - mean;
        var += d * d;
      }
      const double inv = 1.0 / std::sqrt(var / static_cast<double>(c.head_dim) + 1e-5);
      for (int64_t i = 0; i < c.head_dim; ++i) {
        const size_t k = static_cast<size_t>(r * c.head_dim + i);
        const size_t kw = static_cast<size_t>(h * c.head_dim + i);
        want[k] = (x[k] - mean) * inv * w[kw] + (c.bias ? b[kw] : 0.0);
      }
    }
    auto dx = upload_half(dt, x), dw = upload_half(dt, w), db = upload_half(dt, b);
    auto dout = zeros(n * 2);
    void* out = c.in_place ? dx.data() : dout.data();
    ASSERT_TRUE(kc::layernorm({.dtype = dt,
                               .x = dx.data(),
                               .weight = dw.data(),
                               .bias = c.bias ? db.data() : nullptr,
                               .out = out,
                               .n_tokens = rows,
                               .hidden = c.head_dim,
                               .eps = 1e-5f,
                               .weight_rows = c.heads},
                              nullptr)
                    .ok());
    expect_close(download_half(dt, c.in_place ? dx : dout, n), want, tol_for(dt, 3),
                 "head layernorm " + std::to_string(c.n_tokens) + "x" + std::to_string(c.heads) +
                     "x" + std::to_string(c.head_dim));
  }
}

TEST_P(FamilyOps, RotaryAttentionFactorScalesCosAndSin) {
  const DType dt = GetParam();
  const float factor = 1.1902380714238083f;  // a longrope attention factor (Phi-3 128k)
  for (kc::RotaryStyle style : {kc::RotaryStyle::rotate_half, kc::RotaryStyle::interleaved}) {
    for (int rotary_dim : {16, 8}) {  // full and partial rotary of head_dim 16
      const int n_heads = 4, n_kv = 2, head_dim = 16;
      const int64_t n_tokens = 37;
      const size_t nq = static_cast<size_t>(n_tokens * n_heads * head_dim);
      const size_t nk = static_cast<size_t>(n_tokens * n_kv * head_dim);
      auto q = random_values(dt, nq, -1.f, 1.f, 18);
      auto k = random_values(dt, nk, -1.f, 1.f, 19);
      std::vector<int32_t> pos(static_cast<size_t>(n_tokens));
      std::mt19937 rng(20);
      for (auto& p : pos) p = static_cast<int32_t>(rng() % 3000);
      std::vector<float> inv_freq(static_cast<size_t>(rotary_dim / 2));
      for (size_t i = 0; i < inv_freq.size(); ++i)
        inv_freq[i] = static_cast<float>(std::pow(10000.0, -2.0 * double(i) / rotary_dim) / 1.7);
      auto dq = upload_half(dt, q), dk = upload_half(dt, k);
      auto dpos = upload(pos);
      auto dfreq = upload(inv_freq);
      ASSERT_TRUE(kc::rotary({.dtype = dt,
                              .q = dq.data(),
                              .k = dk.data(),
                              .positions = dpos.as<int32_t>(),
                              .inv_freq = dfreq.as<float>(),
                              .n_tokens = n_tokens,
                              .n_heads = n_heads,
                              .n_kv_heads = n_kv,
                              .head_dim = head_dim,
                              .rotary_dim = rotary_dim,
                              .style = style,
                              .attention_factor = factor},
                             nullptr)
                      .ok());
      auto rotate = [&](const std::vector<float>& x, int heads) {
        std::vector<double> want(x.begin(), x.end());
        const int half = rotary_dim / 2;
        for (int64_t t = 0; t < n_tokens; ++t)
          for (int h = 0; h < heads; ++h) {
            const size_t base = static_cast<size_t>((t * heads + h) * head_dim);
            for (int i = 0; i < half; ++i) {
              const double ang = double(static_cast<float>(pos[static_cast<size_t>(t)]) *
                                        inv_freq[static_cast<size_t>(i)]);
              const double c = std::cos(ang) * factor, s = std::sin(ang) * factor;
              const bool rh = style == kc::RotaryStyle::rotate_half;
              const size_t i0 = base + static_cast<size_t>(rh ? i : 2 * i);
              const size_t i1 = base + static_cast<size_t>(rh ? i + half : 2 * i + 1);
              want[i0] = x[i0] * c - x[i1] * s;
              want[i1] = x[i1] * c + x[i0] * s;
            }
          }
        return want;
      };
      const std::string what =
          std::string(style == kc::RotaryStyle::rotate_half ? "half" : "pairs") + " rot" +
          std::to_string(rotary_dim);
      expect_close(download_half(dt, dq, nq), rotate(q, n_heads), tol_for(dt), "rotary q " + what);
      expect_close(download_half(dt, dk, nk), rotate(k, n_kv), tol_for(dt), "rotary k " + what);
    }
  }
}

TEST_P(FamilyOps, LognScaleOnlyPastSeqLength) {
  const DType dt = GetParam();
  const int64_t seq_length = 16, row_len = 4 * 16, n_tokens = 83;
  const size_t n = static_cast<size_t>(n_tokens * row_len);
  auto q = random_values(dt, n, -2.f, 2.f, 21);
  std::vector<int32_t> pos(static_cast<size_t>(n_tokens));
  for (size_t t = 0; t < pos.size(); ++t) pos[t] = static_cast<int32_t>((t * 7) % 60);
  auto dq = upload_half(dt, q);
  auto dpos = upload(pos);
  ASSERT_TRUE(kc::logn_scale({.dtype = dt,
                              .q = dq.data(),
                              .positions = dpos.as<int32_t>(),
                              .n_tokens = n_tokens,
                              .row_len = row_len,
                              .seq_length = seq_length},
                             nullptr)
                  .ok());
  auto got = download_half(dt, dq, n);
  std::vector<double> want(n);
  int scaled_rows = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t p1 = int64_t{pos[static_cast<size_t>(t)]} + 1;
    const double s = p1 > seq_length ? std::log(double(p1)) / std::log(double(seq_length)) : 1.0;
    scaled_rows += p1 > seq_length;
    for (int64_t i = 0; i < row_len; ++i) {
      const size_t k = static_cast<size_t>(t * row_len + i);
      want[k] = q[k] * s;
      if (p1 <= seq_length) {
        EXPECT_EQ(got[k], q[k]) << "row " << t << " must stay untouched";
      }
    }
  }
  EXPECT_GT(scaled_rows, 0);
  EXPECT_LT(scaled_rows, n_tokens);
  expect_close(got, want, tol_for(dt), "logn_scale");
}

TEST(FamilyOpsErrors, BadArgumentsAreStatusNotCrash) {
  EXPECT_FALSE(
      kc::add_inplace({.dtype = DType::bf16, .acc = nullptr, .x = nullptr, .n = 4}, nullptr).ok());
  int32_t pos = 0;
  uint16_t q = 0;
  EXPECT_FALSE(kc::logn_scale({.dtype = DType::bf16,
                               .q = &q,
                               .positions = &pos,
                               .n_tokens = 1,
                               .row_len = 1,
                               .seq_length = 1},
                              nullptr)
                   .ok());
  EXPECT_FALSE(kc::activation({.dtype = DType::f32, .x = &q, .out = &q, .n = 1}, nullptr).ok());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FamilyOps, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

}  // namespace
}  // namespace lightllm::cuda_test
