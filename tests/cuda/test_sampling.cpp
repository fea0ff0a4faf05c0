// tests/cuda/test_sampling.cpp — ops::sample on the GPU against the host Sampler
// (src/engine/sampling/sampler.cpp, the truth): greedy is the argmax with ties to the lowest id,
// penalties and stop masks leave the logits bit-identical to Sampler::process, top-k / top-p
// never pick a token the host removed, the empirical distribution of seeded draws matches the
// host's probabilities (chi-square), equal seeds give equal tokens (and the host's counter-based
// draw gives the same tokens), and logprobs equal the raw log_softmax within 1e-4.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "cuda_test_util.h"
#include "engine/sampling/device_sampling.h"
#include "engine/sampling/sampler.h"
#include "ops/ops.h"
#include "ops/sampling_ops.h"

namespace lightllm::cuda_test {
namespace {

using core::Tensor;
using sampling::SamplingState;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct DeviceResult {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::vector<float> logits_after;  // the penalised / masked logits the kernel left behind
};

// Runs ops::sample on `logits` ([n, vocab] row-major) for the given states (one per row), with
// logprobs asked for unless `logprobs` is false (plain greedy rows then take the split arg max),
// and checks the second copy of the ids.
DeviceResult run_device(const std::vector<float>& logits, int64_t vocab,
                        const std::vector<SamplingState>& states, bool logprobs = true) {
  const auto n = static_cast<int64_t>(states.size());
  kernels::SampleBatch batch;
  for (const SamplingState& st : states)
    EXPECT_TRUE(sampling::append_sample_row(st, vocab, batch).ok());
  auto dl = ops::empty_on(core::Device::cuda, {n, vocab}, DType::f32);
  auto di = ops::empty_on(core::Device::cuda, {n}, DType::i32);
  auto dp = ops::empty_on(core::Device::cuda, {n}, DType::f32);
  auto dc = ops::empty_on(core::Device::cuda, {n}, DType::i32);
  EXPECT_TRUE(dl.ok() && di.ok() && dp.ok() && dc.ok());
  Tensor host_in = Tensor::view(const_cast<float*>(logits.data()), {n, vocab}, DType::f32);
  EXPECT_TRUE(ops::copy_to_device(host_in, *dl).ok());
  const core::Status st = ops::sample(*dl, batch, *di, logprobs ? &*dp : nullptr, &*dc);
  EXPECT_TRUE(st.ok()) << st.to_string();
  DeviceResult r;
  r.ids.resize(static_cast<size_t>(n));
  r.logprobs.resize(static_cast<size_t>(n));
  r.logits_after.resize(logits.size());
  Tensor hi = Tensor::view(r.ids.data(), {n}, DType::i32);
  Tensor hp = Tensor::view(r.logprobs.data(), {n}, DType::f32);
  Tensor hl = Tensor::view(r.logits_after.data(), {n, vocab}, DType::f32);
  EXPECT_TRUE(ops::copy_to_host(*di, hi).ok());
  EXPECT_TRUE(ops::copy_to_host(*dp, hp).ok());
  EXPECT_TRUE(ops::copy_to_host(*dl, hl).ok());
  std::vector<int32_t> copy(static_cast<size_t>(n));
  Tensor hc = Tensor::view(copy.data(), {n}, DType::i32);
  EXPECT_TRUE(ops::copy_to_host(*dc, hc).ok());
  EXPECT_EQ(copy, r.ids) << "out_ids_copy must hold the ids again";
  return r;
}

std::vector<float> normal_logits(size_t n, float sd, uint64_t seed, bool bf16_ties) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16_ties ? from_bits(DType::bf16, to_bits(DType::bf16, d(rng))) : d(rng);
  return v;
}

std::span<const float> row_of(const std::vector<float>& v, int64_t vocab, int64_t r) {
  return {v.data() + r * vocab, static_cast<size_t>(vocab)};
}

SamplingState make_state(SamplingParams p, const std::vector<int32_t>& prompt,
                         const std::vector<int32_t>& eos = {}) {
  return sampling::make_sampling_state(p, prompt, eos);
}

// Random prompt / output history so every penalty path has work.
SamplingState penalised_state(SamplingParams p, int64_t vocab, uint64_t seed, int n_prompt,
                              int n_out) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  for (auto& t : prompt) t = tok(rng);
  SamplingState st = make_state(p, prompt, {static_cast<int32_t>(vocab - 1), 0});
  for (int i = 0; i < n_out; ++i)
    st.record(i % 3 == 0 ? prompt[static_cast<size_t>(i) % prompt.size()] : tok(rng));
  return st;
}

