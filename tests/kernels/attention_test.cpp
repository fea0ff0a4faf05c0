// tests/kernels/attention_test.cpp — store_kv and attention over token slots.
// Several requests of mixed shape in one flat batch (prefill on a cached prefix, pure decode,
// fresh prefill, single token), slots in random order through req_to_token rows in random
// order, GQA ratios 1/2/4 and MQA, sliding window, ALiBi, every KV dtype and ISA path: the CPU
// op against kernels/ref on the same stored cache; int8 KV against unquantized f32 KV within
// a bound derived from the quantization step.
#include <algorithm>
#include <numeric>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

struct Scenario {
  std::vector<int32_t> q_len, kv_len;
  int64_t n_heads = 4, n_kv_heads = 4, head_dim = 64;
  int32_t window = 0;
  bool alibi = false;
};

// One flat batch plus its KV pool, filled with random K/V for every slot.
struct Batch {
  std::vector<int32_t> q_start, kv_len, req_row, req_to_token;
  std::vector<float> slopes;
  int64_t stride = 0, n_slots = 0;
  Tensor q, k_all, v_all;  // q: [n_tokens, n_heads, hd]; k_all/v_all: [n_slots, n_kv, hd] f32
  ops::AttentionMeta meta;

  ops::KvCacheView cache(DType dt) const {
    ops::KvCacheView c{Tensor::empty(k_all.shape(), dt), Tensor::empty(k_all.shape(), dt), {}, {}};
    if (dt == DType::i8) {
      c.k_scale = Tensor::empty({n_slots, k_all.dim(1)}, DType::f32);
      c.v_scale = Tensor::empty({n_slots, k_all.dim(1)}, DType::f32);
    }
    Tensor slots = Tensor::empty({n_slots}, DType::i32);
    std::iota(slots.data<int32_t>(), slots.data<int32_t>() + n_slots, 0);
    EXPECT_TRUE(ops::store_kv(k_all, v_all, slots, c).ok());
    return c;
  }
};

Batch make_batch(const Scenario& s, uint32_t seed) {
  Batch b;
  const int32_t n_reqs = static_cast<int32_t>(s.q_len.size());
  b.stride = *std::max_element(s.kv_len.begin(), s.kv_len.end()) + 3;
  b.n_slots = std::accumulate(s.kv_len.begin(), s.kv_len.end(), int64_t{0}) + 11;
  std::mt19937 rng(seed);
  std::vector<int32_t> free_slots(static_cast<size_t>(b.n_slots));
  std::iota(free_slots.begin(), free_slots.end(), 0);
  std::shuffle(free_slots.begin(), free_slots.end(), rng);  // random slot order
  const int32_t max_reqs = n_reqs + 3;
  std::vector<int32_t> rows(static_cast<size_t>(max_reqs));
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  b.req_to_token.assign(static_cast<size_t>(max_reqs * b.stride), 0);
  b.q_start = {0};
  size_t next = 0;
  for (int32_t r = 0; r < n_reqs; ++r) {
    b.q_start.push_back(b.q_start.back() + s.q_len[static_cast<size_t>(r)]);
    b.kv_len.push_back(s.kv_len[static_cast<size_t>(r)]);
    b.req_row.push_back(rows[static_cast<size_t>(r)]);
    for (int32_t j = 0; j < s.kv_len[static_cast<size_t>(r)]; ++j)
      b.req_to_token[static_cast<size_t>(rows[static_cast<size_t>(r)] * b.stride + j)] =
          free_slots[next++];
  }
  const int64_t n_tokens = b.q_start.back();
  b.q = random_tensor({n_tokens, s.n_heads, s.head_dim}, seed + 1, -2.0f, 2.0f);
  b.k_all = random_tensor({b.n_slots, s.n_kv_heads, s.head_dim}, seed + 2);
  b.v_all = random_tensor({b.n_slots, s.n_kv_heads, s.head_dim}, seed + 3);
  for (int64_t h = 0; h < s.n_heads; ++h)  // BLOOM's slopes for a power-of-two head count
    b.slopes.push_back(
        std::pow(2.0f, -8.0f * static_cast<float>(h + 1) / static_cast<float>(s.n_heads)));
  b.meta = {.q_start = b.q_start.data(),
            .kv_len = b.kv_len.data(),
            .req_row = b.req_row.data(),
            .req_to_token = b.req_to_token.data(),
            .req_to_token_stride = b.stride,
            .n_reqs = n_reqs,
            .sliding_window = s.window,
            .scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim)),
            .alibi_slopes = s.alibi ? b.slopes.data() : nullptr};
  return b;
}

