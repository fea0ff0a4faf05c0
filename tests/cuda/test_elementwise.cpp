// tests/cuda/test_elementwise.cpp — norms, rotary, gated activations, embedding and KV scatter
// on the GPU against scalar f64 references written here, on odd shapes, for bf16 and f16.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cuda_test_util.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/kv_scatter.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/rotary.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

class Elementwise : public ::testing::TestWithParam<DType> {};

const int64_t kRows[] = {1, 7, 83, 769};
const int64_t kHidden[] = {7, 83, 769, 4096};

TEST_P(Elementwise, RmsNormAndFusedAdd) {
  const DType dt = GetParam();
  for (int64_t rows : kRows) {
    for (int64_t hidden : kHidden) {
      const size_t n = static_cast<size_t>(rows * hidden);
      auto x = random_values(dt, n, -2.f, 2.f, 1);
      auto res = random_values(dt, n, -2.f, 2.f, 2);
      auto w = random_values(dt, static_cast<size_t>(hidden), 0.5f, 1.5f, 3);
      auto dx = upload_half(dt, x), dres = upload_half(dt, res), dw = upload_half(dt, w);
      auto dout = zeros(n * 2);
      kc::RmsNormParams p{.dtype = dt,
                          .x = dx.data(),
                          .residual = dres.data(),
                          .weight = dw.data(),
                          .out = dout.data(),
                          .n_tokens = rows,
                          .hidden = hidden,
                          .eps = 1e-5f};
      ASSERT_TRUE(kc::rmsnorm(p, nullptr).ok());
      auto got = download_half(dt, dout, n);
      ASSERT_TRUE(kc::add_rmsnorm(p, nullptr).ok());
      auto got_add = download_half(dt, dout, n);
      auto got_res = download_half(dt, dres, n);
      std::vector<double> want(n), want_add(n);
      std::vector<float> want_res(n);
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0, ss_add = 0;
        for (int64_t i = 0; i < hidden; ++i) {
          const size_t k = static_cast<size_t>(r * hidden + i);
          ss += double(x[k]) * x[k];
          want_res[k] = from_bits(dt, to_bits(dt, x[k] + res[k]));  // HF: sum rounded to dtype
          ss_add += double(want_res[k]) * want_res[k];
        }
        const double inv = 1.0 / std::sqrt(ss / hidden + 1e-5);
        const double inv_add = 1.0 / std::sqrt(ss_add / hidden + 1e-5);
        for (int64_t i = 0; i < hidden; ++i) {
          const size_t k = static_cast<size_t>(r * hidden + i);
          want[k] = x[k] * inv * w[static_cast<size_t>(i)];
          want_add[k] = want_res[k] * inv_add * w[static_cast<size_t>(i)];
        }
      }
      const std::string shape = std::to_string(rows) + "x" + std::to_string(hidden);
      expect_close(got, want, tol_for(dt), "rmsnorm " + shape);
      expect_close(got_add, want_add, tol_for(dt), "add_rmsnorm " + shape);
      EXPECT_EQ(got_res, want_res) << "add_rmsnorm residual " << shape;
    }
  }
}

TEST_P(Elementwise, LayerNormWithAndWithoutBias) {
  const DType dt = GetParam();
  for (int64_t rows : kRows) {
    for (int64_t hidden : {int64_t{7}, int64_t{769}}) {
      const size_t n = static_cast<size_t>(rows * hidden);
      auto x = random_values(dt, n, -1.f, 3.f, 4);  // mean far from 0
      auto w = random_values(dt, static_cast<size_t>(hidden), 0.5f, 1.5f, 5);
      auto b = random_values(dt, static_cast<size_t>(hidden), -0.5f, 0.5f, 6);
      auto dx = upload_half(dt, x), dw = upload_half(dt, w), db = upload_half(dt, b);
      for (bool bias : {false, true}) {
        auto dout = zeros(n * 2);
        kc::LayerNormParams p{.dtype = dt,
                              .x = dx.data(),
                              .weight = dw.data(),
                              .bias = bias ? db.data() : nullptr,
                              .out = dout.data(),
                              .n_tokens = rows,
                              .hidden = hidden};
        ASSERT_TRUE(kc::layernorm(p, nullptr).ok());
        auto got = download_half(dt, dout, n);
        std::vector<double> want(n);
        for (int64_t r = 0; r < rows; ++r) {
          double mean = 0, var = 0;
          for (int64_t i = 0; i < hidden; ++i) mean += x[static_cast<size_t>(r * hidden + i)];
          mean /= hidden;
          for (int64_t i = 0; i < hidden; ++i) {
            const double d = x[static_cast<size_t>(r * hidden + i)] - mean;
            var += d * d;
          }
          const double inv = 1.0 / std::sqrt(var / hidden + 1e-5);
          for (int64_t i = 0; i < hidden; ++i) {
            const size_t k = static_cast<size_t>(r * hidden + i);
            want[k] = (x[k] - mean) * inv * w[static_cast<size_t>(i)] +
                      (bias ? b[static_cast<size_t>(i)] : 0.0);
          }
        }
        expect_close(got, want, tol_for(dt),
                     "layernorm " + std::to_string(rows) + "x" + std::to_string(hidden));
      }
    }
  }
}

