// bench/cuda/layer_chain_tune.cpp — standalone harness for batch-1 decode (issue #7): the
// kernels of one LLaMA layer's decode step, 32 layers of distinct weights and KV caches back to
// back in one CUDA graph, the way main ran them ("old": add+RMSNorm kernels, QKV GEMV, rotary,
// KV store, decode attention, o GEMV, gate/up GEMV, down GEMV — 10 launches a layer) against the
// fused sequence of src/models/llama.cpp ("new": QKV GEMV with the RMSNorm prologue and the
// rotary + KV store epilogue, decode attention (split + reduction), o GEMV adding into the
// residual, gate/up GEMV with the prologue, down GEMV adding into the residual — 6 launches
// since run 11), each with programmatic dependent launch
// (kernels/cuda/pdl.cuh) on and off. Llama-2-7B and Llama-3-8B shapes, m = 1 and 2 requests of
// `ctx` cached tokens, bf16. Prints the device copy bandwidth measured in the same run, then
// us per layer and the layer's bytes (weights + KV read) as GB/s and % of copy. First checks
// that old and new give the same residual stream (1 layer and 32 layers, eager). Then "plans"
// for the fused sequence (docs/PERFORMANCE.md run 10): L2 prefetches of the next weights while
// attention runs (l2_prefetch.h), forced decode-attention splits and GEMV configurations per
// projection, rotary + KV store in their own launch instead of the QKV GEMV's epilogue (run 11),
// each checked against the fused sequence without one and timed the same way; and
// bounds that leave rotary + KV store and/or the decode attention out (what they cost).
// Built with nvcc alone (tools/layer_chain_tune.sh). Exits 1 if a check fails.
// Usage: layer_chain_tune [ctx]   (default 256, as bench/cuda/model_decode_bench's contexts)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "bench_check.h"
#include "bench_timing.h"
#include "core/dtype.h"
#include "half_bits.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/kv_scatter.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rotary.h"
#include "l2_prefetch.h"

namespace kc = lightllm::kernels::cuda;
namespace core = lightllm::core;
using core::DType;
using lightllm::backend::cuda::DeviceBuffer;

namespace {

constexpr int kLayers = 32;
constexpr DType kDt = DType::bf16;
constexpr int kMaxPlanSplits = 8;
int g_failures = 0;

DeviceBuffer alloc(size_t bytes) {
  auto b = DeviceBuffer::allocate(std::max<size_t>(bytes, 16));
  CHECK_OK(b.status());
  return std::move(b).value();
}

// Fills `bytes` at p with bf16 values uniform in [-a, a) (a 16 MiB random block, repeated).
void fill(void* p, size_t bytes, float a, uint32_t seed) {
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<uint16_t> h(kChunk / 2);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-a, a);
  for (auto& x : h) x = to_bits(kDt, u(rng));
  for (size_t off = 0; off < bytes; off += kChunk)
    CHECK_OK(LLM_CUDA_CHECK(cudaMemcpy(static_cast<char*>(p) + off, h.data(),
                                       std::min(kChunk, bytes - off), cudaMemcpyHostToDevice)));
}

std::vector<float> download(const void* p, size_t n) {
  std::vector<uint16_t> bits(n);
  CHECK_OK(LLM_CUDA_CHECK(cudaMemcpy(bits.data(), p, n * 2, cudaMemcpyDeviceToHost)));
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = from_bits(kDt, bits[i]);
  return v;
}

struct Dims {
  const char* name;
  int64_t hidden, n_heads, n_kv_heads, head_dim, inter;
  double theta;
};

