// bench/cuda/gemv_tune.cpp — standalone harness for the skinny GEMM (src/kernels/cuda/gemv.h,
// issue #7 batch-1 decode): first checks every kernel configuration against the f64 reference
// of tests/cuda/gemv_ref.h (m 1..8, odd n, bias, f32 out, 3 output segments, gated with the 3
// activations, bf16 and f16), then times, per Llama-2-7B / Llama-3-8B shape and m, our GEMV
// (default configuration and the best of a sweep) against cuBLASLt (GemmLt), as weight GB/s and
// % of the device copy bandwidth measured in the same run. Every timed launch follows a 256 MiB
// memset that flushes L2 (median of 15). Last, the layer chain of a decode step, captured in a
// CUDA graph over 8 layers of distinct weights: ours fused (qkv split, o, gated gate_up, down;
// with and without programmatic dependent launch) against today's path (7 cuBLASLt GEMMs + the
// SwiGLU kernel), the same GEMVs with the decode layer's RMSNorm prologues and residual adds
// (m <= 2), and read roofs of the same weights (bench_l2.h: a bare streaming read in one launch
// and in 4 launches a layer at the projections' boundaries, a persistent read, the GEMVs'
// row-wise pattern, blocks reading consecutive rows front to back, with ld.global.cg and
// ld.global.nc). Built with nvcc alone (tools/gemv_tune.sh).
// Exits 1 if any check fails.
// Usage: gemv_tune [check|time|chain]...   (no argument: all three)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "../../tests/cuda/gemv_ref.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "bench_check.h"
#include "bench_l2.h"
#include "bench_timing.h"
#include "core/dtype.h"
#include "half_bits.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/pdl.cuh"

namespace kc = lightllm::kernels::cuda;
namespace ct = lightllm::cuda_test;
namespace core = lightllm::core;
using core::DType;
using lightllm::backend::cuda::DeviceBuffer;

namespace {

int g_failures = 0;
DeviceBuffer g_flush;
double g_copy_gbs = 0;

DeviceBuffer alloc(size_t bytes) {
  auto b = DeviceBuffer::allocate(std::max<size_t>(bytes, 16));
  CHECK_OK(b.status());
  return std::move(b).value();
}

// Uniform values in [lo, hi) rounded to dt; `bits` gets the device image.
std::vector<float> random_half(DType dt, size_t n, float lo, float hi, uint32_t seed,
                               std::vector<uint16_t>& bits) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  bits.resize(n);
  for (size_t i = 0; i < n; ++i) {
    bits[i] = to_bits(dt, u(rng));
    v[i] = from_bits(dt, bits[i]);
  }
  return v;
}
DeviceBuffer upload_bits(const std::vector<uint16_t>& bits) {
  DeviceBuffer b = alloc(bits.size() * 2);
  CHECK_OK(b.upload(bits.data(), bits.size() * 2));
  return b;
}
std::vector<float> download_out(const DeviceBuffer& b, DType dt, bool f32, size_t n) {
  std::vector<float> v(n);
  if (f32) {
    CHECK_OK(b.download(v.data(), n * 4));
  } else {
    std::vector<uint16_t> bits(n);
    CHECK_OK(b.download(bits.data(), n * 2));
    for (size_t i = 0; i < n; ++i) v[i] = from_bits(dt, bits[i]);
  }
  return v;
}

// Fills a large buffer with small random 16-bit values (|v| < ~0.06, either dtype).
void fill_random(DeviceBuffer& b, uint32_t seed) {
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<uint16_t> h(kChunk / 2);
  std::mt19937 rng(seed);
  for (auto& x : h) x = static_cast<uint16_t>((0x2000 + (rng() & 0x0fff)) | ((rng() & 1) << 15));
  for (size_t off = 0; off < b.size(); off += kChunk) {
    const size_t n = std::min(kChunk, b.size() - off);
    cudaMemcpy(static_cast<char*>(b.data()) + off, h.data(), n, cudaMemcpyHostToDevice);
  }
}

