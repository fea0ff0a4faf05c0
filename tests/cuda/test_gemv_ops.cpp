// tests/cuda/test_gemv_ops.cpp — the fused projection ops on device tensors against the
// unfused ops path they replace: ops::matmul_split (q/k/v from one stacked weight, with and
// without bias) equals three ops::matmul on the row views, and ops::gated_matmul equals
// matmul(gate) → matmul(up) → silu_mul / gelu_mul, bit for bit, for every m in 1..8 and 12
// (in the GEMV range both sides run the GEMV, whose per-row accumulation order does not depend
// on the variant; above it both run cuBLASLt per part). ops::matmul on the GEMV (m = 1, 2)
// agrees with cuBLASLt (the same rows inside m = 9) within one bf16 rounding. The batch-1 decode
// ops: rms_norm_matmul_split / rms_norm_gated_matmul against rms_norm → projection, matmul_add
// against matmul → add, rope_store_kv against rope → store_kv. (The CPU side of the fused ops:
// tests/models/weight_uploader_test.cpp, tests/kernels/fused_ops_test.cpp.)
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <utility>

#include <gtest/gtest.h>

#include "ops/ops.h"

namespace lightllm {
namespace {

using core::Device;
using core::DType;
using core::Tensor;

Tensor random_f32(const core::Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(shape, DType::f32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

Tensor dev(const Tensor& host) {
  auto t = ops::to_device(host, Device::cuda, DType::bf16);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

// A host copy of a device tensor, same dtype.
Tensor host_copy(const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), d.dtype());
  EXPECT_TRUE(ops::copy_to_host(d, h).ok());
  return h;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor ha = host_copy(a), hb = host_copy(b);
  return ha.nbytes() == hb.nbytes() && std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

// A zeroed KV cache on the device: [n_slots, kv_heads, hd] of `dt`, with f32 scales
// [n_slots, kv_heads] when `dt` is int8.
ops::KvCacheView zero_cache(int64_t n_slots, int64_t kv_heads, int64_t hd, DType dt) {
  auto zeros = [](const core::Shape& s, DType t) {
    auto r = ops::empty_on(Device::cuda, s, t);  // zero-filled
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  };
  ops::KvCacheView c;
  c.k = zeros({n_slots, kv_heads, hd}, dt);
  c.v = zeros({n_slots, kv_heads, hd}, dt);
  if (dt == DType::i8) {
    c.k_scale = zeros({n_slots, kv_heads}, DType::f32);
    c.v_scale = zeros({n_slots, kv_heads}, DType::f32);
  }
  return c;
}

Tensor dev_empty(const core::Shape& shape) {
  auto t = ops::empty_on(Device::cuda, shape, DType::bf16);
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

std::vector<uint16_t> bits_of(const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), DType::bf16);
  EXPECT_TRUE(ops::copy_to_host(d, h).ok());
  std::vector<uint16_t> v(static_cast<size_t>(h.numel()));
  std::memcpy(v.data(), h.raw(), v.size() * 2);
  return v;
}

TEST(GemvOps, MatmulSplitEqualsThreeMatmuls) {
  const int64_t k = 264, nq = 64, nk = 16, nv = 16, n = nq + nk + nv;
  const Tensor w = dev(random_f32({n, k}, 1)), b = dev(random_f32({n}, 2));
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 12}) {
    const Tensor x = dev(random_f32({m, k}, 10 + uint32_t(m)));
    for (bool bias : {false, true}) {
      const Tensor bb = bias ? b : Tensor();
      Tensor q = dev_empty({m, nq}), kk = dev_empty({m, nk}), v = dev_empty({m, nv});
      ASSERT_TRUE(ops::matmul_split(x, w, bb, {&q, &kk, &v}).ok());
      int64_t row0 = 0;
      for (Tensor* part : {&q, &kk, &v}) {
        const int64_t cols = part->dim(1);
        Tensor ref = dev_empty({m, cols});
        ASSERT_TRUE(
            ops::matmul(x, w.rows(row0, cols), bias ? b.rows(row0, cols) : Tensor(), ref).ok());
        EXPECT_EQ(bits_of(*part), bits_of(ref))
            << "m " << m << " bias " << bias << " row0 " << row0;
        row0 += cols;
      }
    }
  }
}

TEST(GemvOps, GatedMatmulEqualsMatmulsThenActivation) {
  const int64_t k = 136, inter = 40;
  const Tensor w = dev(random_f32({2 * inter, k}, 3, -0.2f, 0.2f));
  const Tensor b = dev(random_f32({2 * inter}, 4));
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 12}) {
    const Tensor x = dev(random_f32({m, k}, 20 + uint32_t(m)));
    for (ops::GatedAct act :
         {ops::GatedAct::silu, ops::GatedAct::gelu_tanh, ops::GatedAct::gelu_erf}) {
      const bool bias = m % 2 == 0;
      const Tensor bb = bias ? b : Tensor();
      Tensor out = dev_empty({m, inter}), scratch = dev_empty({m, inter});
      ASSERT_TRUE(ops::gated_matmul(x, w, bb, act, scratch, out).ok());
      Tensor g = dev_empty({m, inter}), u = dev_empty({m, inter});
      ASSERT_TRUE(ops::matmul(x, w.rows(0, inter), bias ? b.rows(0, inter) : Tensor(), g).ok());
      ASSERT_TRUE(
          ops::matmul(x, w.rows(inter, inter), bias ? b.rows(inter, inter) : Tensor(), u).ok());
      if (act == ops::GatedAct::silu) {
        ASSERT_TRUE(ops::silu_mul(g, u, g).ok());
      } else {
        ASSERT_TRUE(ops::gelu_mul(g, u, act == ops::GatedAct::gelu_tanh, g).ok());
      }
      EXPECT_EQ(bits_of(out), bits_of(g)) << "m " << m << " act " << int(act);
    }
  }
}

