// tests/cuda/test_ops_dispatch.cpp — the ops the non-LLaMA families use, called through the
// typed op API (src/ops) on device tensors, against the same ops on the CPU given the same
// (bf16-rounded) inputs: proves the CUDA dispatch passes the right shapes, strides and options
// to the kernels (residual add, GELU erf / tanh, erf gelu_mul, LayerNorm with bias in place,
// per-head LayerNorm, rotary with a longrope attention factor and partial interleaved rotary,
// log-n scaling, attention over a mixed decode + prefill step, the sampled-id feed). Tolerance:
// one bf16 rounding of the result (plus one of an intermediate).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "ops/ops.h"

namespace lightllm {
namespace {

using core::Device;
using core::DType;
using core::Tensor;

// Host f32 tensor of uniform values, rounded to bf16 (so CPU and GPU see the same inputs).
Tensor random_bf16_exact(const core::Shape& shape, uint32_t seed, float lo, float hi) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = core::bf16_to_f32(core::f32_to_bf16(d(rng)));
  return t;
}

Tensor dev(const Tensor& host) {
  auto t = ops::to_device(host, Device::cuda, DType::bf16);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

Tensor dev_i32(const Tensor& host) {
  auto t = ops::to_device(host, Device::cuda, DType::i32);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

Tensor host_of(const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), DType::f32);
  EXPECT_TRUE(ops::copy_to_host_f32(d, h).ok());
  return h;
}

Tensor copy_of(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  std::memcpy(c.raw(), t.raw(), t.nbytes());
  return c;
}

// |got - want| <= 1.6e-2 * (|want| + scale): bf16 rounding relative to the value, or to the
// tensor's magnitude for values that cancel.
void expect_near_bf16(const Tensor& got, const Tensor& want, double scale, const char* what) {
  ASSERT_EQ(got.numel(), want.numel()) << what;
  int bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data<float>()[i], w = want.data<float>()[i];
    if (!(std::abs(g - w) <= 1.6e-2 * (std::abs(w) + scale)) && ++bad <= 5)
      ADD_FAILURE() << what << ": index " << i << " got " << g << " want " << w;
  }
  EXPECT_EQ(bad, 0) << what;
}

TEST(CudaOpsDispatch, AddGeluAndErfGatedMatchTheCpuOps) {
  const Tensor a = random_bf16_exact({37, 83}, 1, -3, 3), b = random_bf16_exact({37, 83}, 2, -3, 3);
  Tensor da = dev(a), db = dev(b);
  ASSERT_TRUE(ops::add(da, db).ok());
  Tensor ha = copy_of(a);
  ASSERT_TRUE(ops::add(ha, b).ok());
  expect_near_bf16(host_of(da), ha, 0.0, "add");

  for (bool tanh_approx : {false, true}) {
    Tensor dx = dev(a), hx = copy_of(a);
    ASSERT_TRUE(ops::gelu(dx, tanh_approx).ok());
    ASSERT_TRUE(ops::gelu(hx, tanh_approx).ok());
    expect_near_bf16(host_of(dx), hx, 1e-2, tanh_approx ? "gelu tanh" : "gelu erf");
  }
  Tensor dg = dev(a), du = dev(b);
  auto dout = ops::empty_on(Device::cuda, {37, 83}, DType::bf16);
  ASSERT_TRUE(dout.ok());
  ASSERT_TRUE(ops::gelu_mul(dg, du, /*tanh_approx=*/false, *dout).ok());
  Tensor hout = Tensor::empty({37, 83}, DType::f32);
  ASSERT_TRUE(ops::gelu_mul(a, b, false, hout).ok());
  expect_near_bf16(host_of(*dout), hout, 1e-2, "gelu_mul erf");
}

