// tests/kernels/fused_ops_test.cpp — the fused batch-1 decode ops on the CPU, where each is
// the composition of the ops its ops.h comment names: rms_norm_matmul_split,
// rms_norm_gated_matmul, matmul_add, rope_store_kv and qkv_rope_store_kv against those ops run
// one by one, bit for bit (the CUDA kernels are held to the same compositions by
// tests/cuda/test_gemv_ops.cpp).
#include <cstring>
#include <numeric>

#include "kernel_test_util.h"
#include "ops/ops.h"

namespace lightllm::ktest {
namespace {

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.nbytes(), b.nbytes()) << what;
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << what;
}

TEST(FusedOps, RmsNormMatmulSplitIsNormThenSplit) {
  const int64_t m = 3, k = 48, nq = 32, nk = 8;
  const Tensor x = random_tensor({m, k}, 1), nw = random_tensor({k}, 2, 0.5f, 1.5f);
  const Tensor w = convert(random_tensor({nq + 2 * nk, k}, 3), DType::bf16);
  const Tensor b = random_tensor({nq + 2 * nk}, 4);
  Tensor normed = Tensor::empty({m, k}, DType::f32);
  Tensor q = Tensor::empty({m, nq}, DType::f32), kk = Tensor::empty({m, nk}, DType::f32),
         v = Tensor::empty({m, nk}, DType::f32);
  ASSERT_TRUE(ops::rms_norm_matmul_split({.x = x, .weight = nw, .eps = 1e-5f, .normed = normed}, w,
                                         b, {&q, &kk, &v})
                  .ok());
  Tensor rn = Tensor::empty({m, k}, DType::f32);
  ASSERT_TRUE(ops::rms_norm(x, nw, 1e-5f, rn).ok());
  Tensor rq = Tensor::empty({m, nq}, DType::f32), rk = Tensor::empty({m, nk}, DType::f32),
         rv = Tensor::empty({m, nk}, DType::f32);
  ASSERT_TRUE(ops::matmul_split(rn, w, b, {&rq, &rk, &rv}).ok());
  expect_same(normed, rn, "normed");
  expect_same(q, rq, "q");
  expect_same(kk, rk, "k");
  expect_same(v, rv, "v");
  // normed must be a buffer of its own.
  Tensor alias = x;
  EXPECT_FALSE(ops::rms_norm_matmul_split({.x = x, .weight = nw, .eps = 1e-5f, .normed = alias}, w,
                                          b, {&q, &kk, &v})
                   .ok());
}

TEST(FusedOps, RmsNormGatedMatmulIsNormThenGated) {
  const int64_t m = 2, k = 40, inter = 24;
  const Tensor x = random_tensor({m, k}, 5), nw = random_tensor({k}, 6, 0.5f, 1.5f);
  const Tensor w = random_tensor({2 * inter, k}, 7, -0.3f, 0.3f);
  for (ops::GatedAct act : {ops::GatedAct::silu, ops::GatedAct::gelu_tanh}) {
    Tensor normed = Tensor::empty({m, k}, DType::f32), up = Tensor::empty({m, inter}, DType::f32),
           out = Tensor::empty({m, inter}, DType::f32);
    ASSERT_TRUE(ops::rms_norm_gated_matmul({.x = x, .weight = nw, .eps = 1e-6f, .normed = normed},
                                           w, Tensor(), act, up, out)
                    .ok());
    Tensor rn = Tensor::empty({m, k}, DType::f32), rup = Tensor::empty({m, inter}, DType::f32),
           rout = Tensor::empty({m, inter}, DType::f32);
    ASSERT_TRUE(ops::rms_norm(x, nw, 1e-6f, rn).ok());
    ASSERT_TRUE(ops::gated_matmul(rn, w, Tensor(), act, rup, rout).ok());
    expect_same(out, rout, "out act " + std::to_string(int(act)));
  }
}