// Median time of fn() in ms, each run after an L2 flush, on the default stream.
double time_ms(const std::function<void()>& fn, int iters = 15) {
  return median_ms_flushed(g_flush.data(), g_flush.size(), fn, iters);
}

// CUDA-core configurations (rows per warp / unroll / threads), then tensor-core ones
// (mma: unroll / threads).
const kc::GemvConfig kSweep[] = {
    {1, 8, 64},        {1, 8, 128},      {1, 8, 256},       {2, 4, 64},        {2, 4, 128},
    {2, 4, 256},       {2, 2, 64},       {2, 2, 128},       {2, 2, 256},       {4, 2, 64},
    {4, 2, 128},       {4, 2, 256},      {0, 4, 128, true}, {0, 4, 256, true}, {0, 8, 128, true},
    {0, 8, 256, true}, {0, 4, 64, true}, {0, 8, 64, true}};

std::string cfg_name(const kc::GemvConfig& c) {
  char b[64];
  if (c.mma) {
    std::snprintf(b, sizeof b, "mma/%d/%d", c.unroll, c.threads);
  } else {
    std::snprintf(b, sizeof b, "%d/%d/%d", c.rows_per_warp, c.unroll, c.threads);
  }
  return b;
}

// ---- checks ------------------------------------------------------------------------------------

void report(const std::string& what, double worst_ratio) {
  const bool ok = worst_ratio <= 1.0 && std::isfinite(worst_ratio);
  if (!ok) ++g_failures;
  std::printf("check %-66s err/tol %.3f %s\n", what.c_str(), worst_ratio, ok ? "OK" : "FAIL");
}

// Plain (1 or 3 segments, bias, f32 out) against the f64 reference, every configuration.
void check_plain(DType dt, int64_t m, int64_t n, int64_t k, bool bias, bool out_f32, int n_seg) {
  std::vector<uint16_t> xb, wb, bb;
  auto x = random_half(dt, size_t(m * k), -1, 1, 1 + uint32_t(m), xb);
  auto w = random_half(dt, size_t(n * k), -1, 1, 2, wb);
  auto b = random_half(dt, size_t(n), -1, 1, 3, bb);
  DeviceBuffer dx = upload_bits(xb), dw = upload_bits(wb), db = upload_bits(bb);
  const auto want = ct::gemv_ref(x, w, bias ? b : std::vector<float>{}, m, n, k);
  const int64_t cols[3] = {n_seg == 3 ? n / 2 : n, n_seg == 3 ? n / 4 : 0,
                           n_seg == 3 ? n - n / 2 - n / 4 : 0};
  const size_t esz = out_f32 ? 4 : 2;
  for (const kc::GemvConfig& cfg : kSweep) {
    DeviceBuffer out[3];
    kc::GemvParams p{.dtype = dt,
                     .x = dx.data(),
                     .w = dw.data(),
                     .bias = bias ? db.data() : nullptr,
                     .m = m,
                     .n = n,
                     .k = k};
    p.n_seg = n_seg;
    p.out_f32 = out_f32;
    p.config = cfg;
    for (int s = 0; s < n_seg; ++s) {
      const int64_t ld = cols[s] + 3;  // a padded row stride
      out[s] = alloc(size_t(m * ld) * esz);
      CHECK_OK(out[s].memset_zero());
      p.seg[s] = {.out = out[s].data(), .cols = cols[s], .ld = ld};
    }
    CHECK_OK(kc::gemv(p, nullptr));
    double worst = 0;
    int64_t start = 0;
    const double eps = ct::gemv_eps(dt == DType::bf16, out_f32);
    for (int s = 0; s < n_seg; ++s) {
      const int64_t ld = cols[s] + 3;
      auto got = download_out(out[s], dt, out_f32, size_t(m * ld));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < cols[s]; ++j) {
          const double wv = want[size_t(i * n + start + j)];
          const double err = std::fabs(got[size_t(i * ld + j)] - wv);
          worst = std::max(worst, err / ct::gemv_plain_tol(wv, k, eps));
        }
      start += cols[s];
    }
    char what[160];
    std::snprintf(what, sizeof what, "%s m=%lld n=%lld k=%lld%s%s seg=%d cfg %s",
                  core::dtype_name(dt).data(), (long long)m, (long long)n, (long long)k,
                  bias ? " bias" : "", out_f32 ? " f32out" : "", n_seg, cfg_name(cfg).c_str());
    report(what, worst);
  }
}