// With logprobs: one block per row; without: the split arg max (unaligned rows take its 4-byte
// loads), its per-row counts reused across the calls.
TEST(CudaSampling, GreedyIsArgmaxLowestIdOnTies) {
  for (const bool logprobs : {true, false})
    for (int64_t vocab : {int64_t{7}, int64_t{769}, int64_t{32000}, int64_t{50257}, int64_t{128256},
                          int64_t{151936}}) {
      const int64_t n = 9;
      // bf16-rounded logits: many exact ties, including at the maximum.
      auto logits = normal_logits(static_cast<size_t>(n * vocab), 2.f, 11 + vocab, true);
      // Row 0: all equal → id 0. Row 1: the maximum twice, the later copy first in memory order.
      std::fill_n(logits.begin(), vocab, 0.5f);
      logits[static_cast<size_t>(vocab + vocab - 1)] = 100.f;
      logits[static_cast<size_t>(vocab + vocab / 2)] = 100.f;
      // Row 2: NaN everywhere but one id (NaN never wins). Row 3: all NaN → id 0.
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::fill_n(logits.begin() + 2 * vocab, 2 * vocab, nan);
      logits[static_cast<size_t>(2 * vocab + vocab / 3)] = -5.f;
      std::vector<SamplingState> states(static_cast<size_t>(n), make_state(SamplingParams{}, {}));
      // Row 4: the maximum in the last element (the last split's tail).
      logits[static_cast<size_t>(5 * vocab - 1)] = 1000.f;
      const DeviceResult d = run_device(logits, vocab, states, logprobs);
      SCOPED_TRACE(logprobs ? "one block per row" : "split arg max");
      EXPECT_EQ(d.ids[4], vocab - 1) << "vocab " << vocab;
      EXPECT_EQ(d.ids[2], vocab / 3) << "vocab " << vocab;
      EXPECT_EQ(d.ids[3], 0) << "vocab " << vocab;
      for (int64_t r = 0; r < n; ++r) {
        if (r == 2 || r == 3) continue;
        auto row = row_of(logits, vocab, r);
        const auto want =
            static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        EXPECT_EQ(d.ids[static_cast<size_t>(r)], want) << "vocab " << vocab << " row " << r;
      }
      EXPECT_EQ(d.ids[0], 0);
    }
}

// ops::sample skips the upload of rows the device already holds from the last call on the
// stream (greedy rows are the same every step): results must not depend on it.
TEST(CudaSampling, AnUnchangedBatchIsNotUploadedAgainAndStillSamplesRight) {
  const int64_t vocab = 769, n = 3;
  auto argmax = [vocab](const std::vector<float>& l, int64_t r, int32_t skip) {
    int32_t best = -1;
    for (int32_t i = 0; i < vocab; ++i) {
      if (i == skip) continue;
      if (best < 0 ||
          l[static_cast<size_t>(r * vocab + i)] > l[static_cast<size_t>(r * vocab + best)])
        best = i;
    }
    return best;
  };
  const std::vector<SamplingState> plain(static_cast<size_t>(n), make_state(SamplingParams{}, {}));
  std::vector<float> logits;
  for (uint64_t seed : {5u, 6u}) {  // the same rows twice, new logits each time
    logits = normal_logits(static_cast<size_t>(n * vocab), 2.f, seed, false);
    const DeviceResult d = run_device(logits, vocab, plain);
    for (int64_t r = 0; r < n; ++r)
      EXPECT_EQ(d.ids[static_cast<size_t>(r)], argmax(logits, r, -1)) << "seed " << seed;
  }
  // Other bytes: row 0's best token is a stop id masked before min_new_tokens.
  const int32_t top0 = argmax(logits, 0, -1);
  SamplingParams p;
  p.min_new_tokens = 2;
  std::vector<SamplingState> masked = plain;
  masked[0] = make_state(p, {}, {top0});
  EXPECT_EQ(run_device(logits, vocab, masked).ids[0], argmax(logits, 0, top0));
  // The plain rows again: uploaded again, so nothing stays masked.
  EXPECT_EQ(run_device(logits, vocab, plain).ids[0], top0);
}