Tensor ref_attention(const Batch& b, const ops::KvCacheView& c) {
  Tensor out = Tensor::empty(b.q.shape(), DType::f32);
  const ops::AttentionMeta& m = b.meta;
  kernels::ref::attention({.q = b.q.data<float>(),
                           .k_cache = c.k.raw(),
                           .v_cache = c.v.raw(),
                           .k_scale = c.k_scale.defined() ? c.k_scale.data<float>() : nullptr,
                           .v_scale = c.v_scale.defined() ? c.v_scale.data<float>() : nullptr,
                           .cache_dtype = c.k.dtype(),
                           .out = out.data<float>(),
                           .n_tokens = b.q.dim(0),
                           .n_heads = b.q.dim(1),
                           .n_kv_heads = c.k.dim(1),
                           .head_dim = b.q.dim(2),
                           .q_start = m.q_start,
                           .kv_len = m.kv_len,
                           .req_row = m.req_row,
                           .req_to_token = m.req_to_token,
                           .req_to_token_stride = m.req_to_token_stride,
                           .n_reqs = m.n_reqs,
                           .sliding_window = m.sliding_window,
                           .scale = m.scale,
                           .alibi_slopes = m.alibi_slopes});
  return out;
}

// Prefill on a cached prefix, pure decode with a long context, fresh prefill, one-token
// request, and a longer prefill with a prefix: all in one batch.
const Scenario kMixed = {.q_len = {20, 1, 7, 1, 37}, .kv_len = {83, 769, 7, 1, 200}};

TEST(StoreKv, CpuMatchesReferenceBitForBit) {
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::i8}) {
    const int64_t n = 83, kvh = 2, hd = 80, n_slots = 100;
    Tensor k = random_tensor({n, kvh, hd}, 41, -3.0f, 3.0f), v = random_tensor({n, kvh, hd}, 42);
    for (int64_t d = 0; d < hd; ++d) k.data<float>()[d] = 0.0f;  // an all-zero row: scale 0
    Tensor slots = Tensor::empty({n}, DType::i32);
    for (int64_t t = 0; t < n; ++t)
      slots.data<int32_t>()[t] = static_cast<int32_t>((t * 7 + 3) % n_slots);
    ops::KvCacheView want{
        Tensor::empty({n_slots, kvh, hd}, dt), Tensor::empty({n_slots, kvh, hd}, dt),
        Tensor::empty({n_slots, kvh}, DType::f32), Tensor::empty({n_slots, kvh}, DType::f32)};
    kernels::ref::store_kv({.k = k.data<float>(),
                            .v = v.data<float>(),
                            .slots = slots.data<int32_t>(),
                            .k_cache = want.k.raw(),
                            .v_cache = want.v.raw(),
                            .k_scale = want.k_scale.data<float>(),
                            .v_scale = want.v_scale.data<float>(),
                            .cache_dtype = dt,
                            .n_tokens = n,
                            .n_kv_heads = kvh,
                            .head_dim = hd});
    ops::KvCacheView got{
        Tensor::empty({n_slots, kvh, hd}, dt), Tensor::empty({n_slots, kvh, hd}, dt),
        Tensor::empty({n_slots, kvh}, DType::f32), Tensor::empty({n_slots, kvh}, DType::f32)};
    ASSERT_TRUE(ops::store_kv(k, v, slots, got).ok());
    EXPECT_EQ(0, std::memcmp(got.k.raw(), want.k.raw(), want.k.nbytes())) << core::dtype_name(dt);
    EXPECT_EQ(0, std::memcmp(got.v.raw(), want.v.raw(), want.v.nbytes())) << core::dtype_name(dt);
    if (dt == DType::i8) {
      EXPECT_EQ(0, std::memcmp(got.k_scale.raw(), want.k_scale.raw(), want.k_scale.nbytes()));
      EXPECT_EQ(0, std::memcmp(got.v_scale.raw(), want.v_scale.raw(), want.v_scale.nbytes()));
      // Round trip: |x - q * scale| <= scale / 2 for every element.
      for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < kvh; ++h) {
          const int64_t slot = slots.data<int32_t>()[t];
          const float sc = got.k_scale.data<float>()[slot * kvh + h];
          for (int64_t d = 0; d < hd; ++d) {
            const float x = k.data<float>()[(t * kvh + h) * hd + d];
            const float deq = got.k.data<int8_t>()[(slot * kvh + h) * hd + d] * sc;
            EXPECT_LE(std::fabs(x - deq), sc * 0.5f + 1e-7f);
          }
        }
    }
  }
}