// An L2 prefetch plan for the fused sequence (l2_prefetch.h): after the QKV GEMV,
// the first wo_frac of every row of wo, then (early: same launch; late: a launch after the
// attention) the first gu_prefix bytes of every gate/up row.
// Also the GEMV configurations of the four projections (zeros: gemv.cu's defaults).
struct Prefetch {
  const char* name = "none";
  double wo_frac = 0;
  int64_t gu_prefix = 0;
  bool gu_late = false;
  bool bulk = true, evict_last = false, wait_first = false;
  kc::GemvConfig qkv = {}, o = {}, gu = {}, down = {};
  int splits = 0;  // decode attention splits (0: decode_attention_splits' choice)
  // Rotary + KV store as their own launch (rope_kv_scatter, main before run 11) instead of the
  // QKV GEMV's epilogue (GemvRopeKv).
  bool separate_rope = false;
  // Bounds, not layers (the outputs are wrong, no check): leave out rotary + KV store, or the
  // decode attention (split kernel and reduction).
  bool skip_rope = false, skip_attention = false;
  bool bound() const { return skip_rope || skip_attention; }
};

// One model's layers: weights, norm weights and KV caches per layer, shared activations.
struct Chain {
  Dims d;
  int64_t m, ctx, nq, nkv, nqkv, n_slots;
  size_t w_elems;  // per layer: qkv, o, gate_up, down
  DeviceBuffer weights, norms, kcache, vcache, ws_attn;
  DeviceBuffer residual, residual0, normed, q, k, v, attn, proj, gate;
  DeviceBuffer req_to_token, req_row, kv_len, positions, slots, inv_freq;
  size_t attn_ws_bytes = 0;

  Chain(const Dims& dims, int64_t m_, int64_t ctx_) : d(dims), m(m_), ctx(ctx_) {
    const int64_t H = d.hidden;
    nq = d.n_heads * d.head_dim;
    nkv = d.n_kv_heads * d.head_dim;
    nqkv = nq + 2 * nkv;
    n_slots = m * ctx;
    w_elems = size_t(nqkv * H + H * nq + 2 * d.inter * H + H * d.inter);
    weights = alloc(w_elems * 2 * kLayers);
    fill(weights.data(), weights.size(), 0.02f, 1);
    norms = alloc(size_t(3 * kLayers * H) * 2);  // input, post per layer; the final norm last
    std::vector<uint16_t> nb(size_t(3 * kLayers * H));
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> u(0.8f, 1.2f);
    for (auto& x : nb) x = to_bits(kDt, u(rng));
    CHECK_OK(norms.upload(nb.data(), nb.size() * 2));
    const size_t kv_layer = size_t(n_slots * nkv) * 2;
    kcache = alloc(kv_layer * kLayers);
    vcache = alloc(kv_layer * kLayers);
    fill(kcache.data(), kcache.size(), 1.f, 3);
    fill(vcache.data(), vcache.size(), 1.f, 4);
    residual = alloc(size_t(m * H) * 2);
    residual0 = alloc(size_t(m * H) * 2);
    fill(residual0.data(), residual0.size(), 1.f, 5);
    normed = alloc(size_t(m * H) * 2);
    q = alloc(size_t(m * nq) * 2);
    k = alloc(size_t(m * nkv) * 2);
    v = alloc(size_t(m * nkv) * 2);
    attn = alloc(size_t(m * nq) * 2);
    proj = alloc(size_t(m * H) * 2);
    gate = alloc(size_t(m * d.inter) * 2);
    // Request r holds slots [r·ctx, (r+1)·ctx); its new token is the last one.
    const auto nm = static_cast<size_t>(m);
    std::vector<int32_t> r2t(nm * static_cast<size_t>(ctx)), rows(nm), lens(nm, int32_t(ctx)),
        pos(nm, int32_t(ctx - 1)), sl(nm);
    for (int64_t r = 0; r < m; ++r) {
      rows[size_t(r)] = int32_t(r);
      for (int64_t j = 0; j < ctx; ++j) r2t[size_t(r * ctx + j)] = int32_t(r * ctx + j);
      sl[size_t(r)] = int32_t(r * ctx + ctx - 1);
    }
    auto up32 = [](const std::vector<int32_t>& h) {
      DeviceBuffer b = alloc(h.size() * 4);
      CHECK_OK(b.upload(h.data(), h.size() * 4));
      return b;
    };
    req_to_token = up32(r2t);
    req_row = up32(rows);
    kv_len = up32(lens);
    positions = up32(pos);
    slots = up32(sl);
    std::vector<float> f(size_t(d.head_dim / 2));
    for (size_t i = 0; i < f.size(); ++i)
      f[i] = float(1.0 / std::pow(d.theta, double(2 * i) / double(d.head_dim)));
    inv_freq = alloc(f.size() * 4);
    CHECK_OK(inv_freq.upload(f.data(), f.size() * 4));
    kc::DecodeAttentionParams most = attention(0);  // the plans force up to kMaxPlanSplits
    most.n_splits = std::max(kMaxPlanSplits, kc::decode_attention_splits(most));
    attn_ws_bytes = kc::decode_attention_workspace_bytes(most);
    ws_attn = alloc(attn_ws_bytes);
  }