TEST(CudaSampling, PenaltiesAndMasksMatchHostBitForBit) {
  const int64_t vocab = 32000;
  std::vector<SamplingState> states;
  const float reps[] = {1.0f, 1.3f, 0.7f, 1.1f, 1.0f, 2.0f, 1.05f};
  const float pres[] = {0.0f, 0.0f, 0.5f, -0.3f, 1.2f, 2.0f, 0.1f};
  const float freq[] = {0.0f, 0.0f, 0.25f, 0.7f, -0.4f, 1.5f, 0.0f};
  for (int i = 0; i < 7; ++i) {
    SamplingParams p;  // greedy: Sampler::process stops right after the penalties
    p.repetition_penalty = reps[i];
    p.presence_penalty = pres[i];
    p.frequency_penalty = freq[i];
    p.min_new_tokens = i % 2 == 0 ? 100 : 0;  // even rows: EOS ids masked
    states.push_back(penalised_state(p, vocab, 100 + i, 50 + 300 * i, 5 + 20 * i));
  }
  const auto n = static_cast<int64_t>(states.size());
  auto logits = normal_logits(static_cast<size_t>(n * vocab), 3.f, 5, false);
  const DeviceResult d = run_device(logits, vocab, states);
  sampling::Sampler host;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<float> want(row_of(logits, vocab, r).begin(), row_of(logits, vocab, r).end());
    host.process(want, states[static_cast<size_t>(r)]);
    int bad = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const float g = d.logits_after[static_cast<size_t>(r * vocab + i)];
      const float w = want[static_cast<size_t>(i)];
      if (std::memcmp(&g, &w, sizeof(float)) != 0 && ++bad <= 3)
        ADD_FAILURE() << "row " << r << " id " << i << " device " << g << " host " << w;
    }
    EXPECT_EQ(bad, 0) << "row " << r;
    SamplingState copy = states[static_cast<size_t>(r)];
    EXPECT_EQ(d.ids[static_cast<size_t>(r)], host.sample(row_of(logits, vocab, r), copy).token)
        << "row " << r;
  }
}

struct Config {
  float temperature;
  int top_k;
  float top_p;
  float repetition_penalty;
};
const Config kConfigs[] = {
    {0.7f, 50, 1.0f, 1.0f},    {1.0f, 0, 0.9f, 1.0f},  {1.3f, 100, 0.8f, 1.2f},
    {0.5f, 0, 0.5f, 1.0f},     {1.0f, 1, 1.0f, 1.0f},  {1.0f, 0, 1e-6f, 1.0f},
    {2.0f, 5000, 0.99f, 1.0f}, {1.0f, 20, 0.3f, 1.5f}, {0.9f, 0, 1.0f, 1.0f},
};