void check_gated(DType dt, int64_t m, int64_t inter, int64_t k, bool bias, kc::GatedAct act) {
  std::vector<uint16_t> xb, wb, bb;
  auto x = random_half(dt, size_t(m * k), -1, 1, 11 + uint32_t(m), xb);
  auto w = random_half(dt, size_t(2 * inter * k), -0.1f, 0.1f, 12, wb);
  auto b = random_half(dt, size_t(2 * inter), -1, 1, 13, bb);
  DeviceBuffer dx = upload_bits(xb), dw = upload_bits(wb), db = upload_bits(bb);
  const auto ref =
      ct::gemv_gated_ref(x, w, bias ? b : std::vector<float>{}, m, inter, k, static_cast<int>(act),
                         ct::gemv_eps(dt == DType::bf16, false));
  for (const kc::GemvConfig& cfg : kSweep) {
    DeviceBuffer out = alloc(size_t(m * inter) * 2);
    CHECK_OK(out.memset_zero());
    kc::GemvParams p{.dtype = dt,
                     .x = dx.data(),
                     .w = dw.data(),
                     .bias = bias ? db.data() : nullptr,
                     .m = m,
                     .n = 2 * inter,
                     .k = k};
    p.seg[0] = {.out = out.data(), .cols = inter, .ld = inter};
    p.gated = true;
    p.act = act;
    p.config = cfg;
    CHECK_OK(kc::gemv(p, nullptr));
    auto got = download_out(out, dt, false, size_t(m * inter));
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - ref.out[i]) / ref.tol[i]);
    char what[160];
    std::snprintf(what, sizeof what, "%s gated act=%d m=%lld inter=%lld k=%lld%s cfg %s",
                  core::dtype_name(dt).data(), static_cast<int>(act), (long long)m,
                  (long long)inter, (long long)k, bias ? " bias" : "", cfg_name(cfg).c_str());
    report(what, worst);
  }
}

void run_checks() {
  for (DType dt : {DType::bf16, DType::f16}) {
    for (int64_t m = 1; m <= kc::kGemvMaxM; ++m) {
      check_plain(dt, m, 83, 520, m % 2 == 1, false, 1);
      check_plain(dt, m, 769, 8 * 129, true, false, 3);
      check_gated(dt, m, 97, 1032, m % 2 == 0, static_cast<kc::GatedAct>(m % 3));
    }
    check_plain(dt, 3, 517, 4104, false, true, 1);  // f32 out (logits)
    check_plain(dt, 8, 5, 8, true, false, 1);       // k = 8: the tail loop only
    check_plain(dt, 1, 3, 14336 + 8, false, false, 1);
    kc::GemvParams bad{
        .dtype = dt, .x = g_flush.data(), .w = g_flush.data(), .m = 1, .n = 4, .k = 12};
    bad.seg[0] = {.out = g_flush.data(), .cols = 4, .ld = 4};
    const bool rejected = !kc::gemv_supported(bad) && !kc::gemv(bad, nullptr).ok();
    if (!rejected) ++g_failures;
    std::printf("check %-66s %s\n", "k = 12 (not a multiple of 8) is rejected",
                rejected ? "OK" : "FAIL");
  }
  CHECK_OK(LLM_CUDA_CHECK(cudaDeviceSynchronize()));
}

// ---- timings ---------------------------------------------------------------------------------

struct GemmShape {
  const char* name;
  int64_t n, k;
  bool gated, out_f32;
};