TEST(FusedOps, MatmulAddIsMatmulThenAdd) {
  const int64_t m = 2, k = 32, n = 16;
  const Tensor x = random_tensor({m, k}, 8), w = random_tensor({n, k}, 9),
               b = random_tensor({n}, 10);
  const Tensor res0 = random_tensor({m, n}, 11);
  Tensor res = copy_of(res0), scratch = Tensor::empty({m, n}, DType::f32);
  ASSERT_TRUE(ops::matmul_add(x, w, b, scratch, res).ok());
  Tensor ref = copy_of(res0), proj = Tensor::empty({m, n}, DType::f32);
  ASSERT_TRUE(ops::matmul(x, w, b, proj).ok());
  ASSERT_TRUE(ops::add(ref, proj).ok());
  expect_same(res, ref, "residual");
}

TEST(FusedOps, RopeStoreKvIsRopeThenStore) {
  const int64_t n = 3, heads = 4, kv_heads = 2, hd = 16, n_slots = 9;
  for (DType cache_dt : {DType::f32, DType::bf16, DType::i8}) {
    for (bool interleaved : {false, true}) {
      ops::RopeConfig cfg;
      cfg.rotary_dim = interleaved ? hd : hd / 2;  // partial rotary too
      cfg.interleaved = interleaved;
      const std::vector<float> inv_freq = ops::rope_inv_freq(cfg, 0);
      Tensor pos = Tensor::empty({n}, DType::i32), slots = Tensor::empty({n}, DType::i32);
      for (int64_t t = 0; t < n; ++t) {
        pos.data<int32_t>()[t] = static_cast<int32_t>(5 + 7 * t);
        slots.data<int32_t>()[t] = static_cast<int32_t>(n_slots - 1 - 2 * t);
      }
      const Tensor q0 = random_tensor({n, heads, hd}, 12),
                   k0 = random_tensor({n, kv_heads, hd}, 13);
      Tensor v = random_tensor({n, kv_heads, hd}, 14);
      auto make_cache = [&] {
        ops::KvCacheView c{Tensor::empty({n_slots, kv_heads, hd}, cache_dt),
                           Tensor::empty({n_slots, kv_heads, hd}, cache_dt),
                           {},
                           {}};
        if (cache_dt == DType::i8) {
          c.k_scale = Tensor::empty({n_slots, kv_heads}, DType::f32);
          c.v_scale = Tensor::empty({n_slots, kv_heads}, DType::f32);
        }
        return c;
      };
      Tensor q = copy_of(q0), k = copy_of(k0);
      ops::KvCacheView got = make_cache();
      ASSERT_TRUE(ops::rope_store_kv({.q = q,
                                      .k = k,
                                      .v = v,
                                      .positions = pos,
                                      .inv_freq = inv_freq,
                                      .cfg = cfg,
                                      .slots = slots,
                                      .cache = got})
                      .ok());
      Tensor rq = copy_of(q0), rk = copy_of(k0);
      ops::KvCacheView want = make_cache();
      ASSERT_TRUE(ops::rope(rq, rk, pos, inv_freq, cfg).ok());
      ASSERT_TRUE(ops::store_kv(rk, v, slots, want).ok());
      const std::string what =
          std::string(core::dtype_name(cache_dt)) + (interleaved ? " interleaved" : " rotate_half");
      expect_same(q, rq, what + " q");
      expect_same(k, rk, what + " k");
      expect_same(got.k, want.k, what + " cache.k");
      expect_same(got.v, want.v, what + " cache.v");
      if (cache_dt == DType::i8) {
        expect_same(got.k_scale, want.k_scale, what + " k_scale");
        expect_same(got.v_scale, want.v_scale, what + " v_scale");
      }
    }
  }
}