  const char* w(int l) const {
    return static_cast<const char*>(weights.data()) + size_t(l) * w_elems * 2;
  }
  const void* norm(int i) const {
    return static_cast<const char*>(norms.data()) + size_t(i * d.hidden) * 2;
  }
  size_t layer_bytes() const {  // weights + norm weights + the KV rows attention reads
    return w_elems * 2 + size_t(2 * d.hidden) * 2 + size_t(2 * m * ctx * nkv) * 2;
  }
  char* cache(const DeviceBuffer& c, int l) const {
    return static_cast<char*>(c.data()) + size_t(l) * size_t(n_slots * nkv) * 2;
  }

  kc::DecodeAttentionParams attention(int l) const {
    kc::DecodeAttentionParams p{.dtype = kDt,
                                .q = q.data(),
                                .k_cache = cache(kcache, l),
                                .v_cache = cache(vcache, l),
                                .req_to_token = req_to_token.as<int32_t>(),
                                .req_row = req_row.as<int32_t>(),
                                .kv_len = kv_len.as<int32_t>(),
                                .out = attn.data(),
                                .n_reqs = int(m),
                                .n_heads = int(d.n_heads),
                                .n_kv_heads = int(d.n_kv_heads),
                                .head_dim = int(d.head_dim),
                                .req_to_token_stride = ctx,
                                .max_kv_len = int(ctx),
                                .softmax_scale = float(1.0 / std::sqrt(double(d.head_dim)))};
    p.workspace = ws_attn.data();
    p.workspace_bytes = attn_ws_bytes;
    return p;
  }
  kc::RotaryParams rotary() const {
    return {.dtype = kDt,
            .q = q.data(),
            .k = k.data(),
            .positions = positions.as<int32_t>(),
            .inv_freq = inv_freq.as<float>(),
            .n_tokens = m,
            .n_heads = int(d.n_heads),
            .n_kv_heads = int(d.n_kv_heads),
            .head_dim = int(d.head_dim),
            .rotary_dim = int(d.head_dim)};
  }
  kc::KvScatterParams kv(int l) const {
    return {.dtype = kDt,
            .k = k.data(),
            .v = v.data(),
            .slots = slots.as<int32_t>(),
            .k_cache = cache(kcache, l),
            .v_cache = cache(vcache, l),
            .n_tokens = m,
            .n_kv_heads = int(d.n_kv_heads),
            .head_dim = int(d.head_dim)};
  }
  kc::GemvRopeKv rope_kv(int l) const {
    return {.positions = positions.as<int32_t>(),
            .inv_freq = inv_freq.as<float>(),
            .slots = slots.as<int32_t>(),
            .k_cache = cache(kcache, l),
            .v_cache = cache(vcache, l),
            .head_dim = int(d.head_dim)};
  }
  kc::GemvParams gemv(const void* x, const char* wt, int64_t n, int64_t kk) const {
    return {.dtype = kDt, .x = x, .w = wt, .m = m, .n = n, .k = kk};
  }
  kc::RmsNormParams norm_params(const void* x, void* res, int i) const {
    return {.dtype = kDt,
            .x = x,
            .residual = res,
            .weight = norm(i),
            .out = normed.data(),
            .n_tokens = m,
            .hidden = d.hidden,
            .eps = 1e-5f};
  }