void time_shapes(const char* model, const std::vector<GemmShape>& shapes, kc::GemmLt& lt) {
  std::printf("\n%s, bf16, L2 flushed before every launch, median of 15 (copy %.0f GB/s)\n", model,
              g_copy_gbs);
  std::printf(
      "| shape | m | cuBLASLt us | cuBLASLt GB/s | ours (default) us | GB/s | %% of copy | "
      "best CUDA-core cfg (R/U/threads) us (%% of copy) | best mma cfg (U/threads) us (%% of "
      "copy) |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const GemmShape& s : shapes) {
    const size_t wbytes = size_t(s.n * s.k) * 2;
    DeviceBuffer w = alloc(wbytes), x = alloc(size_t(8 * s.k) * 2),
                 out = alloc(size_t(8 * s.n) * 4), tmp = alloc(size_t(8 * s.n) * 2);
    fill_random(w, 5);
    fill_random(x, 6);
    for (int64_t m : {1, 2, 4, 8}) {
      kc::GemmParams gp{.dtype = DType::bf16,
                        .x = x.data(),
                        .w = w.data(),
                        .out = s.gated ? tmp.data() : out.data(),
                        .m = m,
                        .n = s.n,
                        .k = s.k,
                        .out_f32 = s.out_f32};
      const double t_lt = time_ms([&] { CHECK_OK(lt.gemm(gp, nullptr)); });
      kc::GemvParams p{
          .dtype = DType::bf16, .x = x.data(), .w = w.data(), .m = m, .n = s.n, .k = s.k};
      p.seg[0] = {
          .out = out.data(), .cols = s.gated ? s.n / 2 : s.n, .ld = s.gated ? s.n / 2 : s.n};
      p.gated = s.gated;
      p.out_f32 = s.out_f32;
      const double t_ours = time_ms([&] { CHECK_OK(kc::gemv(p, nullptr)); });
      double t_best[2] = {1e30, 1e30};
      kc::GemvConfig best[2]{};
      for (const kc::GemvConfig& cfg : kSweep) {
        p.config = cfg;
        const double t = time_ms([&] { CHECK_OK(kc::gemv(p, nullptr)); });
        if (t < t_best[cfg.mma]) {
          t_best[cfg.mma] = t;
          best[cfg.mma] = cfg;
        }
      }
      auto gbs = [&](double ms) { return double(wbytes) / (ms * 1e-3) / 1e9; };
      std::printf(
          "| %s %lldx%lld%s | %lld | %.1f | %.0f | %.1f | %.0f | %.1f%% | %s %.1f (%.1f%%) | "
          "%s %.1f (%.1f%%) |\n",
          s.name, (long long)s.n, (long long)s.k, s.gated ? " gated" : "", (long long)m, t_lt * 1e3,
          gbs(t_lt), t_ours * 1e3, gbs(t_ours), 100 * gbs(t_ours) / g_copy_gbs,
          cfg_name(best[0]).c_str(), t_best[0] * 1e3, 100 * gbs(t_best[0]) / g_copy_gbs,
          cfg_name(best[1]).c_str(), t_best[1] * 1e3, 100 * gbs(t_best[1]) / g_copy_gbs);
      std::fflush(stdout);
    }
  }
}

// ---- the layer chain of a decode step
// ------------------------------------------------------------

struct ModelDims {
  const char* name;
  int64_t hidden, q, kv, inter;
};