TEST(GemvOps, GemvAgreesWithCublasLt) {
  const int64_t k = 4096, n = 1000;
  const Tensor w = dev(random_f32({n, k}, 5)), x9 = dev(random_f32({9, k}, 6));
  Tensor o9 = dev_empty({9, n});
  ASSERT_TRUE(ops::matmul(x9, w, Tensor(), o9).ok());  // cuBLASLt
  for (int64_t m : {1, 2}) {
    Tensor o = dev_empty({m, n});
    ASSERT_TRUE(ops::matmul(x9.rows(0, m), w, Tensor(), o).ok());  // the GEMV
    const auto a = bits_of(o), b = bits_of(o9.rows(0, m));
    int far = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const float fa = core::bf16_to_f32(core::bf16{a[i]}),
                  fb = core::bf16_to_f32(core::bf16{b[i]});
      // Both round an f32 sum of 4096 products (|.| <= 1) to bf16: an ulp or two apart.
      if (std::fabs(fa - fb) > 1e-2f * std::max(1.f, std::fabs(fb))) ++far;
    }
    EXPECT_EQ(far, 0) << "m " << m;
  }
}

// Bit-identical fraction and the worst relative gap of two bf16 results.
struct Agreement {
  double identical = 0;
  int far = 0;  // elements more than ~1.3 bf16 ulps apart
};
Agreement agreement(const Tensor& a, const Tensor& b) {
  const auto x = bits_of(a), y = bits_of(b);
  Agreement r;
  size_t same = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    same += x[i] == y[i];
    const float fa = core::bf16_to_f32(core::bf16{x[i]}), fb = core::bf16_to_f32(core::bf16{y[i]});
    if (std::fabs(fa - fb) > 1e-2f * std::max(1.f, std::fabs(fb))) ++r.far;
  }
  r.identical = x.empty() ? 1.0 : double(same) / double(x.size());
  return r;
}

