// tests/engine/sampler_test.cpp — the CPU sampler against HF / OpenAI semantics written out
// by hand in each test.
#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "engine/sampling/generation_defaults.h"
#include "engine/sampling/sampler.h"

namespace lightllm::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

SamplingState state(SamplingParams p, std::vector<int32_t> prompt = {},
                    std::vector<int32_t> eos = {}) {
  return make_sampling_state(p, prompt, eos);
}

std::vector<float> random_logits(std::mt19937_64& rng, int vocab) {
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(vocab));
  for (auto& x : v) x = d(rng);
  return v;
}

int32_t argmax_ref(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());  // first max
}

TEST(Sampler, GreedyIsArgmaxLowestIdOnTies) {
  Sampler s;
  SamplingState st = state(SamplingParams{});
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 2.0f, -1.0f, 2.0f}, st).token, 1);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    const auto l = random_logits(rng, 97);
    EXPECT_EQ(s.sample(l, st).token, argmax_ref(l));
  }
}

TEST(Sampler, LimitsThatCollapseToGreedy) {
  Sampler s;
  std::mt19937_64 rng(2);
  for (int i = 0; i < 50; ++i) {
    const auto l = random_logits(rng, 83);
    const int32_t g = argmax_ref(l);
    SamplingParams p;
    p.do_sample = true;
    p.seed = static_cast<uint64_t>(i);
    SamplingParams cold = p;
    cold.temperature = 1e-4f;
    SamplingState a = state(cold);
    EXPECT_EQ(s.sample(l, a).token, g) << "temperature -> 0";
    SamplingParams k1 = p;
    k1.top_k = 1;
    SamplingState b = state(k1);
    EXPECT_EQ(s.sample(l, b).token, g) << "top_k = 1";
    SamplingParams tiny_p = p;
    tiny_p.top_p = 1e-6f;
    SamplingState c = state(tiny_p);
    EXPECT_EQ(s.sample(l, c).token, g) << "top_p tiny";
  }
}

TEST(Sampler, SeedReproducibleAndIndependentOfBatchOrder) {
  Sampler s;
  std::mt19937_64 rng(3);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 40; ++i) rows.push_back(random_logits(rng, 50));
  SamplingParams p;
  p.do_sample = true;
  p.seed = 1234;
  auto run = [&](SamplingState& st) {
    std::vector<int32_t> t;
    for (const auto& r : rows) t.push_back(s.sample(r, st).token);
    return t;
  };
  SamplingState a = state(p), b = state(p);
  const auto ta = run(a);
  // Interleave b with another sequence (a different "batch"): b's tokens must not change.
  SamplingParams q = p;
  q.seed = 99;
  SamplingState other = state(q), b2 = state(p);
  std::vector<int32_t> tb;
  for (const auto& r : rows) {
    s.sample(r, other);
    tb.push_back(s.sample(r, b2).token);
  }
  EXPECT_EQ(run(b), ta);
  EXPECT_EQ(tb, ta);
  SamplingState c = state(q);
  EXPECT_NE(run(c), ta);
  // n / best_of siblings: index offsets the seed.
  SamplingState d = make_sampling_state(p, {}, {}, 1);
  EXPECT_NE(run(d), ta);
}

TEST(Sampler, PenaltiesMatchHandComputedHfAndOpenAiFormulas) {
  const std::vector<float> raw{2.0f, -1.0f, 0.5f, 3.0f, -2.0f};
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  SamplingState st = state(p, /*prompt=*/{0, 1, 1});
  st.record(3);
  st.record(3);
  st.record(2);
  // Reference, written out: HF RepetitionPenaltyLogitsProcessor over prompt ∪ output
  // (score < 0 ? score * p : score / p), then OpenAI: logit -= count*freq + (count>0)*presence
  // over generated tokens only.
  std::vector<float> expect = raw;
  for (int t : {0, 1, 2, 3}) expect[t] = expect[t] < 0 ? expect[t] * 2.0f : expect[t] / 2.0f;
  expect[3] -= 2 * 0.25f + 0.5f;
  expect[2] -= 1 * 0.25f + 0.5f;
  // = {1.0, -2.0, -0.5, 0.5, -2.0}
  EXPECT_FLOAT_EQ(expect[0], 1.0f);
  EXPECT_FLOAT_EQ(expect[2], -0.5f);
  EXPECT_FLOAT_EQ(expect[3], 0.5f);
  Sampler s;
  std::vector<float> got = raw;
  s.process(got, st);
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_FLOAT_EQ(got[i], expect[i]) << i;
  // Greedy follows the processed logits: token 0 (1.0) now beats token 3 (0.5).
  EXPECT_EQ(s.sample(raw, st).token, 0);
}