TEST(Attention, MixedBatchMatchesReferenceForEveryKvDtypeGqaAndPath) {
  const std::pair<int64_t, int64_t> gqa[] = {{4, 4}, {4, 2}, {8, 2}, {4, 1}};  // ratio 1, 2, 4, MQA
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::i8})
    for (auto [n_heads, n_kv] : gqa)
      for (int variant = 0; variant < 3; ++variant) {
        Scenario s = kMixed;
        s.n_heads = n_heads;
        s.n_kv_heads = n_kv;
        s.window = variant == 1 ? 16 : 0;
        s.alibi = variant == 2;
        const Batch b = make_batch(s, static_cast<uint32_t>(100 + n_heads * 10 + n_kv + variant));
        const ops::KvCacheView cache = b.cache(dt);
        const Tensor want = ref_attention(b, cache);
        for (Isa isa : available_isas()) {
          IsaScope scope(isa);
          Tensor got = Tensor::empty(b.q.shape(), DType::f32);
          ASSERT_TRUE(ops::attention(b.q, cache, b.meta, got).ok());
          expect_close(got, want, Tolerance::kAttentionAtol, 0.0,
                       fmt::format("attention {} heads {}/{} variant {} {}", core::dtype_name(dt),
                                   n_heads, n_kv, variant, kernels::cpu::isa_name(isa)));
        }
      }
}

TEST(Attention, OddHeadDimsLongDecodeAndSplitK) {
  const Scenario cases[] = {
      {.q_len = {3, 1}, .kv_len = {9, 30}, .n_heads = 2, .n_kv_heads = 1, .head_dim = 7},
      {.q_len = {5, 1}, .kv_len = {5, 50}, .n_heads = 6, .n_kv_heads = 3, .head_dim = 80},
      {.q_len = {1, 1}, .kv_len = {4000, 1500}, .n_heads = 8, .n_kv_heads = 2, .head_dim = 128},
      // One item only: the key range is split across threads (split-K) and merged; with a
      // window most parts see no key of the row; ALiBi with two query rows.
      {.q_len = {1}, .kv_len = {4000}, .n_heads = 4, .n_kv_heads = 1, .head_dim = 64},
      {.q_len = {1},
       .kv_len = {3000},
       .n_heads = 4,
       .n_kv_heads = 1,
       .head_dim = 64,
       .window = 300},
      {.q_len = {2},
       .kv_len = {2000},
       .n_heads = 2,
       .n_kv_heads = 1,
       .head_dim = 64,
       .alibi = true},
  };
  for (const Scenario& s : cases)
    for (DType dt : {DType::f32, DType::i8}) {
      const Batch b = make_batch(s, 7);
      const ops::KvCacheView cache = b.cache(dt);
      const Tensor want = ref_attention(b, cache);
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Tensor got = Tensor::empty(b.q.shape(), DType::f32);
        ASSERT_TRUE(ops::attention(b.q, cache, b.meta, got).ok());
        expect_close(got, want, Tolerance::kAttentionAtol, 0.0,
                     fmt::format("attention hd {} {}", s.head_dim, kernels::cpu::isa_name(isa)));
      }
    }
}

// int8 KV vs exact f32 KV. With per-row scales s, each dequantized element is off by <= s/2,
// so every score moves by at most d = scale * sum|q| * max_s_k / 2, the softmax weights by at
// most exp(2d) - 1 in L1, and the output by (exp(2d) - 1) * max|v| + max_s_v / 2.
TEST(Attention, Int8KvErrorIsWithinTheQuantizationBound) {
  Scenario s = kMixed;
  s.n_heads = 8;
  s.n_kv_heads = 2;
  const Batch b = make_batch(s, 77);
  const Tensor exact = ref_attention(b, b.cache(DType::f32));
  const ops::KvCacheView c8 = b.cache(DType::i8);
  Tensor got = Tensor::empty(b.q.shape(), DType::f32);
  ASSERT_TRUE(ops::attention(b.q, c8, b.meta, got).ok());
  const float* ks = c8.k_scale.data<float>();
  const float* vs = c8.v_scale.data<float>();
  const float max_sk = *std::max_element(ks, ks + c8.k_scale.numel());
  const float max_sv = *std::max_element(vs, vs + c8.v_scale.numel());
  float max_v = 0.0f;
  for (int64_t i = 0; i < b.v_all.numel(); ++i)
    max_v = std::max(max_v, std::fabs(b.v_all.data<float>()[i]));
  const int64_t hd = s.head_dim;
  double worst_ratio = 0.0;
  for (int64_t row = 0; row < b.q.dim(0); ++row)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const float* q = b.q.data<float>() + (row * s.n_heads + h) * hd;
      double q_l1 = 0.0;
      for (int64_t d = 0; d < hd; ++d) q_l1 += std::fabs(q[d]);
      const double delta = b.meta.scale * q_l1 * max_sk / 2.0;
      const double bound = std::expm1(2.0 * delta) * max_v + max_sv / 2.0 + 1e-5;
      for (int64_t d = 0; d < hd; ++d) {
        const int64_t i = (row * s.n_heads + h) * hd + d;
        const double err = std::fabs(got.data<float>()[i] - exact.data<float>()[i]);
        ASSERT_LE(err, bound) << "row " << row << " head " << h << " dim " << d;
        worst_ratio = std::max(worst_ratio, err / bound);
      }
    }
  EXPECT_GT(worst_ratio, 0.0);  // int8 really changed the values
}

}  // namespace
}  // namespace lightllm::ktest