TEST_P(Elementwise, RotaryBothStylesPartialAndStrided) {
  const DType dt = GetParam();
  struct Case {
    int n_heads, n_kv_heads, head_dim, rotary_dim;
    kc::RotaryStyle style;
  };
  const Case cases[] = {{4, 1, 64, 64, kc::RotaryStyle::rotate_half},
                        {8, 2, 128, 128, kc::RotaryStyle::interleaved},
                        {6, 3, 128, 64, kc::RotaryStyle::rotate_half},  // partial (e.g. phi)
                        {2, 2, 80, 32, kc::RotaryStyle::interleaved}};  // partial (e.g. chatglm)
  for (const Case& c : cases) {
    for (int64_t n_tokens : {int64_t{1}, int64_t{7}, int64_t{83}}) {
      // q and k live in one fused qkv row: [q heads | k heads | v heads].
      const int64_t row = int64_t{c.n_heads + 2 * c.n_kv_heads} * c.head_dim;
      const size_t n = static_cast<size_t>(n_tokens * row);
      auto qkv = random_values(dt, n, -1.f, 1.f, 7);
      std::vector<int32_t> pos(static_cast<size_t>(n_tokens));
      std::mt19937 rng(8);
      for (auto& p : pos) p = static_cast<int32_t>(rng() % 5000);
      std::vector<float> inv_freq(static_cast<size_t>(c.rotary_dim / 2));
      for (size_t i = 0; i < inv_freq.size(); ++i) {
        inv_freq[i] = static_cast<float>(std::pow(10000.0, -2.0 * double(i) / c.rotary_dim));
      }
      auto dqkv = upload_half(dt, qkv);
      auto dpos = upload(pos);
      auto dfreq = upload(inv_freq);
      kc::RotaryParams p{.dtype = dt,
                         .q = dqkv.data(),
                         .k = static_cast<uint16_t*>(dqkv.data()) + int64_t{c.n_heads} * c.head_dim,
                         .positions = dpos.as<int32_t>(),
                         .inv_freq = dfreq.as<float>(),
                         .n_tokens = n_tokens,
                         .n_heads = c.n_heads,
                         .n_kv_heads = c.n_kv_heads,
                         .head_dim = c.head_dim,
                         .rotary_dim = c.rotary_dim,
                         .q_stride = row,
                         .k_stride = row,
                         .style = c.style};
      ASSERT_TRUE(kc::rotary(p, nullptr).ok());
      auto got = download_half(dt, dqkv, n);
      std::vector<double> want(qkv.begin(), qkv.end());
      const int half = c.rotary_dim / 2;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int h = 0; h < c.n_heads + c.n_kv_heads; ++h) {  // v heads stay untouched
          const size_t base = static_cast<size_t>(t * row + int64_t{h} * c.head_dim);
          for (int i = 0; i < half; ++i) {
            const double ang =
                double(pos[static_cast<size_t>(t)]) * double(inv_freq[static_cast<size_t>(i)]);
            const size_t i0 =
                base + static_cast<size_t>(c.style == kc::RotaryStyle::rotate_half ? i : 2 * i);
            const size_t i1 =
                base +
                static_cast<size_t>(c.style == kc::RotaryStyle::rotate_half ? i + half : 2 * i + 1);
            want[i0] = qkv[i0] * std::cos(ang) - qkv[i1] * std::sin(ang);
            want[i1] = qkv[i1] * std::cos(ang) + qkv[i0] * std::sin(ang);
          }
        }
      }
      // f32 angles of positions up to 5000: absolute error ~ 5000 * 2^-24 rad, well inside.
      expect_close(got, want, tol_for(dt),
                   "rotary d" + std::to_string(c.head_dim) + " rot" + std::to_string(c.rotary_dim) +
                       " n" + std::to_string(n_tokens));
    }
  }
}