  // The QKV GEMV's three outputs.
  void qkv_segments(kc::GemvParams& p) const {
    p.n_seg = 3;
    p.seg[0] = {.out = q.data(), .cols = nq, .ld = nq};
    p.seg[1] = {.out = k.data(), .cols = nkv, .ld = nkv};
    p.seg[2] = {.out = v.data(), .cols = nkv, .ld = nkv};
  }

  // main's sequence: rmsnorm, then per layer qkv, rotary, kv store, attention, o, add+norm,
  // gate_up, down, add+norm.
  void run_old(cudaStream_t st, int layers) const {
    const int64_t H = d.hidden;
    CHECK_OK(kc::rmsnorm(norm_params(residual.data(), nullptr, 0), st));
    for (int l = 0; l < layers; ++l) {
      const char* wt = w(l);
      kc::GemvParams pq = gemv(normed.data(), wt, nqkv, H);
      qkv_segments(pq);
      CHECK_OK(kc::gemv(pq, st));
      wt += size_t(nqkv * H) * 2;
      CHECK_OK(kc::rotary(rotary(), st));
      CHECK_OK(kc::kv_scatter(kv(l), st));
      CHECK_OK(kc::decode_attention(attention(l), st));
      kc::GemvParams po = gemv(attn.data(), wt, H, nq);
      po.seg[0] = {.out = proj.data(), .cols = H, .ld = H};
      CHECK_OK(kc::gemv(po, st));
      wt += size_t(H * nq) * 2;
      CHECK_OK(kc::add_rmsnorm(norm_params(proj.data(), residual.data(), 2 * l + 1), st));
      kc::GemvParams pg = gemv(normed.data(), wt, 2 * d.inter, H);
      pg.gated = true;
      pg.seg[0] = {.out = gate.data(), .cols = d.inter, .ld = d.inter};
      CHECK_OK(kc::gemv(pg, st));
      wt += size_t(2 * d.inter * H) * 2;
      kc::GemvParams pd = gemv(gate.data(), wt, H, d.inter);
      pd.seg[0] = {.out = proj.data(), .cols = H, .ld = H};
      CHECK_OK(kc::gemv(pd, st));
      const int next = l + 1 < layers ? 2 * (l + 1) : 2 * kLayers;  // the final norm last
      CHECK_OK(kc::add_rmsnorm(norm_params(proj.data(), residual.data(), next), st));
    }
  }

  // Layer l's o-projection and gate/up weights: [H, nq] and [2·inter, H].
  const char* wo(int l) const { return w(l) + size_t(nqkv * d.hidden) * 2; }
  const char* wgu(int l) const { return wo(l) + size_t(d.hidden * nq) * 2; }

  bench::L2PrefetchParams prefetch_params(const Prefetch& pf, int l, bool o, bool gu) const {
    bench::L2PrefetchParams p{.range = {},
                              .n_ranges = 0,
                              .bulk = pf.bulk,
                              .evict_last = pf.evict_last,
                              .wait_first = pf.wait_first};
    if (o && pf.wo_frac > 0)
      p.range[p.n_ranges++] = {.base = wo(l),
                               .rows = d.hidden,
                               .row_bytes = nq * 2,
                               .prefix_bytes = int64_t(pf.wo_frac * double(nq * 2))};
    if (gu && pf.gu_prefix > 0)
      p.range[p.n_ranges++] = {.base = wgu(l),
                               .rows = 2 * d.inter,
                               .row_bytes = d.hidden * 2,
                               .prefix_bytes = pf.gu_prefix};
    return p;
  }