// The RMSNorm-prologue projections equal rms_norm → projection. Up to m = 2 the fused GEMV
// recomputes each row's sum of squares in its own order (the only difference: an inv-rms an
// f32 ulp apart can move a normalized element across a bf16 rounding boundary, rarely), so
// nearly every element is bit-identical and none is more than an ulp or so off; above m = 2 the
// op runs the same composed kernels: bit for bit.
TEST(GemvOps, RmsNormProjectionsEqualNormThenProjection) {
  const int64_t k = 4096, nq = 256, nk = 64, n = nq + 2 * nk, inter = 192;
  const Tensor w = dev(random_f32({n, k}, 31, -0.05f, 0.05f));
  const Tensor wg = dev(random_f32({2 * inter, k}, 32, -0.05f, 0.05f));
  const Tensor nw = dev(random_f32({k}, 33, 0.5f, 1.5f));
  for (int64_t m : {1, 2, 3}) {
    const Tensor x = dev(random_f32({m, k}, 40 + uint32_t(m), -3.f, 3.f));
    Tensor normed = dev_empty({m, k}), ref_normed = dev_empty({m, k});
    ASSERT_TRUE(ops::rms_norm(x, nw, 1e-5f, ref_normed).ok());
    const ops::NormedInput in{.x = x, .weight = nw, .eps = 1e-5f, .normed = normed};
    Tensor q = dev_empty({m, nq}), kk = dev_empty({m, nk}), v = dev_empty({m, nk});
    ASSERT_TRUE(ops::rms_norm_matmul_split(in, w, Tensor(), {&q, &kk, &v}).ok());
    Tensor rq = dev_empty({m, nq}), rk = dev_empty({m, nk}), rv = dev_empty({m, nk});
    ASSERT_TRUE(ops::matmul_split(ref_normed, w, Tensor(), {&rq, &rk, &rv}).ok());
    Tensor out = dev_empty({m, inter}), up = dev_empty({m, inter});
    ASSERT_TRUE(ops::rms_norm_gated_matmul(in, wg, Tensor(), ops::GatedAct::silu, up, out).ok());
    Tensor rout = dev_empty({m, inter}), rup = dev_empty({m, inter});
    ASSERT_TRUE(ops::gated_matmul(ref_normed, wg, Tensor(), ops::GatedAct::silu, rup, rout).ok());
    for (auto [got, want, name] :
         {std::tuple{&q, &rq, "q"}, {&kk, &rk, "k"}, {&v, &rv, "v"}, {&out, &rout, "gated"}}) {
      const Agreement a = agreement(*got, *want);
      EXPECT_EQ(a.far, 0) << name << " m " << m;
      if (m > ops::kFusedDecodeMaxBatch) {
        EXPECT_EQ(a.identical, 1.0) << name << " m " << m;
      } else {
        EXPECT_GE(a.identical, 0.99) << name << " m " << m;
      }
    }
  }
}

// matmul_add equals matmul → add bit for bit (same GEMV accumulation, both roundings kept).
TEST(GemvOps, MatmulAddEqualsMatmulThenAdd) {
  const int64_t k = 1032, n = 520;
  const Tensor w = dev(random_f32({n, k}, 35)), b = dev(random_f32({n}, 36));
  for (int64_t m : {1, 2, 3, 9}) {
    const Tensor x = dev(random_f32({m, k}, 37 + uint32_t(m)));
    const Tensor r0 = dev(random_f32({m, n}, 47 + uint32_t(m), -8.f, 8.f));
    for (bool bias : {false, true}) {
      Tensor res = dev(random_f32({m, n}, 47 + uint32_t(m), -8.f, 8.f));
      Tensor scratch = dev_empty({m, n});
      ASSERT_TRUE(ops::matmul_add(x, w, bias ? b : Tensor(), scratch, res).ok());
      Tensor ref = dev(random_f32({m, n}, 47 + uint32_t(m), -8.f, 8.f)), proj = dev_empty({m, n});
      ASSERT_TRUE(ops::matmul(x, w, bias ? b : Tensor(), proj).ok());
      ASSERT_TRUE(ops::add(ref, proj).ok());
      EXPECT_EQ(bits_of(res), bits_of(ref)) << "m " << m << " bias " << bias;
    }
  }
}