TEST(CudaSampling, TopKTopPNeverLeaveTheHostAllowedSet) {
  for (int64_t vocab : {int64_t{769}, int64_t{32000}, int64_t{128256}}) {
    for (bool ties : {false, true}) {
      for (const Config& c : kConfigs) {
        const int64_t n = 48;
        std::vector<SamplingState> states;
        for (int64_t r = 0; r < n; ++r) {
          SamplingParams p;
          p.do_sample = true;
          p.temperature = c.temperature;
          p.top_k = c.top_k;
          p.top_p = c.top_p;
          p.repetition_penalty = c.repetition_penalty;
          p.seed = static_cast<uint64_t>(1000 + r);
          states.push_back(penalised_state(p, vocab, 7 + static_cast<uint64_t>(r), 40, 3));
        }
        // Few distinct rows (so ties and sharp distributions both appear), many draws.
        auto logits = normal_logits(static_cast<size_t>(n * vocab), ties ? 1.5f : 4.f,
                                    static_cast<uint64_t>(vocab) + (ties ? 1 : 0), ties);
        const DeviceResult d = run_device(logits, vocab, states);
        sampling::Sampler host;
        for (int64_t r = 0; r < n; ++r) {
          std::vector<float> proc(row_of(logits, vocab, r).begin(), row_of(logits, vocab, r).end());
          host.process(proc, states[static_cast<size_t>(r)]);
          const int32_t t = d.ids[static_cast<size_t>(r)];
          ASSERT_GE(t, 0);
          ASSERT_LT(t, vocab);
          EXPECT_NE(proc[static_cast<size_t>(t)], kNegInf)
              << "vocab " << vocab << " ties " << ties << " T " << c.temperature << " k " << c.top_k
              << " p " << c.top_p << " row " << r << " picked removed id " << t;
        }
      }
    }
  }
}

// Upper critical value of chi-square with `df` degrees of freedom at z standard deviations
// (Wilson–Hilferty), z = 4.5: a false alarm about once in 300,000 runs.
double chi2_critical(int df) {
  const double z = 4.5, a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

TEST(CudaSampling, DrawsFollowTheHostDistributionChiSquare) {
  const int64_t vocab = 1000;
  struct Case {
    Config c;
    bool ties;
  };
  const Case cases[] = {{{0.9f, 30, 0.9f, 1.0f}, false},
                        {{1.0f, 0, 0.95f, 1.0f}, true},
                        {{1.5f, 200, 1.0f, 1.0f}, false},
                        {{0.6f, 0, 0.7f, 1.3f}, true}};
  for (const Case& cs : cases) {
    auto one = normal_logits(static_cast<size_t>(vocab), cs.ties ? 1.0f : 1.5f, 77, cs.ties);
    SamplingParams p;
    p.do_sample = true;
    p.temperature = cs.c.temperature;
    p.top_k = cs.c.top_k;
    p.top_p = cs.c.top_p;
    p.repetition_penalty = cs.c.repetition_penalty;
    p.seed = 4242;
    p.min_new_tokens = 0;  // the counter (n_generated) varies per draw: no stop-id mask
    SamplingState base = penalised_state(p, vocab, 3, 30, 0);
    // Host probabilities over the kept set.
    std::vector<float> proc = one;
    sampling::Sampler host;
    host.process(proc, base);
    const float mx = *std::max_element(proc.begin(), proc.end());
    std::vector<double> prob(static_cast<size_t>(vocab));
    double z = 0;
    for (int64_t i = 0; i < vocab; ++i)
      z += prob[static_cast<size_t>(i)] = proc[static_cast<size_t>(i)] == kNegInf
                                              ? 0.0
                                              : std::exp(double(proc[static_cast<size_t>(i)]) - mx);
    for (auto& q : prob) q /= z;

    const int64_t n = 4000, launches = 10;
    std::vector<int64_t> counts(static_cast<size_t>(vocab), 0);
    std::vector<float> logits(static_cast<size_t>(n * vocab));
    for (int64_t r = 0; r < n; ++r) std::copy(one.begin(), one.end(), logits.begin() + r * vocab);
    for (int64_t l = 0; l < launches; ++l) {
      std::vector<SamplingState> states(static_cast<size_t>(n), base);
      for (int64_t r = 0; r < n; ++r)
        states[static_cast<size_t>(r)].n_generated = l * n + r;  // counter
      const DeviceResult d = run_device(logits, vocab, states);
      for (int32_t t : d.ids) ++counts[static_cast<size_t>(t)];
    }
    const double total = static_cast<double>(n * launches);
    // Bins with expected count >= 5 stand alone; the rest are pooled into one bin.
    double chi2 = 0, pooled_obs = 0, pooled_exp = 0;
    int bins = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const double e = prob[static_cast<size_t>(i)] * total;
      const double o = static_cast<double>(counts[static_cast<size_t>(i)]);
      if (e == 0.0) {
        EXPECT_EQ(o, 0.0) << "drew removed id " << i;
      } else if (e >= 5.0) {
        chi2 += (o - e) * (o - e) / e;
        ++bins;
      } else {
        pooled_obs += o;
        pooled_exp += e;
      }
    }
    if (pooled_exp > 0) {
      chi2 += (pooled_obs - pooled_exp) * (pooled_obs - pooled_exp) / pooled_exp;
      ++bins;
    }
    ASSERT_GE(bins, 2);
    EXPECT_LT(chi2, chi2_critical(bins - 1)) << "T " << cs.c.temperature << " k " << cs.c.top_k
                                             << " p " << cs.c.top_p << " bins " << bins;
  }
}