  // llama.cpp's fused sequence, with an optional L2 prefetch plan.
  void run_new(cudaStream_t st, int layers, const Prefetch& pf = {}) const {
    const int64_t H = d.hidden;
    for (int l = 0; l < layers; ++l) {
      const char* wt = w(l);
      kc::GemvParams pq = gemv(residual.data(), wt, nqkv, H);
      qkv_segments(pq);
      pq.norm_weight = norm(2 * l);
      pq.norm_eps = 1e-5f;
      pq.config = pf.qkv;
      const bool fuse = !pf.separate_rope && !pf.skip_rope;
      if (fuse) pq.rope = rope_kv(l);
      CHECK_OK(kc::gemv(pq, st));
      wt += size_t(nqkv * H) * 2;
      if (pf.wo_frac > 0 || (pf.gu_prefix > 0 && !pf.gu_late))
        CHECK_OK(bench::l2_prefetch(prefetch_params(pf, l, true, !pf.gu_late), st));
      if (!pf.skip_rope && !fuse) CHECK_OK(kc::rope_kv_scatter(rotary(), kv(l), false, st));
      kc::DecodeAttentionParams pa = attention(l);
      pa.n_splits = pf.splits;
      if (!pf.skip_attention) CHECK_OK(kc::decode_attention(pa, st));
      if (pf.gu_prefix > 0 && pf.gu_late)
        CHECK_OK(bench::l2_prefetch(prefetch_params(pf, l, false, true), st));
      kc::GemvParams po = gemv(attn.data(), wt, H, nq);
      po.seg[0] = {.out = residual.data(), .cols = H, .ld = H};
      po.accumulate = true;
      po.config = pf.o;
      CHECK_OK(kc::gemv(po, st));
      wt += size_t(H * nq) * 2;
      kc::GemvParams pg = gemv(residual.data(), wt, 2 * d.inter, H);
      pg.gated = true;
      pg.seg[0] = {.out = gate.data(), .cols = d.inter, .ld = d.inter};
      pg.norm_weight = norm(2 * l + 1);
      pg.norm_eps = 1e-5f;
      pg.config = pf.gu;
      CHECK_OK(kc::gemv(pg, st));
      wt += size_t(2 * d.inter * H) * 2;
      kc::GemvParams pd = gemv(gate.data(), wt, H, d.inter);
      pd.seg[0] = {.out = residual.data(), .cols = H, .ld = H};
      pd.accumulate = true;
      pd.config = pf.down;
      CHECK_OK(kc::gemv(pd, st));
    }
    CHECK_OK(kc::rmsnorm(norm_params(residual.data(), nullptr, 2 * kLayers), st));  // final
  }

  void reset_residual(cudaStream_t st) const {
    CHECK_OK(LLM_CUDA_CHECK(cudaMemcpyAsync(residual.data(), residual0.data(), residual.size(),
                                            cudaMemcpyDeviceToDevice, st)));
  }
};

// max |a - b| / max |b| (infinite if a value is not finite).
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double mx = 0, err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return double(INFINITY);
    mx = std::max(mx, double(std::fabs(b[i])));
    err = std::max(err, double(std::fabs(a[i] - b[i])));
  }
  return mx > 0 ? err / mx : err;
}

// old vs new after `layers` layers, eagerly: residual and final normed, relative to the largest
// |value| (the rounding of one sum of squares differs, so they agree to a few bf16 ulps).
void check(const Chain& c, cudaStream_t st, int layers, double tol) {
  const size_t n = size_t(c.m * c.d.hidden);
  c.reset_residual(st);
  c.run_old(st, layers);
  CHECK_OK(LLM_CUDA_CHECK(cudaStreamSynchronize(st)));
  const auto r_old = download(c.residual.data(), n), n_old = download(c.normed.data(), n);
  c.reset_residual(st);
  c.run_new(st, layers);
  CHECK_OK(LLM_CUDA_CHECK(cudaStreamSynchronize(st)));
  const auto r_new = download(c.residual.data(), n), n_new = download(c.normed.data(), n);
  const double er = max_rel_diff(r_new, r_old), en = max_rel_diff(n_new, n_old);
  const bool ok = er <= tol && en <= tol;
  if (!ok) ++g_failures;
  std::printf(
      "check %s m=%lld %2d layers: new vs old max|diff|/max|old| residual %.2e normed %.2e "
      "(tol %.0e) %s\n",
      c.d.name, (long long)c.m, layers, er, en, tol, ok ? "OK" : "FAIL");
}