// rope_store_kv (one launch) equals rope → store_kv bit for bit: q, k, the cache rows and the
// int8 scales; rotate_half and interleaved, partial rotary, bf16 and int8 caches.
TEST(GemvOps, RopeStoreKvEqualsRopeThenStore) {
  const int64_t heads = 12, kv_heads = 4, hd = 64, n_slots = 40;
  for (DType cache_dt : {DType::bf16, DType::i8}) {
    for (bool interleaved : {false, true}) {
      for (int64_t n : {1, 2, 5}) {
        ops::RopeConfig cfg;
        cfg.rotary_dim = interleaved ? hd : hd / 2;
        cfg.interleaved = interleaved;
        cfg.theta = 500000.0;
        const std::vector<float> inv_freq = ops::rope_inv_freq(cfg, 0);
        Tensor pos_h = Tensor::empty({n}, DType::i32), slots_h = Tensor::empty({n}, DType::i32);
        for (int64_t t = 0; t < n; ++t) {
          pos_h.data<int32_t>()[t] = static_cast<int32_t>(100 + 37 * t);
          slots_h.data<int32_t>()[t] = static_cast<int32_t>(n_slots - 3 - 7 * t);
        }
        auto pos = ops::to_device(pos_h, Device::cuda, DType::i32);
        auto slots = ops::to_device(slots_h, Device::cuda, DType::i32);
        ASSERT_TRUE(pos.ok() && slots.ok());
        const Tensor q0 = random_f32({n, heads, hd}, 60), k0 = random_f32({n, kv_heads, hd}, 61);
        Tensor v = dev(random_f32({n, kv_heads, hd}, 62));
        Tensor q = dev(q0), k = dev(k0), rq = dev(q0), rk = dev(k0);
        ops::KvCacheView got = zero_cache(n_slots, kv_heads, hd, cache_dt),
                         want = zero_cache(n_slots, kv_heads, hd, cache_dt);
        ASSERT_TRUE(ops::rope_store_kv({.q = q,
                                        .k = k,
                                        .v = v,
                                        .positions = *pos,
                                        .inv_freq = inv_freq,
                                        .cfg = cfg,
                                        .slots = *slots,
                                        .cache = got})
                        .ok());
        ASSERT_TRUE(ops::rope(rq, rk, *pos, inv_freq, cfg).ok());
        ASSERT_TRUE(ops::store_kv(rk, v, *slots, want).ok());
        const std::string what = std::string(core::dtype_name(cache_dt)) +
                                 (interleaved ? " interleaved" : " rotate_half") + " n " +
                                 std::to_string(n);
        EXPECT_EQ(bits_of(q), bits_of(rq)) << what;
        EXPECT_EQ(bits_of(k), bits_of(rk)) << what;
        for (auto [a, b] : {std::pair{&got.k, &want.k},
                            {&got.v, &want.v},
                            {&got.k_scale, &want.k_scale},
                            {&got.v_scale, &want.v_scale}}) {
          if (!a->defined()) continue;
          EXPECT_TRUE(same_bytes(*a, *b)) << what;  // slots never written: zeros in both
        }
      }
    }
  }
}