TEST(CudaOpsDispatch, LayerNormsMatchTheCpuOps) {
  const Tensor x = random_bf16_exact({29, 96}, 3, -1, 3);
  const Tensor w = random_bf16_exact({96}, 4, 0.5, 1.5), b = random_bf16_exact({96}, 5, -.5, .5);
  Tensor dx = dev(x);
  ASSERT_TRUE(
      ops::layer_norm(dx, dev(w), dev(b), 1e-5f, dx).ok());  // in place (BLOOM's embed norm)
  Tensor hx = copy_of(x);
  ASSERT_TRUE(ops::layer_norm(hx, w, b, 1e-5f, hx).ok());
  expect_near_bf16(host_of(dx), hx, 0.05, "layer_norm with bias, in place");

  const Tensor q = random_bf16_exact({29, 6, 16}, 6, -1, 3);
  const Tensor qw = random_bf16_exact({6, 16}, 7, 0.5, 1.5);
  Tensor dq = dev(q), hq = copy_of(q);
  ASSERT_TRUE(ops::head_layer_norm(dq, dev(qw), 1e-5f).ok());
  ASSERT_TRUE(ops::head_layer_norm(hq, qw, 1e-5f).ok());
  expect_near_bf16(host_of(dq), hq, 0.05, "head_layer_norm");
}

TEST(CudaOpsDispatch, RotaryVariantsAndLognMatchTheCpuOps) {
  const int64_t n = 23;
  Tensor pos = Tensor::empty({n}, DType::i32);
  for (int64_t t = 0; t < n; ++t) pos.data<int32_t>()[t] = static_cast<int32_t>(3 * t);
  const Tensor dpos = dev_i32(pos);
  ops::RopeConfig longrope{
      .rotary_dim = 16, .scaling = ops::RopeScaling::longrope, .original_max_position = 32};
  longrope.short_factor.assign(8, 1.25f);
  longrope.long_factor.assign(8, 4.5f);
  longrope.attention_factor = 1.19;
  ops::RopeConfig glm{.rotary_dim = 8, .interleaved = true};  // ChatGLM: half of head_dim 16
  for (const ops::RopeConfig& cfg : {longrope, glm}) {
    const std::vector<float> inv = ops::rope_inv_freq(cfg, 100);
    const Tensor q = random_bf16_exact({n, 4, 16}, 8, -1, 1),
                 k = random_bf16_exact({n, 2, 16}, 9, -1, 1);
    Tensor dq = dev(q), dk = dev(k), hq = copy_of(q), hk = copy_of(k);
    ASSERT_TRUE(ops::rope(dq, dk, dpos, inv, cfg).ok());
    ASSERT_TRUE(ops::rope(hq, hk, pos, inv, cfg).ok());
    expect_near_bf16(host_of(dq), hq, 0.02, cfg.interleaved ? "rope q glm" : "rope q longrope");
    expect_near_bf16(host_of(dk), hk, 0.02, cfg.interleaved ? "rope k glm" : "rope k longrope");
  }
  const Tensor q = random_bf16_exact({n, 4, 16}, 10, -2, 2);
  Tensor dq = dev(q), hq = copy_of(q);
  ASSERT_TRUE(ops::logn_scale(dq, dpos, 16).ok());  // positions 0..66: both sides of 16
  ASSERT_TRUE(ops::logn_scale(hq, pos, 16).ok());
  expect_near_bf16(host_of(dq), hq, 0.0, "logn_scale");
}