// The fused sequence with a plan against without, after 32 layers: a prefetch is a hint and
// the GEMV's per-lane accumulation order does not depend on its configuration, so the outputs
// are bit-identical unless the plan changes the block size of a GEMV with the RMSNorm prologue
// (whose sum of squares is reduced over the block) or the attention's splits (the softmax
// sums in another order): then within 5e-2 as old vs new. Bounds are not checked.
void check_prefetch(const Chain& c, cudaStream_t st, const Prefetch& pf) {
  if (pf.bound()) return;
  const size_t n = size_t(c.m * c.d.hidden);
  c.reset_residual(st);
  c.run_new(st, kLayers);
  CHECK_OK(LLM_CUDA_CHECK(cudaStreamSynchronize(st)));
  const auto r0 = download(c.residual.data(), n), n0 = download(c.normed.data(), n);
  c.reset_residual(st);
  c.run_new(st, kLayers, pf);
  CHECK_OK(LLM_CUDA_CHECK(cudaStreamSynchronize(st)));
  const auto r1 = download(c.residual.data(), n), n1 = download(c.normed.data(), n);
  const auto same_block = [](const kc::GemvConfig& g) {
    return g.threads == 0 || g.threads == kc::kGemvNormConfig.threads;
  };
  const bool exact = same_block(pf.qkv) && same_block(pf.gu) && pf.splits == 0;
  const double er = max_rel_diff(r1, r0), en = max_rel_diff(n1, n0);
  const bool ok = exact ? r0 == r1 && n0 == n1 : er <= 5e-2 && en <= 5e-2;
  if (!ok) ++g_failures;
  if (!ok || !exact)
    std::printf("check %s m=%lld plan %s vs none (%s): residual %.2e normed %.2e %s\n", c.d.name,
                (long long)c.m, pf.name, exact ? "bit-identical" : "tol 5e-2", er, en,
                ok ? "OK" : "FAIL");
}