// qkv_rope_store_kv equals the projection (rms_norm_matmul_split, or matmul_split without the
// norm) then rope_store_kv bit for bit: q, k, v, both caches (and the int8 scales), where the
// GEMV's rotary epilogue applies (m <= 2, rotate_half over the whole head, a 16-bit cache; the
// kernel-level test in test_gemv.cpp shows that it does) and where the op composes
// (interleaved, partial rotary, int8 cache, m = 3). bf16 and f16, GQA, biases, head_dim 64 and
// 128, cos/sin scaled (attention_factor).
TEST(GemvOps, QkvRopeStoreKvEqualsProjectionThenRopeStore) {
  struct Case {
    DType dt;
    int64_t m, hd;
    bool norm, bias, interleaved, partial;
    DType cache;
    double factor;
  };
  const Case cases[] = {
      {DType::bf16, 1, 64, true, false, false, false, DType::bf16, 1.0},
      {DType::bf16, 2, 64, true, true, false, false, DType::bf16, 1.0},
      {DType::bf16, 1, 128, true, true, false, false, DType::bf16, 0.75},
      {DType::bf16, 2, 128, false, false, false, false, DType::bf16, 1.0},
      {DType::f16, 1, 64, true, false, false, false, DType::f16, 1.0},
      {DType::f16, 2, 128, false, true, false, false, DType::f16, 1.25},
      {DType::bf16, 1, 64, true, false, true, false, DType::bf16, 1.0},   // interleaved
      {DType::bf16, 2, 64, true, false, false, true, DType::bf16, 1.0},   // partial rotary
      {DType::bf16, 2, 64, true, true, false, false, DType::i8, 1.0},     // int8 cache
      {DType::bf16, 3, 128, true, false, false, false, DType::bf16, 1.0}  // m = 3
  };
  const int64_t hidden = 512, heads = 8, kv_heads = 2, n_slots = 24;
  for (const Case& c : cases) {
    const std::string what = std::string(core::dtype_name(c.dt)) + " m " + std::to_string(c.m) +
                             " hd " + std::to_string(c.hd) + " norm " + std::to_string(c.norm) +
                             " bias " + std::to_string(c.bias) + " cache " +
                             std::string(core::dtype_name(c.cache));
    auto on_dev = [&](const Tensor& h) {
      auto t = ops::to_device(h, Device::cuda, c.dt);
      EXPECT_TRUE(t.ok()) << t.status().to_string();
      return std::move(t).value();
    };
    auto zeros = [&](const core::Shape& s, DType dt) {
      auto t = ops::empty_on(Device::cuda, s, dt);  // zero-filled
      EXPECT_TRUE(t.ok());
      return std::move(t).value();
    };
    const int64_t rows = (heads + 2 * kv_heads) * c.hd;
    const Tensor w = on_dev(random_f32({rows, hidden}, 70, -0.1f, 0.1f));
    const Tensor b = c.bias ? on_dev(random_f32({rows}, 71)) : Tensor();
    const Tensor x = on_dev(random_f32({c.m, hidden}, 72, -2.f, 2.f));
    const Tensor nw = on_dev(random_f32({hidden}, 73, 0.5f, 1.5f));
    ops::RopeConfig cfg;
    cfg.rotary_dim = c.partial ? c.hd / 2 : c.hd;
    cfg.interleaved = c.interleaved;
    cfg.theta = 500000.0;
    cfg.attention_factor = c.factor;
    const std::vector<float> inv_freq = ops::rope_inv_freq(cfg, 0);
    Tensor pos_h = Tensor::empty({c.m}, DType::i32), slots_h = Tensor::empty({c.m}, DType::i32);
    for (int64_t t = 0; t < c.m; ++t) {
      pos_h.data<int32_t>()[t] = static_cast<int32_t>(255 + 3001 * t);
      slots_h.data<int32_t>()[t] = static_cast<int32_t>(n_slots - 2 - 5 * t);
    }
    auto pos = ops::to_device(pos_h, Device::cuda, DType::i32);
    auto slots = ops::to_device(slots_h, Device::cuda, DType::i32);
    ASSERT_TRUE(pos.ok() && slots.ok());
    auto make_cache = [&] { return zero_cache(n_slots, kv_heads, c.hd, c.cache); };
    // The rotary + KV store half: q, k rotated, k and v into `cache`.
    auto rope_of = [&](Tensor& q, Tensor& k, Tensor& v, ops::KvCacheView& cache) {
      return ops::RopeStoreKv{.q = q,
                              .k = k,
                              .v = v,
                              .positions = *pos,
                              .inv_freq = inv_freq,
                              .cfg = cfg,
                              .slots = *slots,
                              .cache = cache};
    };
    // The op under test.
    Tensor q = zeros({c.m, heads, c.hd}, c.dt), k = zeros({c.m, kv_heads, c.hd}, c.dt),
           v = zeros({c.m, kv_heads, c.hd}, c.dt), normed = zeros({c.m, hidden}, c.dt);
    ops::KvCacheView got = make_cache();
    const ops::NormedInput in{.x = x, .weight = nw, .eps = 1e-5f, .normed = normed};
    ASSERT_TRUE(ops::qkv_rope_store_kv({.x = c.norm ? normed : x,
                                        .norm = c.norm ? &in : nullptr,
                                        .w = w,
                                        .bias = b,
                                        .rope = rope_of(q, k, v, got)})
                    .ok())
        << what;
    // The composition.
    Tensor rq = zeros({c.m, heads * c.hd}, c.dt), rk = zeros({c.m, kv_heads * c.hd}, c.dt),
           rv = zeros({c.m, kv_heads * c.hd}, c.dt), rnormed = zeros({c.m, hidden}, c.dt);
    ops::KvCacheView want = make_cache();
    const ops::NormedInput rin{.x = x, .weight = nw, .eps = 1e-5f, .normed = rnormed};
    ASSERT_TRUE((c.norm ? ops::rms_norm_matmul_split(rin, w, b, {&rq, &rk, &rv})
                        : ops::matmul_split(x, w, b, {&rq, &rk, &rv}))
                    .ok());
    Tensor rq3 = rq.reshape({c.m, heads, c.hd}), rk3 = rk.reshape({c.m, kv_heads, c.hd});
    Tensor rv3 = rv.reshape({c.m, kv_heads, c.hd});
    ASSERT_TRUE(ops::rope_store_kv(rope_of(rq3, rk3, rv3, want)).ok());
    EXPECT_TRUE(same_bytes(q, rq3)) << what;
    EXPECT_TRUE(same_bytes(k, rk3)) << what;
    EXPECT_TRUE(same_bytes(v, rv3)) << what;
    EXPECT_TRUE(same_bytes(got.k, want.k)) << what;
    EXPECT_TRUE(same_bytes(got.v, want.v)) << what;
    if (c.cache == DType::i8) {
      EXPECT_TRUE(same_bytes(got.k_scale, want.k_scale)) << what;
      EXPECT_TRUE(same_bytes(got.v_scale, want.v_scale)) << what;
    }
    // The new token's rows were written (not left zero).
    EXPECT_FALSE(same_bytes(got.k, make_cache().k)) << what;
    EXPECT_FALSE(same_bytes(got.v, make_cache().v)) << what;
  }
}

}  // namespace
}  // namespace lightllm