// OpenAI logit_bias: added to the raw logits before the repetition penalty (vLLM's order), so
// a bias can make a token the greedy choice or remove one; the reported logprobs stay raw.
TEST(Sampler, LogitBiasIsAddedBeforeThePenalties) {
  const std::vector<float> raw{2.0f, -1.0f, 0.5f, 3.0f};
  SamplingParams p;
  p.logit_bias = {{1, 5.0f}, {3, -100.0f}};
  p.repetition_penalty = 2.0f;
  p.return_logprobs = true;
  SamplingState st = state(p, /*prompt=*/{1});
  std::vector<float> got = raw;
  Sampler s;
  s.process(got, st);
  // token 1: (-1 + 5) / 2 = 2 (penalised after the bias); token 3: 3 - 100.
  const std::vector<float> expect{2.0f, 2.0f, 0.5f, -97.0f};
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_FLOAT_EQ(got[i], expect[i]) << i;
  p.repetition_penalty = 1.0f;
  SamplingState plain = state(p);
  const SampleOutput out = s.sample(raw, plain);
  EXPECT_EQ(out.token, 1);  // -1 + 5 = 4 beats 2
  double lse = 0;
  for (float x : raw) lse += std::exp(static_cast<double>(x));
  EXPECT_NEAR(out.logprob, -1.0 - std::log(lse), 1e-6);  // raw, not biased
}

TEST(Sampler, MinNewTokensMasksStopIds) {
  SamplingParams p;
  p.min_new_tokens = 2;
  p.stop_token_ids = {1};
  SamplingState st = state(p, {}, /*eos=*/{3});
  Sampler s;
  const std::vector<float> l{0.0f, 5.0f, 1.0f, 9.0f};
  EXPECT_EQ(s.sample(l, st).token, 2);  // 3 (eos) and 1 (stop id) masked
  EXPECT_EQ(s.sample(l, st).token, 2);
  EXPECT_EQ(s.sample(l, st).token, 3);  // two generated: no longer masked
}

TEST(Sampler, TopKKeepsTiesAndTopPFollowsHf) {
  Sampler s;
  SamplingParams p;
  p.do_sample = true;
  p.top_k = 2;
  std::vector<float> l{1.0f, 3.0f, 2.0f, 2.0f, 0.0f};
  s.process(l, state(p));
  // HF: remove scores < 2nd largest (2.0): ties at 2.0 stay.
  EXPECT_EQ(l, (std::vector<float>{kNegInf, 3.0f, 2.0f, 2.0f, kNegInf}));

  SamplingParams q;
  q.do_sample = true;
  q.top_p = 0.75f;
  std::vector<float> probs{0.5f, 0.3f, 0.15f, 0.05f};
  std::vector<float> lp;
  for (float x : probs) lp.push_back(std::log(x));
  s.process(lp, state(q));
  // Ascending [0.05, 0.15, 0.3, 0.5], cumsum [0.05, 0.2, 0.5, 1.0]; remove cum <= 0.25.
  EXPECT_TRUE(std::isfinite(lp[0]));
  EXPECT_TRUE(std::isfinite(lp[1]));
  EXPECT_EQ(lp[2], kNegInf);
  EXPECT_EQ(lp[3], kNegInf);
}

TEST(Sampler, TemperatureOneDistributionChiSquare) {
  const std::vector<double> probs{0.1, 0.2, 0.3, 0.4};
  std::vector<float> l;
  for (double x : probs) l.push_back(static_cast<float>(std::log(x)));
  SamplingParams p;
  p.do_sample = true;
  p.seed = 777;
  SamplingState st = state(p);
  Sampler s;
  const int n = 40000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(s.sample(l, st).token)];
  double chi2 = 0;
  for (size_t i = 0; i < 4; ++i) {
    const double e = n * probs[i];
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  EXPECT_LT(chi2, 16.27);  // df = 3, p = 0.001
}

TEST(Sampler, LogprobsAreRawLogSoftmax) {
  const std::vector<float> l{1.0f, 2.0f, 3.0f, 0.5f};
  double lse = 0;
  for (float x : l) lse += std::exp(static_cast<double>(x));
  lse = std::log(lse);
  SamplingParams p;
  p.return_logprobs = true;
  p.top_logprobs = 2;
  p.repetition_penalty = 1.2f;  // must not change the reported (raw) logprobs
  SamplingState st = state(p, {2});
  Sampler s;
  const SampleOutput out = s.sample(l, st);
  EXPECT_EQ(out.token, 2);
  EXPECT_NEAR(out.logprob, 3.0 - lse, 1e-6);
  ASSERT_EQ(out.top_logprobs.size(), 2u);
  EXPECT_EQ(out.top_logprobs[0].first, 2);
  EXPECT_NEAR(out.top_logprobs[0].second, 3.0 - lse, 1e-6);
  EXPECT_EQ(out.top_logprobs[1].first, 1);
  EXPECT_NEAR(out.top_logprobs[1].second, 2.0 - lse, 1e-6);
}

TEST(GenerationDefaults, FileDefaultsOverBuiltins) {
  loader::GenerationDefaults d;
  d.do_sample = true;
  d.temperature = 0.6f;
  d.top_p = 0.9f;
  const SamplingParams p = default_sampling_params(d);
  EXPECT_TRUE(p.do_sample);
  EXPECT_FLOAT_EQ(p.temperature, 0.6f);
  EXPECT_FLOAT_EQ(p.top_p, 0.9f);
  EXPECT_EQ(p.top_k, SamplingParams{}.top_k);
  EXPECT_EQ(p.max_new_tokens, SamplingParams{}.max_new_tokens);
}

}  // namespace
}  // namespace lightllm::sampling