TEST(CudaSampling, SameSeedSameTokensAndTheHostCounterDrawAgrees) {
  const int64_t vocab = 32000, n = 128;
  auto logits = normal_logits(static_cast<size_t>(n * vocab), 1.0f, 9, false);
  std::vector<SamplingState> states;
  for (int64_t r = 0; r < n; ++r) {
    SamplingParams p;
    p.do_sample = true;
    p.top_p = 0.95f;
    p.seed = static_cast<uint64_t>(r % 4);  // rows share seeds, with different logits/counters
    SamplingState st = make_state(p, {});
    st.n_generated = r / 4;
    states.push_back(st);
  }
  const DeviceResult a = run_device(logits, vocab, states);
  const DeviceResult b = run_device(logits, vocab, states);
  EXPECT_EQ(a.ids, b.ids);
  // The host's draw (the CPU, and a CUDA step's fallback) picks the same tokens,
  // up to float-vs-double rounding exactly at a CDF boundary.
  sampling::Sampler host;
  int mismatches = 0;
  for (int64_t r = 0; r < n; ++r) {
    SamplingState st = states[static_cast<size_t>(r)];
    mismatches += host.sample(row_of(logits, vocab, r), st).token != a.ids[static_cast<size_t>(r)];
  }
  EXPECT_LE(mismatches, 1) << "of " << n;
  // A different seed changes the draws.
  for (auto& st : states) st.seed += 1000;
  const DeviceResult c = run_device(logits, vocab, states);
  EXPECT_NE(a.ids, c.ids);
}

TEST(CudaSampling, LogprobsAreRawLogSoftmax) {
  for (int64_t vocab : {int64_t{769}, int64_t{128256}}) {
    std::vector<SamplingState> states;
    for (int i = 0; i < 16; ++i) {
      SamplingParams p;
      p.do_sample = i % 2 == 1;
      p.return_logprobs = true;
      p.repetition_penalty = i % 3 == 0 ? 1.4f : 1.0f;  // the chosen id is often penalised
      p.frequency_penalty = i % 4 == 0 ? 0.5f : 0.0f;
      p.seed = static_cast<uint64_t>(i);
      states.push_back(penalised_state(p, vocab, 50 + static_cast<uint64_t>(i), 200, 10));
    }
    const auto n = static_cast<int64_t>(states.size());
    auto logits = normal_logits(static_cast<size_t>(n * vocab), 2.5f, 31, false);
    const DeviceResult d = run_device(logits, vocab, states);
    for (int64_t r = 0; r < n; ++r) {
      auto row = row_of(logits, vocab, r);
      const double mx = *std::max_element(row.begin(), row.end());
      double s = 0;
      for (float x : row) s += std::exp(double(x) - mx);
      const int32_t t = d.ids[static_cast<size_t>(r)];
      const double want = double(row[static_cast<size_t>(t)]) - (mx + std::log(s));
      EXPECT_NEAR(d.logprobs[static_cast<size_t>(r)], want, 1e-4)
          << "vocab " << vocab << " row " << r;
    }
  }
}

}  // namespace
}  // namespace lightllm::cuda_test