void time_chain(const ModelDims& d, kc::GemmLt& lt) {
  constexpr int kLayers = 8;
  const int64_t H = d.hidden, nqkv = d.q + 2 * d.kv;
  const size_t layer_elems = size_t(nqkv * H + H * d.q + 2 * d.inter * H + H * d.inter);
  const double layer_bytes = double(layer_elems) * 2;
  DeviceBuffer wts = alloc(size_t(layer_bytes) * kLayers);
  fill_random(wts, 9);
  DeviceBuffer x = alloc(size_t(8 * std::max(H, d.inter)) * 2), q = alloc(size_t(8 * nqkv) * 2),
               o = alloc(size_t(8 * H) * 2), g = alloc(size_t(8 * 2 * d.inter) * 2),
               a = alloc(size_t(8 * d.inter) * 2);
  fill_random(x, 10);
  cudaStream_t st;
  cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  auto wq = [&](int l) {
    return static_cast<const char*>(wts.data()) + size_t(l) * size_t(layer_bytes);
  };

  std::printf("\n%s layer chain, bf16, %d layers of distinct weights (%.1f MB each), CUDA graph\n",
              d.name, kLayers, layer_bytes / 1e6);
  std::printf(
      "| m | today: 7 cuBLASLt GEMMs + SwiGLU, us/layer | GB/s | %% of copy | ours fused "
      "(4 GEMVs, defaults) us/layer | GB/s | %% of copy | ours without PDL us/layer | %% of "
      "copy | all mma/4/128 | all mma/4/256 | all mma/8/256 |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  auto graph_ms = [&](const std::function<void()>& body) {  // ms per layer
    return median_graph_ms_flushed(st, g_flush.data(), g_flush.size(), body) / kLayers;
  };
  DeviceBuffer norm_w = alloc(size_t(H) * 2);
  fill_random(norm_w, 11);
  for (int64_t m : {1, 2, 4, 8}) {
    kc::GemvConfig force{};    // zero: the defaults
    bool decode_like = false;  // RMSNorm prologue on qkv and gate/up, residual on o and down
    auto ours = [&](bool pdl) {
      kc::set_pdl_enabled(pdl);  // captured launches keep the attribute they were made with
      for (int l = 0; l < kLayers; ++l) {
        const char* w = wq(l);
        kc::GemvParams p{.dtype = DType::bf16, .x = x.data(), .w = w, .m = m, .n = nqkv, .k = H};
        p.config = force;
        if (decode_like) p.norm_weight = norm_w.data();
        p.n_seg = 3;
        char* qb = static_cast<char*>(q.data());
        p.seg[0] = {.out = qb, .cols = d.q, .ld = d.q};
        p.seg[1] = {.out = qb + size_t(8 * d.q) * 2, .cols = d.kv, .ld = d.kv};
        p.seg[2] = {.out = qb + size_t(8 * (d.q + d.kv)) * 2, .cols = d.kv, .ld = d.kv};
        CHECK_OK(kc::gemv(p, st));
        w += size_t(nqkv * H) * 2;
        kc::GemvParams po{.dtype = DType::bf16, .x = q.data(), .w = w, .m = m, .n = H, .k = d.q};
        po.config = force;
        po.accumulate = decode_like;
        po.seg[0] = {.out = o.data(), .cols = H, .ld = H};
        CHECK_OK(kc::gemv(po, st));
        w += size_t(H * d.q) * 2;
        kc::GemvParams pg{
            .dtype = DType::bf16, .x = o.data(), .w = w, .m = m, .n = 2 * d.inter, .k = H};
        pg.config = force;
        if (decode_like) pg.norm_weight = norm_w.data();
        pg.gated = true;
        pg.seg[0] = {.out = a.data(), .cols = d.inter, .ld = d.inter};
        CHECK_OK(kc::gemv(pg, st));
        w += size_t(2 * d.inter * H) * 2;
        kc::GemvParams pd{
            .dtype = DType::bf16, .x = a.data(), .w = w, .m = m, .n = H, .k = d.inter};
        pd.config = force;
        pd.accumulate = decode_like;
        pd.seg[0] = {.out = x.data(), .cols = H, .ld = H};
        CHECK_OK(kc::gemv(pd, st));
      }
    };
    auto today = [&] {
      for (int l = 0; l < kLayers; ++l) {
        const char* w = wq(l);
        char* qb = static_cast<char*>(q.data());
        const int64_t rows[3] = {d.q, d.kv, d.kv};
        for (int s = 0; s < 3; ++s) {
          kc::GemmParams gp{
              .dtype = DType::bf16, .x = x.data(), .w = w, .out = qb, .m = m, .n = rows[s], .k = H};
          CHECK_OK(lt.gemm(gp, st));
          w += size_t(rows[s] * H) * 2;
          qb += size_t(8 * rows[s]) * 2;
        }
        kc::GemmParams go{
            .dtype = DType::bf16, .x = q.data(), .w = w, .out = o.data(), .m = m, .n = H, .k = d.q};
        CHECK_OK(lt.gemm(go, st));
        w += size_t(H * d.q) * 2;
        for (int s = 0; s < 2; ++s) {
          kc::GemmParams gg{.dtype = DType::bf16,
                            .x = o.data(),
                            .w = w,
                            .out = static_cast<char*>(g.data()) + size_t(s * 8 * d.inter) * 2,
                            .m = m,
                            .n = d.inter,
                            .k = H};
          CHECK_OK(lt.gemm(gg, st));
          w += size_t(d.inter * H) * 2;
        }
        CHECK_OK(kc::gated_activation({.dtype = DType::bf16,
                                       .in = g.data(),
                                       .up = static_cast<char*>(g.data()) + size_t(8 * d.inter) * 2,
                                       .out = a.data(),
                                       .n_tokens = m,
                                       .inter = d.inter,
                                       .act = kc::GatedAct::silu},
                                      st));
        kc::GemmParams gd{.dtype = DType::bf16,
                          .x = a.data(),
                          .w = w,
                          .out = x.data(),
                          .m = m,
                          .n = H,
                          .k = d.inter};
        CHECK_OK(lt.gemm(gd, st));
      }
    };
    const double t_today = graph_ms(today);
    const double t_ours = graph_ms([&] { ours(true); });
    const double t_nopdl = graph_ms([&] { ours(false); });
    kc::set_pdl_enabled(true);
    double t_mma[3];
    const kc::GemvConfig mma_cfgs[3] = {{0, 4, 128, true}, {0, 4, 256, true}, {0, 8, 256, true}};
    for (int i = 0; i < 3; ++i) {
      force = mma_cfgs[i];
      t_mma[i] = graph_ms([&] { ours(true); });
    }
    force = {};
    // The decode layer's GEMVs (m <= kGemvNormMaxM): the RMSNorm prologue on qkv and gate/up
    // and the residual add on o and down, as the LLaMA decode layer launches them (rotary
    // epilogue aside), the defaults.
    double t_decode = 0;
    if (m <= kc::kGemvNormMaxM) {
      decode_like = true;
      t_decode = graph_ms([&] { ours(true); });
      decode_like = false;
    }
    auto gbs = [&](double ms) { return layer_bytes / (ms * 1e-3) / 1e9; };
    auto pct = [&](double ms) { return 100 * gbs(ms) / g_copy_gbs; };
    std::printf(
        "| %lld | %.1f | %.0f | %.1f%% | %.1f | %.0f | %.1f%% | %.1f | %.1f%% | %.1f (%.1f%%) "
        "| %.1f (%.1f%%) | %.1f (%.1f%%) |\n",
        (long long)m, t_today * 1e3, gbs(t_today), pct(t_today), t_ours * 1e3, gbs(t_ours),
        pct(t_ours), t_nopdl * 1e3, pct(t_nopdl), t_mma[0] * 1e3, pct(t_mma[0]), t_mma[1] * 1e3,
        pct(t_mma[1]), t_mma[2] * 1e3, pct(t_mma[2]));
    if (m <= kc::kGemvNormMaxM)
      std::printf(
          "(m = %lld) with the decode layer's RMSNorm prologues and residual adds: %.1f us/layer "
          "(%.0f GB/s, %.1f%% of copy)\n",
          (long long)m, t_decode * 1e3, gbs(t_decode), pct(t_decode));
    std::fflush(stdout);
  }
  // The read roof of the same weights (bench_l2.h's stream_read, no arithmetic, no dependency
  // between launches): all 8 layers in one launch (best of 6 shapes), and in 4 launches a layer
  // over each projection's bytes (the GEMVs' launch boundaries, without PDL).
  DeviceBuffer sink = alloc(16);
  double one = 1e30;
  int best_unroll = 4, best_per_sm = 8;
  for (int unroll : {4, 8, 16})
    for (int per_sm : {4, 8}) {
      const double ms = graph_ms([&] {
        stream_read(wts.data(), size_t(layer_bytes) * kLayers, sink.data(), st, unroll, per_sm);
      });
      if (ms < one) one = ms, best_unroll = unroll, best_per_sm = per_sm;
    }
  // fn(w, rows, k) for every projection of the 8 layers in order: qkv [nqkv, H], o [H, q],
  // gate_up [2 inter, H], down [H, inter] (bf16).
  const int64_t projections[4][2] = {{nqkv, H}, {H, d.q}, {2 * d.inter, H}, {H, d.inter}};
  auto each_projection = [&](const std::function<void(const char*, int64_t, int64_t)>& fn) {
    for (int l = 0; l < kLayers; ++l) {
      const char* w = wq(l);
      for (const auto& pr : projections) {
        fn(w, pr[0], pr[1]);
        w += size_t(pr[0] * pr[1]) * 2;
      }
    }
  };
  auto linear_four = [&](bool nc) {  // 4 launches a layer
    return graph_ms([&] {
      each_projection([&](const char* w, int64_t rows, int64_t k) {
        stream_read(w, size_t(rows * k) * 2, sink.data(), st, nc ? 4 : best_unroll, best_per_sm,
                    nc);
      });
    });
  };
  const double four = linear_four(false);
  auto roof_gbs = [&](double ms) { return layer_bytes / (ms * 1e-3) / 1e9; };
  std::printf(
      "read roof, the same weights: one launch %.1f us/layer (%.0f GB/s, %.1f%% of copy; %d "
      "loads x %d blocks/SM); 4 launches a layer %.1f us/layer (%.0f GB/s, %.1f%% of copy)\n",
      one * 1e3, roof_gbs(one), 100 * roof_gbs(one) / g_copy_gbs, best_unroll, best_per_sm,
      four * 1e3, roof_gbs(four), 100 * roof_gbs(four) / g_copy_gbs);
  // The same 32 projections read by one persistent (cooperative) launch with a grid barrier
  // between projections, with and without loading the next projection's first chunks before
  // each barrier; beside the one-launch read timed the same way (eager, memset flush, median
  // of 15, default stream): what a persistent layer kernel could reach at best.
  std::vector<size_t> phase_end;
  size_t chunks = 0;
  each_projection([&](const char*, int64_t rows, int64_t k) {
    phase_end.push_back(chunks += size_t(rows * k) * 2 / 16);
  });
  DeviceBuffer ends = alloc(phase_end.size() * sizeof(size_t)), counter = alloc(16);
  CHECK_OK(ends.upload(phase_end.data(), phase_end.size() * sizeof(size_t)));
  auto eager_ms = [&](const std::function<void()>& fn) {
    return median_ms_flushed(g_flush.data(), g_flush.size(), fn, 15) / kLayers;
  };
  const double eager_one = eager_ms([&] {
    stream_read(wts.data(), size_t(layer_bytes) * kLayers, sink.data(), nullptr, best_unroll,
                best_per_sm);
  });
  double phased[2];
  for (int pf = 0; pf < 2; ++pf) {
    phased[pf] = eager_ms([&] {
      CHECK_OK(LLM_CUDA_CHECK(phased_read(
          wts.data(), static_cast<const size_t*>(ends.data()), static_cast<int>(phase_end.size()),
          static_cast<unsigned*>(counter.data()), pf == 1, sink.data(), nullptr)));
    });
  }
  // The GEMVs' own access pattern (rowwise_read, the decode layer's shapes at m = 1: qkv and
  // gate/up 2 rows x 4 loads x 256 threads, o 1 x 8 x 256, down 2 x 4 x 128), 4 launches a
  // layer in a graph, no PDL: the read half of the GEMV chain.
  auto rowwise_layers = [&](RowwiseOrder order, bool nc) {
    return graph_ms([&] {
      for (int l = 0; l < kLayers; ++l) {
        const char* w = wq(l);
        rowwise_read(w, nqkv, 0, H * 2, 2, 4, 256, order, sink.data(), st, nc);
        w += size_t(nqkv * H) * 2;
        rowwise_read(w, H, 0, d.q * 2, 1, 8, 256, order, sink.data(), st, nc);
        w += size_t(H * d.q) * 2;
        rowwise_read(w, d.inter, d.inter, H * 2, 2, 4, 256, order, sink.data(), st, nc);
        w += size_t(2 * d.inter * H) * 2;
        rowwise_read(w, H, 0, d.inter * 2, 2, 4, 128, order, sink.data(), st, nc);
      }
    });
  };
  double rowwise[3];
  for (int o = 0; o < 3; ++o) rowwise[o] = rowwise_layers(static_cast<RowwiseOrder>(o), false);
  // The load instruction and the order within a block: the row-wise pattern and the linear
  // read with the GEMV's ld.global.nc.L1::no_allocate, and blocks reading their own region of
  // consecutive rows front to back (blocked_read; regions of 4, 16 and 64 rows), 4 launches a
  // layer.
  const double rowwise_nc = rowwise_layers(RowwiseOrder::kRows, true);
  const double four_nc = linear_four(true);
  std::printf(
      "read roof, ld.global.nc.L1::no_allocate: the GEMVs' row-wise pattern %.1f us/layer (%.0f "
      "GB/s); linear, 4 launches a layer %.1f us/layer (%.0f GB/s)\n",
      rowwise_nc * 1e3, roof_gbs(rowwise_nc), four_nc * 1e3, roof_gbs(four_nc));
  for (int rows : {4, 16, 64})
    for (int threads : {256, 512})
      for (bool nc : {false, true}) {
        const double t = graph_ms([&] {
          each_projection([&](const char* w, int64_t n_rows, int64_t k) {
            blocked_read(w, size_t(n_rows * k) * 2, size_t(rows * k) * 2, threads, nc, sink.data(),
                         st);
          });
        });
        std::printf(
            "read roof, blocks reading %d consecutive rows front to back (%d threads, %s): %.1f "
            "us/layer (%.0f GB/s)\n",
            rows, threads, nc ? "nc" : "cg", t * 1e3, roof_gbs(t));
      }
  std::printf(
      "read roof, the GEMVs' access pattern (4 launches a layer, no arithmetic): %.1f "
      "us/layer (%.0f GB/s); each warp starting at a staggered batch of its rows: %.1f "
      "us/layer (%.0f GB/s); a block's warps splitting its rows along k: %.1f us/layer "
      "(%.0f GB/s)\n",
      rowwise[0] * 1e3, roof_gbs(rowwise[0]), rowwise[1] * 1e3, roof_gbs(rowwise[1]),
      rowwise[2] * 1e3, roof_gbs(rowwise[2]));
  std::printf(
      "read roof, eager: one launch %.1f us/layer (%.0f GB/s); one persistent launch, a grid "
      "barrier between projections %.1f us/layer (%.0f GB/s), with the next projection's first "
      "loads before each barrier %.1f us/layer (%.0f GB/s)\n",
      eager_one * 1e3, roof_gbs(eager_one), phased[0] * 1e3, roof_gbs(phased[0]), phased[1] * 1e3,
      roof_gbs(phased[1]));
  cudaStreamDestroy(st);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> modes(argv + 1, argv + argc);
  if (modes.empty()) modes = {"check", "time", "chain"};
  auto want = [&](const char* m) {
    return std::find(modes.begin(), modes.end(), m) != modes.end();
  };
  g_copy_gbs = print_device_and_copy_gbs();
  g_flush = alloc(size_t{256} << 20);
  if (want("check")) run_checks();
  auto lt = kc::GemmLt::create();
  CHECK_OK(lt.status());
  if (want("time")) {
    time_shapes("Llama-2-7B",
                {{"qkv", 12288, 4096, false, false},
                 {"o", 4096, 4096, false, false},
                 {"gate_up", 22016, 4096, true, false},
                 {"down", 4096, 11008, false, false},
                 {"lm_head f32", 32000, 4096, false, true}},
                **lt);
    time_shapes("Llama-3-8B",
                {{"qkv", 6144, 4096, false, false},
                 {"gate_up", 28672, 4096, true, false},
                 {"down", 4096, 14336, false, false},
                 {"lm_head f32", 128256, 4096, false, true}},
                **lt);
  }
  if (want("chain")) {
    time_chain({"Llama-2-7B", 4096, 4096, 4096, 11008}, **lt);
    time_chain({"Llama-3-8B", 4096, 4096, 1024, 14336}, **lt);
  }
  std::printf("\n%d check failures\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