TEST(FusedOps, QkvRopeStoreKvIsProjectionThenRopeStore) {
  const int64_t m = 2, hidden = 48, heads = 4, kv_heads = 2, hd = 16, n_slots = 6;
  const int64_t nq = heads * hd, nkv = kv_heads * hd;
  const Tensor x = random_tensor({m, hidden}, 20), nw = random_tensor({hidden}, 21, 0.5f, 1.5f);
  const Tensor w = convert(random_tensor({nq + 2 * nkv, hidden}, 22), DType::bf16);
  const Tensor b = random_tensor({nq + 2 * nkv}, 23);
  ops::RopeConfig cfg;
  cfg.rotary_dim = hd;
  const std::vector<float> inv_freq = ops::rope_inv_freq(cfg, 0);
  Tensor pos = Tensor::empty({m}, DType::i32), slots = Tensor::empty({m}, DType::i32);
  for (int64_t t = 0; t < m; ++t) {
    pos.data<int32_t>()[t] = static_cast<int32_t>(9 + 4 * t);
    slots.data<int32_t>()[t] = static_cast<int32_t>(n_slots - 1 - 3 * t);
  }
  auto make_cache = [&] {
    return ops::KvCacheView{Tensor::empty({n_slots, kv_heads, hd}, DType::bf16),
                            Tensor::empty({n_slots, kv_heads, hd}, DType::bf16),
                            {},
                            {}};
  };
  // The rotary + KV store half of the op, writing q, k, v and `cache`.
  auto rope_of = [&](Tensor& q, Tensor& k, Tensor& v, ops::KvCacheView& cache) {
    return ops::RopeStoreKv{.q = q,
                            .k = k,
                            .v = v,
                            .positions = pos,
                            .inv_freq = inv_freq,
                            .cfg = cfg,
                            .slots = slots,
                            .cache = cache};
  };
  for (bool norm : {false, true}) {
    const std::string what = norm ? "norm" : "no norm";
    Tensor normed = Tensor::empty({m, hidden}, DType::f32);
    const ops::NormedInput in{.x = x, .weight = nw, .eps = 1e-5f, .normed = normed};
    Tensor q = Tensor::empty({m, heads, hd}, DType::f32),
           k = Tensor::empty({m, kv_heads, hd}, DType::f32),
           v = Tensor::empty({m, kv_heads, hd}, DType::f32);
    ops::KvCacheView got = make_cache();
    ASSERT_TRUE(ops::qkv_rope_store_kv({.x = norm ? normed : x,
                                        .norm = norm ? &in : nullptr,
                                        .w = w,
                                        .bias = b,
                                        .rope = rope_of(q, k, v, got)})
                    .ok())
        << what;
    Tensor rn = Tensor::empty({m, hidden}, DType::f32);
    if (norm) {
      ASSERT_TRUE(ops::rms_norm(x, nw, 1e-5f, rn).ok());
    }
    Tensor rq = Tensor::empty({m, nq}, DType::f32), rk = Tensor::empty({m, nkv}, DType::f32),
           rv = Tensor::empty({m, nkv}, DType::f32);
    ASSERT_TRUE(ops::matmul_split(norm ? rn : x, w, b, {&rq, &rk, &rv}).ok());
    Tensor rq3 = rq.reshape({m, heads, hd}), rk3 = rk.reshape({m, kv_heads, hd});
    const Tensor rv3 = rv.reshape({m, kv_heads, hd});
    ASSERT_TRUE(ops::rope(rq3, rk3, pos, inv_freq, cfg).ok());
    ops::KvCacheView want = make_cache();
    ASSERT_TRUE(ops::store_kv(rk3, rv3, slots, want).ok());
    expect_same(q, rq3, what + " q");
    expect_same(k, rk3, what + " k");
    expect_same(v, rv3, what + " v");
    expect_same(got.k, want.k, what + " cache.k");
    expect_same(got.v, want.v, what + " cache.v");
  }
  // w must hold exactly the q, k and v rows.
  Tensor q = Tensor::empty({m, heads, hd}, DType::f32),
         k = Tensor::empty({m, kv_heads, hd}, DType::f32),
         v = Tensor::empty({m, kv_heads, hd}, DType::f32);
  ops::KvCacheView c = make_cache();
  const Tensor short_w = convert(random_tensor({nq + nkv, hidden}, 24), DType::bf16);
  EXPECT_FALSE(
      ops::qkv_rope_store_kv(
          {.x = x, .norm = nullptr, .w = short_w, .bias = Tensor(), .rope = rope_of(q, k, v, c)})
          .ok());
}

}  // namespace
}  // namespace lightllm::ktest