// The plans timed: "wo F": the first fraction F of every row of wo prefetched after the QKV
// GEMV (bulk: cp.async.bulk.prefetch.L2; lines: prefetch.global.L2 per line; evict_last;
// wait_first: only once the QKV GEMV completed); "gu B late": the first B bytes of every gate/up
// row, in a launch after the attention; "splits N": the decode attention's splits forced;
// "rope separate": rotary + KV store in their own launch (main before run 11) instead of the
// QKV GEMV's epilogue; GEMV configurations (rows per warp x loads in flight x threads) of the
// projections named; "bound: ...": kernels left out.
const kc::GemvConfig k2x4x128{2, 4, 128}, k2x4x256{2, 4, 256};
const Prefetch kPlans[] = {
    {.name = "none"},
    {.name = "rope separate", .separate_rope = true},
    {.name = "qkv,gu 2x4x128", .qkv = k2x4x128, .gu = k2x4x128},
    {.name = "rope separate, qkv,gu 2x4x128",
     .qkv = k2x4x128,
     .gu = k2x4x128,
     .separate_rope = true},
    {.name = "gu 1x8x256", .gu = {1, 8, 256}},
    {.name = "gu 4x2x256", .gu = {4, 2, 256}},
    {.name = "gu 2x2x256", .gu = {2, 2, 256}},
    {.name = "o,down 2x4x256", .o = k2x4x256, .down = k2x4x256},
    {.name = "down 1x8x256", .down = {1, 8, 256}},
    {.name = "wo 50%", .wo_frac = 0.5},
    {.name = "gu 1024 late", .gu_prefix = 1024, .gu_late = true},
    {.name = "none (again)"},
    {.name = "bound: no rope+store", .skip_rope = true},
    {.name = "bound: no attention", .skip_attention = true},
    {.name = "bound: GEMVs only", .skip_rope = true, .skip_attention = true},
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t ctx = argc > 1 ? std::atoll(argv[1]) : 256;
  const double copy_gbs = print_device_and_copy_gbs();
  DeviceBuffer flush = alloc(size_t{256} << 20);
  cudaStream_t st;
  cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  const Dims models[2] = {{"Llama-2-7B", 4096, 32, 32, 128, 11008, 10000.0},
                          {"Llama-3-8B", 4096, 32, 8, 128, 14336, 500000.0}};
  std::printf(
      "\n%d layers per CUDA graph, bf16, %lld cached tokens per request, L2 flushed before each "
      "replay, median of 10; us per layer (the graph's time / %d), GB/s and %% of copy over the "
      "layer's weights + KV bytes\n",
      kLayers, (long long)ctx, kLayers);
  std::printf(
      "| model | m | MB/layer | old (10 launches), PDL off | old, PDL on | new fused (6 launches), "
      "PDL off | new, PDL on | new PDL on GB/s | %% of copy | old PDL off -> new PDL on |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::vector<std::string> heads, rows;  // of the plan table: a row per plan
  for (const Prefetch& pf : kPlans) rows.push_back(std::string("| ") + pf.name);
  for (const Dims& d : models) {
    for (int64_t m : {1, 2}) {
      Chain c(d, m, ctx);
      kc::set_pdl_enabled(true);
      check(c, st, 1, 2e-2);
      check(c, st, kLayers, 5e-2);
      double t[4];
      int i = 0;
      for (bool fused : {false, true})
        for (bool pdl : {false, true}) {
          kc::set_pdl_enabled(pdl);
          c.reset_residual(st);
          t[i++] = median_graph_ms_flushed(st, flush.data(), flush.size(),
                                           [&] {
                                             if (fused) {
                                               c.run_new(st, kLayers);
                                             } else {
                                               c.run_old(st, kLayers);
                                             }
                                           }) *
                   1e3 / kLayers;
        }
      kc::set_pdl_enabled(true);
      const double gbs = double(c.layer_bytes()) / (t[3] * 1e-6) / 1e9;
      std::printf("| %s | %lld | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.1f%% | %.2fx |\n",
                  d.name, (long long)m, double(c.layer_bytes()) / 1e6, t[0], t[1], t[2], t[3], gbs,
                  100 * gbs / copy_gbs, t[0] / t[3]);
      std::fflush(stdout);
      // The plans (PDL on): a column of the plan table per (model, m).
      heads.push_back(std::string(d.name) + " m=" + std::to_string(m));
      for (size_t i = 0; i < std::size(kPlans); ++i) {
        const Prefetch& pf = kPlans[i];
        check_prefetch(c, st, pf);
        c.reset_residual(st);
        const double us = median_graph_ms_flushed(st, flush.data(), flush.size(),
                                                  [&] { c.run_new(st, kLayers, pf); }) *
                          1e3 / kLayers;
        char cell[64];
        std::snprintf(cell, sizeof cell, " | %.1f (%.1f%%)", us,
                      100 * double(c.layer_bytes()) / (us * 1e-6) / 1e9 / copy_gbs);
        rows[i] += cell;
      }
    }
  }
  std::printf(
      "\nPlans for the fused sequence (L2 prefetch, attention splits, GEMV configurations rows x "
      "loads x threads; bounds leave kernels out), PDL on: us per layer (%% of copy)\n| plan");
  for (const auto& h : heads) std::printf(" | %s", h.c_str());
  std::printf(" |\n| ---");
  for (size_t i = 0; i < heads.size(); ++i) std::printf(" | ---");
  std::printf(" |\n");
  for (const auto& r : rows) std::printf("%s |\n", r.c_str());
  cudaStreamDestroy(st);
  std::printf("\n%d check failures\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