// A step mixing decode rows (q_len 1, first, as the router orders them) with prefill chunks
// (one with a cached prefix, one of a single token after the decode rows): the CUDA op sends
// the leading decode rows to the decode kernel and the rest to the prefill kernel; both must
// agree with the CPU op. Also all-prefill (no leading decode row) and all-decode steps.
void check_attention_step(const std::vector<int32_t>& q_len, const std::vector<int32_t>& kv_len,
                          uint32_t seed) {
  const int n_heads = 8, n_kv = 2, D = 64;
  const auto n_reqs = static_cast<int32_t>(q_len.size());
  std::vector<int32_t> q_start(1, 0);
  int32_t max_q = 0, max_kv = 0, stride = 1;
  for (int32_t r = 0; r < n_reqs; ++r) {
    q_start.push_back(q_start.back() + q_len[static_cast<size_t>(r)]);
    max_q = std::max(max_q, q_len[static_cast<size_t>(r)]);
    max_kv = std::max(max_kv, kv_len[static_cast<size_t>(r)]);
  }
  stride = max_kv + 5;
  const int64_t n_tokens = q_start.back();
  int64_t n_slots = 11;
  for (int32_t l : kv_len) n_slots += l;
  // Request r uses row n_reqs - 1 - r; slots are a random permutation (as after churn).
  std::vector<int32_t> perm(static_cast<size_t>(n_slots));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int32_t>(i);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  std::vector<int32_t> r2t(static_cast<size_t>(n_reqs) * static_cast<size_t>(stride), 0);
  std::vector<int32_t> req_row(static_cast<size_t>(n_reqs));
  size_t next = 0;
  for (int32_t r = 0; r < n_reqs; ++r) {
    req_row[static_cast<size_t>(r)] = n_reqs - 1 - r;
    for (int32_t j = 0; j < kv_len[static_cast<size_t>(r)]; ++j)
      r2t[static_cast<size_t>(req_row[static_cast<size_t>(r)]) * static_cast<size_t>(stride) +
          static_cast<size_t>(j)] = perm[next++];
  }
  const Tensor q = random_bf16_exact({n_tokens, n_heads, D}, seed + 1, -1.f, 1.f);
  ops::KvCacheView host_cache{.k = random_bf16_exact({n_slots, n_kv, D}, seed + 2, -1.f, 1.f),
                              .v = random_bf16_exact({n_slots, n_kv, D}, seed + 3, -1.f, 1.f)};
  ops::AttentionMeta meta{.q_start = q_start.data(),
                          .kv_len = kv_len.data(),
                          .req_row = req_row.data(),
                          .req_to_token = r2t.data(),
                          .req_to_token_stride = stride,
                          .n_reqs = n_reqs,
                          .scale = 0.125f};
  Tensor want = Tensor::empty({n_tokens, n_heads, D}, DType::f32);
  ASSERT_TRUE(ops::attention(q, host_cache, meta, want).ok());

  auto i32 = [](const std::vector<int32_t>& v) {
    return Tensor::view(const_cast<int32_t*>(v.data()), {static_cast<int64_t>(v.size())},
                        DType::i32);
  };
  const Tensor d_qs = dev_i32(i32(q_start)), d_kv = dev_i32(i32(kv_len));
  const Tensor d_row = dev_i32(i32(req_row)), d_r2t = dev_i32(i32(r2t));
  meta.device = {.q_start = d_qs.data<int32_t>(),
                 .kv_len = d_kv.data<int32_t>(),
                 .req_row = d_row.data<int32_t>(),
                 .req_to_token = d_r2t.data<int32_t>(),
                 .req_to_token_stride = stride,
                 .max_q_len = max_q,
                 .max_kv_len = max_kv};
  ops::KvCacheView dev_cache{.k = dev(host_cache.k), .v = dev(host_cache.v)};
  const Tensor dq = dev(q);
  auto dout = ops::empty_on(Device::cuda, {n_tokens, n_heads, D}, DType::bf16);
  ASSERT_TRUE(dout.ok());
  const core::Status st = ops::attention(dq, dev_cache, meta, *dout);
  ASSERT_TRUE(st.ok()) << st.to_string();
  // The kernels round P to bf16 (relative 2^-8) before P·V: the error is bounded by
  // 2^-8 · Σ p_j |v_j| <= 2^-8 · max |v| = 0.0039, large next to rows whose few values cancel.
  expect_near_bf16(host_of(*dout), want, 0.25, "attention");
}

