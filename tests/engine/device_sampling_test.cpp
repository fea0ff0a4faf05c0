// tests/engine/device_sampling_test.cpp — the CPU-side pieces of device sampling: Philox
// against the Random123 known-answer vectors, the host sampler's counter-based draw, the
// packing of SamplingStates into a kernels::SampleBatch, and ops::sample's host checks.
// (The kernel itself is tested against the host Sampler in tests/cuda/test_sampling.cpp.)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "engine/sampling/device_sampling.h"
#include "engine/sampling/sampler.h"
#include "kernels/philox.h"
#include "ops/ops.h"
#include "ops/sampling_ops.h"

namespace lightllm::sampling {
namespace {

using kernels::Philox4x32;

TEST(Philox, Random123KnownAnswers) {
  // Random123 tests/kat_vectors, "philox4x32 10": counter[4] key[2] -> result[4].
  struct Kat {
    Philox4x32 ctr;
    uint32_t k0, k1;
    Philox4x32 want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 got = kernels::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.want.v[i]) << "word " << i;
  }
}

TEST(Philox, UniformIsInRangeAndRoughlyUniform) {
  double sum = 0;
  for (uint64_t n = 0; n < 20000; ++n) {
    const double u = kernels::philox_uniform01(42, n);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 20000, 0.5, 0.01);
  EXPECT_NE(kernels::philox_uniform01(1, 0), kernels::philox_uniform01(2, 0));
  EXPECT_NE(kernels::philox_uniform01(1, 0), kernels::philox_uniform01(1, 1));
}

TEST(CounterRng, HostDrawIsPhiloxOfSeedAndTokenNumber) {
  // Draw N is philox_uniform01(seed, N) — check by inverting the CDF by hand.
  std::mt19937_64 rng(7);
  std::normal_distribution<float> d(0.f, 1.5f);
  std::vector<float> logits(61);
  SamplingParams p;
  p.do_sample = true;
  p.seed = 99;
  SamplingState st = make_sampling_state(p, {}, {});
  EXPECT_EQ(st.seed, 99u);
  Sampler s;
  for (int step = 0; step < 30; ++step) {
    for (auto& x : logits) x = d(rng);
    double mx = *std::max_element(logits.begin(), logits.end()), total = 0;
    for (float x : logits) total += std::exp(double(x) - mx);
    const double u = kernels::philox_uniform01(99, static_cast<uint64_t>(step)) * total;
    double cum = 0;
    int32_t want = 60;
    for (int32_t i = 0; i < 61; ++i) {
      cum += std::exp(double(logits[i]) - mx);
      if (u < cum) {
        want = i;
        break;
      }
    }
    EXPECT_EQ(s.sample(logits, st).token, want) << "step " << step;
  }
}

TEST(DevicePacking, RowsCarryParamsSeedCounterPenaltiesAndMasks) {
  SamplingParams p;
  p.do_sample = true;
  p.temperature = 0.7f;
  p.top_p = 0.9f;
  p.top_k = 40;
  p.repetition_penalty = 1.3f;
  p.frequency_penalty = 0.5f;
  p.min_new_tokens = 3;
  p.seed = 5;
  p.stop_token_ids = {9};
  SamplingState a =
      make_sampling_state(p, std::vector<int32_t>{4, 2, 4, 7, 1000}, std::vector<int32_t>{3});
  a.record(7);
  a.record(8);
  a.record(8);
  SamplingParams q;  // greedy, no penalties: nothing but the row
  q.min_new_tokens = 0;
  SamplingState b = make_sampling_state(q, std::vector<int32_t>{1, 2}, std::vector<int32_t>{3});

  kernels::SampleBatch batch;
  ASSERT_TRUE(append_sample_row(a, 100, batch).ok());
  ASSERT_TRUE(append_sample_row(b, 100, batch).ok());
  ASSERT_EQ(batch.rows.size(), 2u);
  const kernels::SampleRow& ra = batch.rows[0];
  EXPECT_EQ(ra.do_sample, 1);
  EXPECT_EQ(ra.temperature, 0.7f);
  EXPECT_EQ(ra.top_p, 0.9f);
  EXPECT_EQ(ra.top_k, 40);
  EXPECT_EQ(ra.repetition_penalty, 1.3f);
  EXPECT_EQ(ra.frequency_penalty, 0.5f);
  EXPECT_EQ(ra.seed, 5u);
  EXPECT_EQ(ra.counter, 3u);
  // prompt ∪ output, distinct, sorted, id 1000 (outside the vocab) skipped; counts = outputs.
  std::map<int32_t, int32_t> pen;
  for (int32_t j = ra.pen_begin; j < ra.pen_end; ++j)
    pen[batch.pen_tokens[j]] = batch.pen_counts[j];
  EXPECT_EQ(pen, (std::map<int32_t, int32_t>{{2, 0}, {4, 0}, {7, 1}, {8, 2}}));
  // 3 generated == min_new_tokens: no mask any more.
  EXPECT_EQ(ra.mask_end - ra.mask_begin, 0);
  const kernels::SampleRow& rb = batch.rows[1];
  EXPECT_EQ(rb.do_sample, 0);
  EXPECT_EQ(rb.pen_begin, ra.pen_end);
  EXPECT_EQ(rb.pen_end, rb.pen_begin);
  EXPECT_EQ(rb.counter, 0u);
  EXPECT_EQ(rb.seed, 0u);  // greedy rows draw nothing: no seed, no counter
  EXPECT_TRUE(ops::check_sample_batch(batch, 2, 100).ok());
  // ... so a greedy row is the same bytes every step (ops::sample then skips its upload).
  kernels::SampleBatch before, later;
  ASSERT_TRUE(append_sample_row(b, 100, before).ok());
  b.record(5);
  ASSERT_TRUE(append_sample_row(b, 100, later).ok());
  EXPECT_EQ(std::memcmp(&later.rows[0], &before.rows[0], sizeof(kernels::SampleRow)), 0);

  // Before min_new_tokens the stop ids (EOS + stop_token_ids) are masked.
  SamplingState c = make_sampling_state(p, std::vector<int32_t>{}, std::vector<int32_t>{3});
  kernels::SampleBatch b2;
  ASSERT_TRUE(append_sample_row(c, 100, b2).ok());
  EXPECT_EQ(std::vector<int32_t>(b2.mask_tokens.begin(), b2.mask_tokens.end()),
            (std::vector<int32_t>{3, 9}));
  // Presence/frequency only: output ids without the prompt.
  SamplingParams f;
  f.presence_penalty = 0.4f;
  SamplingState d = make_sampling_state(f, std::vector<int32_t>{11, 12}, {});
  d.record(12);
  d.record(13);
  kernels::SampleBatch b3;
  ASSERT_TRUE(append_sample_row(d, 100, b3).ok());
  EXPECT_EQ(b3.pen_tokens, (std::vector<int32_t>{12, 13}));
  EXPECT_EQ(b3.pen_counts, (std::vector<int32_t>{1, 1}));
}

// A row queued while the sequence has samples on the device that are not yet recorded (a step
// started before the previous one finished) counts them as recorded.
TEST(DevicePacking, UncollectedSamplesCountAsGenerated) {
  SamplingParams p;
  p.do_sample = true;
  p.seed = 7;
  p.min_new_tokens = 2;
  p.stop_token_ids = {9};
  SamplingState st = make_sampling_state(p, std::vector<int32_t>{1, 2}, std::vector<int32_t>{3});
  st.record(5);
  SamplingState recorded = st;
  recorded.record(6);  // what the state will be once the queued sample is recorded

  kernels::SampleBatch ahead, after;
  ASSERT_TRUE(append_sample_row(st, 100, ahead, /*uncollected=*/1).ok());
  ASSERT_TRUE(append_sample_row(recorded, 100, after).ok());
  ASSERT_EQ(ahead.rows.size(), 1u);
  EXPECT_EQ(ahead.rows[0].counter, after.rows[0].counter);
  EXPECT_EQ(ahead.rows[0].counter, 2u);
  EXPECT_EQ(ahead.rows[0].seed, after.rows[0].seed);
  EXPECT_EQ(ahead.mask_tokens, after.mask_tokens);  // 2 generated: min_new_tokens reached
  EXPECT_TRUE(ahead.mask_tokens.empty());

  // Penalties need the recorded tokens: refused rather than computed from stale counts.
  SamplingParams q = p;
  q.frequency_penalty = 0.5f;
  SamplingState pen = make_sampling_state(q, std::vector<int32_t>{1}, {});
  EXPECT_TRUE(has_penalties(pen));
  EXPECT_FALSE(has_penalties(st));
  kernels::SampleBatch refused;
  EXPECT_FALSE(append_sample_row(pen, 100, refused, 1).ok());
  EXPECT_TRUE(append_sample_row(pen, 100, refused, 0).ok());
}

TEST(DevicePacking, TopLogprobsAndLogitBiasFallBackToTheHost) {
  SamplingParams p;
  EXPECT_TRUE(device_samplable(make_sampling_state(p, {}, {})));
  p.top_logprobs = 3;
  EXPECT_FALSE(device_samplable(make_sampling_state(p, {}, {})));
  p.top_logprobs = 0;
  p.logit_bias = {{7, 1.0f}};
  EXPECT_FALSE(device_samplable(make_sampling_state(p, {}, {})));
}

TEST(DevicePacking, BatchChecksNameTheProblem) {
  kernels::SampleBatch b;
  b.rows.resize(1);
  EXPECT_EQ(ops::check_sample_batch(b, 2, 10).code(), core::StatusCode::invalid_argument);
  b.rows[0].pen_end = 1;
  auto st = ops::check_sample_batch(b, 1, 10);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("pen range"), std::string::npos) << st.message();
  b.pen_tokens = {10};
  b.pen_counts = {1};
  st = ops::check_sample_batch(b, 1, 10);
  EXPECT_NE(st.message().find("pen entry 0"), std::string::npos) << st.message();
  b.pen_tokens = {9};
  EXPECT_TRUE(ops::check_sample_batch(b, 1, 10).ok());
  b.rows[0].do_sample = 1;
  b.rows[0].top_p = 0.0f;
  st = ops::check_sample_batch(b, 1, 10);
  EXPECT_NE(st.message().find("top_p"), std::string::npos) << st.message();
  b.rows[0].top_p = 1.0f;
  b.mask_tokens = {-1};
  b.rows[0].mask_end = 1;
  st = ops::check_sample_batch(b, 1, 10);
  EXPECT_NE(st.message().find("mask token"), std::string::npos) << st.message();
}

TEST(DevicePacking, HostTensorsAreUnimplemented) {
  core::Tensor logits = core::Tensor::empty({1, 10}, core::DType::f32);
  core::Tensor ids = core::Tensor::empty({1}, core::DType::i32);
  kernels::SampleBatch b;
  b.rows.resize(1);
  EXPECT_EQ(ops::sample(logits, b, ids, nullptr).code(), core::StatusCode::unimplemented);
}

}  // namespace
}  // namespace lightllm::sampling