TEST_P(Elementwise, GatedActivations) {
  const DType dt = GetParam();
  for (int64_t rows : kRows) {
    for (int64_t inter : {int64_t{7}, int64_t{83}, int64_t{1000}}) {
      const size_t n_in = static_cast<size_t>(rows * 2 * inter),
                   n_out = static_cast<size_t>(rows * inter);
      auto in = random_values(dt, n_in, -5.f, 5.f, 9);
      auto din = upload_half(dt, in);
      for (auto act : {kc::GatedAct::silu, kc::GatedAct::gelu_tanh}) {
        auto dout = zeros(n_out * 2);
        kc::GatedActParams p{.dtype = dt,
                             .in = din.data(),
                             .out = dout.data(),
                             .n_tokens = rows,
                             .inter = inter,
                             .act = act};
        ASSERT_TRUE(kc::gated_activation(p, nullptr).ok());
        auto got = download_half(dt, dout, n_out);
        std::vector<double> want(n_out);
        for (int64_t t = 0; t < rows; ++t) {
          for (int64_t j = 0; j < inter; ++j) {
            const double g = in[static_cast<size_t>(t * 2 * inter + j)];
            const double u = in[static_cast<size_t>(t * 2 * inter + inter + j)];
            const double a =
                act == kc::GatedAct::silu
                    ? g / (1 + std::exp(-g))
                    : 0.5 * g * (1 + std::tanh(std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
            want[static_cast<size_t>(t * inter + j)] = a * u;
          }
        }
        expect_close(got, want, tol_for(dt, 3.0),
                     act == kc::GatedAct::silu ? "silu_mul" : "gelu_tanh_mul");
      }
    }
  }
}

TEST_P(Elementwise, EmbeddingGatherWithShardRange) {
  const DType dt = GetParam();
  for (int64_t hidden : {int64_t{7}, int64_t{64}, int64_t{83}}) {
    const int64_t vocab_start = 100, vocab_rows = 50;
    auto table = random_values(dt, static_cast<size_t>(vocab_rows * hidden), -1.f, 1.f, 10);
    std::vector<int32_t> ids = {100, 149, 120, 99, 150, 0, 125, 125, 101};  // 99/150/0 outside
    auto dt_ = upload_half(dt, table);
    auto dids = upload(ids);
    const size_t n = ids.size() * static_cast<size_t>(hidden);
    auto dout = zeros(n * 2);
    kc::EmbeddingParams p{.dtype = dt,
                          .ids = dids.as<int32_t>(),
                          .table = dt_.data(),
                          .out = dout.data(),
                          .n_tokens = static_cast<int64_t>(ids.size()),
                          .hidden = hidden,
                          .vocab_start = vocab_start,
                          .vocab_rows = vocab_rows};
    ASSERT_TRUE(kc::embedding(p, nullptr).ok());
    auto got = download_half(dt, dout, n);
    std::vector<double> want(n, 0.0);
    for (size_t t = 0; t < ids.size(); ++t) {
      const int64_t r = ids[t] - vocab_start;
      if (r < 0 || r >= vocab_rows) continue;
      for (int64_t i = 0; i < hidden; ++i)
        want[t * static_cast<size_t>(hidden) + static_cast<size_t>(i)] =
            table[static_cast<size_t>(r * hidden + i)];
    }
    expect_close(got, want, Tol{0, 0}, "embedding h" + std::to_string(hidden));
  }
}

TEST_P(Elementwise, KvScatterPlainAndInt8RandomSlots) {
  const DType dt = GetParam();
  for (int64_t n_tokens : {int64_t{1}, int64_t{7}, int64_t{83}}) {
    for (int head_dim : {64, 128}) {
      const int n_kv = 4;
      const int64_t n_slots = 300;
      const int64_t tok_stride = int64_t{3} * n_kv * head_dim;  // k and v inside a wider qkv row
      auto qkv = random_values(dt, static_cast<size_t>(n_tokens * tok_stride), -3.f, 3.f, 11);
      std::vector<int32_t> perm(static_cast<size_t>(n_slots));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(12));
      std::vector<int32_t> slots(perm.begin(), perm.begin() + n_tokens);
      auto dqkv = upload_half(dt, qkv);
      auto dslots = upload(slots);
      const size_t cache_elems = static_cast<size_t>(n_slots * n_kv * head_dim);
      auto kcache = zeros(cache_elems * 2), vcache = zeros(cache_elems * 2);
      auto k8 = zeros(cache_elems), v8 = zeros(cache_elems);
      auto ks = zeros(static_cast<size_t>(n_slots * n_kv) * 4),
           vs = zeros(static_cast<size_t>(n_slots * n_kv) * 4);
      auto* base = static_cast<uint16_t*>(dqkv.data());
      kc::KvScatterParams p{.dtype = dt,
                            .k = base + int64_t{n_kv} * head_dim,
                            .v = base + int64_t{2} * n_kv * head_dim,
                            .slots = dslots.as<int32_t>(),
                            .k_cache = kcache.data(),
                            .v_cache = vcache.data(),
                            .n_tokens = n_tokens,
                            .n_kv_heads = n_kv,
                            .head_dim = head_dim,
                            .k_stride = tok_stride,
                            .v_stride = tok_stride};
      ASSERT_TRUE(kc::kv_scatter(p, nullptr).ok());
      p.k_cache = k8.data();
      p.v_cache = v8.data();
      p.k_scale = ks.as<float>();
      p.v_scale = vs.as<float>();
      ASSERT_TRUE(kc::kv_scatter_int8(p, nullptr).ok());
      auto gk = download_half(dt, kcache, cache_elems), gv = download_half(dt, vcache, cache_elems);
      auto gk8 = download<int8_t>(k8, cache_elems), gv8 = download<int8_t>(v8, cache_elems);
      auto gks = download<float>(ks, static_cast<size_t>(n_slots * n_kv));
      auto gvs = download<float>(vs, static_cast<size_t>(n_slots * n_kv));
      std::vector<float> wk(cache_elems, 0.f), wv(cache_elems, 0.f);
      int bad_q = 0;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int h = 0; h < n_kv; ++h) {
          const int64_t slot = slots[static_cast<size_t>(t)];
          const size_t dst = static_cast<size_t>((slot * n_kv + h) * head_dim);
          for (int which = 0; which < 2; ++which) {
            const size_t src = static_cast<size_t>(
                t * tok_stride + int64_t{1 + which} * n_kv * head_dim + int64_t{h} * head_dim);
            float mx = 0;
            for (int i = 0; i < head_dim; ++i)
              mx = std::max(mx, std::fabs(qkv[src + static_cast<size_t>(i)]));
            const float scale = mx / 127.f;
            const float got_scale = (which == 0 ? gks : gvs)[static_cast<size_t>(slot * n_kv + h)];
            EXPECT_EQ(got_scale, scale);
            for (int i = 0; i < head_dim; ++i) {
              const float x = qkv[src + static_cast<size_t>(i)];
              (which == 0 ? wk : wv)[dst + static_cast<size_t>(i)] = x;
              const float q = std::clamp(std::nearbyint(x / scale), -127.f, 127.f);
              const int8_t got = (which == 0 ? gk8 : gv8)[dst + static_cast<size_t>(i)];
              if (std::fabs(got - q) > 0.f) ++bad_q;
              // Dequantized error is at most half a step.
              EXPECT_LE(std::fabs(got * got_scale - x), 0.5f * scale * 1.0001f + 1e-7f);
            }
          }
        }
      }
      EXPECT_EQ(bad_q, 0);
      EXPECT_EQ(gk, wk);  // untouched slots stay zero
      EXPECT_EQ(gv, wv);
    }
  }
}

TEST(ElementwiseErrors, BadArgumentsAreStatusNotCrash) {
  kc::RmsNormParams p{.dtype = DType::f32,
                      .x = reinterpret_cast<void*>(16),
                      .weight = reinterpret_cast<void*>(16),
                      .out = reinterpret_cast<void*>(16),
                      .n_tokens = 1,
                      .hidden = 8};
  auto st = kc::rmsnorm(p, nullptr);
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument);
  EXPECT_NE(st.message().find("f32"), std::string::npos) << st.message();
  kc::RotaryParams r{};
  EXPECT_EQ(kc::rotary(r, nullptr).code(), core::StatusCode::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Elementwise, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

}  // namespace
}  // namespace lightllm::cuda_test