TEST(CudaOpsDispatch, MixedDecodeAndPrefillStepAttentionMatchesTheCpuOp) {
  // 5 decode rows, then a chunk with a 40-token cached prefix, a fresh 130-token prompt and a
  // 1-token chunk that is not a leading decode row.
  check_attention_step({1, 1, 1, 1, 1, 17, 130, 1}, {1, 37, 300, 129, 700, 57, 130, 9}, 7);
  check_attention_step({64, 1, 1}, {64, 33, 500}, 8);  // prefill first: one prefill launch
  check_attention_step({1, 1, 1}, {5, 1000, 77}, 9);   // decode only
}

// A step's upload (flat part, pitched rows, the feed of sampled ids) read by the kernel from
// mapped page-locked memory equals the CPU op, with sizes that take several blocks, rounds of
// loads and feed pairs per thread.
TEST(CudaOpsDispatch, UploadStepMatchesTheCpuOp) {
  const int64_t n = 2800, n_ids = 2000, n_feed = 300, n_sampled = 397;
  const int64_t rows = 300, row_len = 2001, pitch = 2048;
  const int64_t feed_at = 2100;
  auto mapped = ops::empty_mapped({n + rows * row_len}, DType::i32);
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  int32_t* src = mapped->host.data<int32_t>();
  for (int64_t i = 0; i < n + rows * row_len; ++i) src[i] = static_cast<int32_t>(i * 7 + 1);
  for (int64_t i = 0; i < n_feed; ++i) {
    src[feed_at + i] = static_cast<int32_t>(6 * i + 5);
    src[feed_at + n_feed + i] = static_cast<int32_t>((i * 31) % n_sampled);
  }
  Tensor sampled = Tensor::empty({n_sampled}, DType::i32);
  for (int64_t i = 0; i < n_sampled; ++i) sampled.data<int32_t>()[i] = static_cast<int32_t>(-i);
  Tensor want = Tensor::empty({n}, DType::i32);
  Tensor want_rows = Tensor::empty({rows + 1, pitch}, DType::i32);
  std::fill_n(want_rows.data<int32_t>(), want_rows.numel(), -3);
  const ops::StepUpload on_host{.src = mapped->host,
                                .dst = want,
                                .dst_rows = want_rows,
                                .rows = rows,
                                .row_len = row_len,
                                .n_ids = n_ids,
                                .feed_at = feed_at,
                                .n_feed = n_feed,
                                .sampled = sampled};
  ASSERT_TRUE(ops::upload_step(on_host).ok());

  auto to_dev = [](const Tensor& t) {
    auto d = ops::to_device(t, Device::cuda, DType::i32);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return std::move(d).value();
  };
  Tensor filler = Tensor::empty({rows + 1, pitch}, DType::i32);
  std::fill_n(filler.data<int32_t>(), filler.numel(), -3);
  ops::StepUpload on_device = on_host;
  on_device.src = mapped->device;
  on_device.dst = to_dev(Tensor::empty({n}, DType::i32));
  on_device.dst_rows = to_dev(filler);
  on_device.sampled = to_dev(sampled);
  ASSERT_TRUE(ops::upload_step(on_device).ok());
  Tensor got = Tensor::empty({n}, DType::i32),
         got_rows = Tensor::empty({rows + 1, pitch}, DType::i32);
  ASSERT_TRUE(ops::copy_to_host(on_device.dst, got).ok());
  ASSERT_TRUE(ops::copy_to_host(on_device.dst_rows, got_rows).ok());
  EXPECT_TRUE(std::equal(got.data<int32_t>(), got.data<int32_t>() + n, want.data<int32_t>()));
  EXPECT_TRUE(std::equal(got_rows.data<int32_t>(), got_rows.data<int32_t>() + got_rows.numel(),
                         want_rows.data<int32_t>()));
  for (int64_t i = 0; i < n_feed; ++i)  // the feed did overwrite the copied ids
    ASSERT_EQ(got.data<int32_t>()[6 * i + 5], -((i * 31) % n_sampled)) << i;
  // A host tensor among device ones is refused.
  ops::StepUpload mixed = on_device;
  mixed.sampled = sampled;
  EXPECT_FALSE(ops::upload_step(mixed).ok());
}

}  // namespace
}  // namespace lightllm
