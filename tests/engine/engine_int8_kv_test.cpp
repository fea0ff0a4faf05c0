// int8 KV cache (--kv-cache-dtype int8; issue #4): greedy outputs through the real engine agree
// with the f32 and bf16 KV caches (free-running, bundled + golden models); teacher-forced on the
// f32 golden models (models::load_model + DirectRunner) the logits' error is measured and >= 95%
// of tokens agree, every disagreement a near-tie; the token capacity at equal memory is
// compared with bf16 by allocating both pools.
//
// Agreement is counted two ways per request: tokens before the first divergence (a strict
// measure: after a divergence the contexts differ) and position-by-position over the whole
// output. The figures are printed and recorded as test properties (docs/PERFORMANCE.md).
#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "engine_harness.h"
#include "kv/kv_sizing.h"
#include "models/direct_runner.h"
#include "models/model.h"

using namespace lightllm;
using namespace lightllm::test_util;

namespace {

struct Agreement {
  int64_t total = 0, prefix = 0, positional = 0;
  double prefix_rate() const { return total ? static_cast<double>(prefix) / total : 0; }
  double positional_rate() const { return total ? static_cast<double>(positional) / total : 0; }
};

Agreement compare(const std::vector<Completion>& a, const std::vector<Completion>& ref) {
  Agreement g;
  for (size_t r = 0; r < ref.size(); ++r) {
    const auto& x = a[r].ids;
    const auto& y = ref[r].ids;
    g.total += static_cast<int64_t>(y.size());
    bool diverged = false;
    for (size_t i = 0; i < y.size(); ++i) {
      const bool same = i < x.size() && x[i] == y[i];
      diverged = diverged || !same;
      g.prefix += diverged ? 0 : 1;
      g.positional += same ? 1 : 0;
    }
  }
  return g;
}

std::vector<Completion> run_with_kv(const std::string& dir, const std::string& kv_dtype,
                                    const std::vector<GenerateRequest>& reqs) {
  auto engine = make_engine({.model_dir = dir, .kv_cache_dtype = kv_dtype});
  if (!engine) return {};
  return run_batch(*engine, reqs);
}

// Free-running greedy: one flipped near-tie changes the whole rest of a request, so this is a
// strict measure, and it does NOT reach the 95% here: 59-89% on the random-weight
// golden models (logits within +-4, many near-ties), ~80% on the bundled 12.6M model (whose
// f32 vs bf16 KV runs already agree on only ~92%). The figures are printed and recorded in
// docs/PERFORMANCE.md; the assertion is a sanity floor. The per-token agreement in the same
// context (>= 95%, every flip a near-tie) is asserted by Int8KvLogits below.
// English prompts for the bundled model (random ids make flat, near-tie distributions).
std::vector<GenerateRequest> text_requests() {
  std::vector<GenerateRequest> reqs;
  for (const char* p :
       {"A computer is a machine that", "Once upon a time", "The sun rises in the east and",
        "Water boils at", "In the year 1900, the city of London was the largest", "Cats and dogs",
        "The history of mathematics begins with the counting of", "Music is",
        "A river flows from the mountains down to the sea, carrying", "The first king of",
        "Scientists believe that the universe", "Bread is made from flour, water and",
        "The king said", "Many people enjoy reading books because they", "Trees grow", "It was"}) {
    GenerateRequest r;
    r.prompt = p;
    reqs.push_back(r);
  }
  return reqs;
}

struct GreedyCase {
  std::string name;
  double min_rate;
};

class Int8KvGreedy : public ::testing::TestWithParam<GreedyCase> {};

TEST_P(Int8KvGreedy, AgreementWithF32AndBf16Kv) {
  const GreedyCase gc = GetParam();
  const bool bundled = gc.name == "bundled";
  const std::string dir = bundled ? kBundledModel : kGoldenModels + "/" + gc.name;
  // 16 requests, prompts 1..60 tokens, 48 new tokens each (EOS ignored: full-length outputs).
  auto reqs = random_requests(16, 512, 60, 1, 777);
  if (bundled) reqs = text_requests();
  for (auto& r : reqs) {
    r.params.max_new_tokens = 48;
    r.params.ignore_eos = true;
  }
  const auto f32 = run_with_kv(dir, "f32", reqs);
  const auto bf16 = run_with_kv(dir, "bf16", reqs);
  const auto int8 = run_with_kv(dir, "int8", reqs);
  ASSERT_EQ(int8.size(), reqs.size());
  const Agreement vs_f32 = compare(int8, f32), vs_bf16 = compare(int8, bf16),
                  bf16_vs_f32 = compare(bf16, f32);
  std::cout << gc.name << ": int8 vs f32 KV: " << vs_f32.prefix << "/" << vs_f32.total
            << " tokens before the first divergence, " << vs_f32.positional
            << " position by position; int8 vs bf16 KV: " << vs_bf16.prefix << " / "
            << vs_bf16.positional << "; bf16 vs f32 KV: " << bf16_vs_f32.prefix << " / "
            << bf16_vs_f32.positional << "\n";
  RecordProperty("int8_vs_f32_prefix_rate", std::to_string(vs_f32.prefix_rate()));
  RecordProperty("int8_vs_bf16_prefix_rate", std::to_string(vs_bf16.prefix_rate()));
  EXPECT_EQ(vs_f32.total, 16 * 48);
  EXPECT_GE(vs_f32.positional_rate(), gc.min_rate);
  EXPECT_GE(vs_bf16.positional_rate(), gc.min_rate);
}

INSTANTIATE_TEST_SUITE_P(Models, Int8KvGreedy,
                         ::testing::Values(GreedyCase{"bundled", 0.5}, GreedyCase{"llama-f32", 0.5},
                                           GreedyCase{"mistral-f32", 0.5},
                                           GreedyCase{"qwen2-f32", 0.5},
                                           GreedyCase{"internlm-f32", 0.5}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// Teacher-forced: the same prompts and the f32 pool's greedy continuation fed to an f32 and an
// int8 pool. Per position: the logits' error, and whether the argmax agrees; where it does not,
// the two candidates must be a near-tie in the f32 logits (gap within twice the max error).
TEST(Int8KvLogits, ErrorAgainstF32KvAndPerTokenAgreement) {
  for (const std::string name : {"llama-f32", "mistral-f32", "qwen2-f32", "internlm-f32"}) {
    auto model = models::load_model(kGoldenModels + "/" + name);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const auto reqs = random_requests(8, 512, 40, 1, 31);
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& r : reqs) prompts.push_back(r.prompt_ids);

    DirectRunner ref(**model, 1024, 8, true, core::DType::f32);
    DirectRunner q(**model, 1024, 8, true, core::DType::i8);
    const int64_t vocab = (*model)->shape().vocab;
    double max_abs = 0, max_logit = 0, sum_sq_err = 0, sum_sq = 0, max_flip_gap = 0;
    int64_t rows = 0, argmax_same = 0;
    std::vector<std::vector<int32_t>> feed = prompts;
    for (int step = 0; step < 48; ++step) {
      auto a = ref.step(feed, false);
      auto b = q.step(feed, false);
      ASSERT_TRUE(a.ok() && b.ok());
      for (size_t r = 0; r < prompts.size(); ++r) {
        const float* x = a->data<float>() + static_cast<int64_t>(r) * vocab;
        const float* y = b->data<float>() + static_cast<int64_t>(r) * vocab;
        for (int64_t v = 0; v < vocab; ++v) {
          const double d = std::abs(static_cast<double>(x[v]) - y[v]);
          max_abs = std::max(max_abs, d);
          max_logit = std::max(max_logit, std::abs(static_cast<double>(x[v])));
          sum_sq_err += d * d;
          sum_sq += static_cast<double>(x[v]) * x[v];
        }
        const int32_t next = DirectRunner::argmax(x, vocab);  // the f32 stream drives both
        const int32_t other = DirectRunner::argmax(y, vocab);
        argmax_same += next == other ? 1 : 0;
        max_flip_gap = std::max(max_flip_gap, static_cast<double>(x[next]) - x[other]);
        feed[r] = {next};
        ++rows;
      }
    }
    const double rel_rms = std::sqrt(sum_sq_err / sum_sq);
    std::cout << name << ": int8 KV logits vs f32 KV over " << rows << " positions: max |err| "
              << max_abs << " (max |logit| " << max_logit << "), relative RMS error " << rel_rms
              << ", argmax equal " << argmax_same << "/" << rows
              << ", largest f32 gap where they differ " << max_flip_gap << "\n";
    RecordProperty(name + "_int8_logits_max_abs_err", std::to_string(max_abs));
    RecordProperty(name + "_int8_logits_rel_rms_err", std::to_string(rel_rms));
    // Symmetric per-token-per-head int8 rounds each K/V element by at most 1/254 of its row's
    // max: the logits move by about a percent, not more.
    EXPECT_LT(rel_rms, 0.02) << name;
    EXPECT_GE(argmax_same, rows * 95 / 100) << name;
    EXPECT_LE(max_flip_gap, 2 * max_abs) << name << ": a flip that is not a near-tie";
  }
}

// Capacity at the same memory: allocate a bf16 pool, give int8 the same bytes, count slots.
int64_t pool_bytes(const models::KvStorage& kv) {
  int64_t b = 0;
  for (const auto& l : kv.layers)
    for (const auto* t : {&l.k, &l.v, &l.k_scale, &l.v_scale})
      if (t->defined()) b += t->numel() * static_cast<int64_t>(core::dtype_size(t->dtype()));
  return b;
}

TEST(Int8KvCapacity, TokensAtEqualMemoryVsBf16) {
  struct Shape {
    const char* name;
    int layers, kv_heads, head_dim;
    double min_ratio;  // what the f32-scale layout gives: 2d / (d + 4)
  };
  for (const Shape s : {Shape{"llama-7b (head_dim 128)", 32, 32, 128, 1.9},
                        Shape{"bundled tiny (head_dim 64)", 6, 2, 64, 1.88},
                        Shape{"golden (head_dim 16)", 2, 2, 16, 1.6}}) {
    const kv::KvShape shape{s.layers, s.kv_heads, s.head_dim};
    const int64_t bf16_tokens = 1000;
    const auto bf16 = models::KvStorage::allocate(s.layers, bf16_tokens, s.kv_heads, s.head_dim,
                                                  core::DType::bf16);
    const int64_t budget = pool_bytes(bf16);
    auto int8_tokens = kv::tokens_for_bytes(budget, shape, *kv::parse_kv_dtype("int8"));
    ASSERT_TRUE(int8_tokens.ok());
    const auto int8 = models::KvStorage::allocate(s.layers, *int8_tokens, s.kv_heads, s.head_dim,
                                                  core::DType::i8);
    EXPECT_LE(pool_bytes(int8), budget) << s.name;  // the sizing matches what is allocated
    EXPECT_EQ(pool_bytes(int8),
              *int8_tokens * *kv::bytes_per_token(shape, *kv::parse_kv_dtype("int8")));
    const double ratio = static_cast<double>(*int8_tokens) / bf16_tokens;
    std::cout << s.name << ": " << budget << " bytes hold " << bf16_tokens << " bf16 tokens, "
              << *int8_tokens << " int8 tokens (" << ratio << "x)\n";
    EXPECT_GE(ratio, s.min_ratio - 1e-9) << s.name;
  }
}

}  // namespace
