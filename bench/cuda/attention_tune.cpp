// bench/cuda/attention_tune.cpp — standalone tuning harness for the attention kernels (issue #7):
// correctness of every variant against the f64 reference of tests/cuda/attention_ref.h on odd
// shapes, then timings of the variants on the shapes, with the device copy bandwidth of
// the same run as the yardstick. Built with nvcc alone (no fmt/gtest/cmake needed), so it runs
// on a GPU machine that has only the CUDA toolkit:
//   tools/attention_tune.sh [decode|decode-sweep|prefill[-nocheck]] [prefill variants, e.g. 023]
// Output: one line per measurement, "check ... max_err ... OK|FAIL" lines first; the process
// exits 1 if any check fails. Decode: KV bytes read / time (random slot order), automatic
// configuration of both kernels (argument "decode-sweep": the tensor-core kernel x forced splits,
// bf16 and int8 KV); prefill: TFLOP/s (causal FLOPs = 4 D H sum(len^2)/2) per kernel variant (2:
// mma.sync; 5: warp-specialized wgmma; 0: default) and tile shape (rows x keys), the
// first configuration's output the reference of the others; checks per variant and tile shape with
// ALiBi, window, non-causal, MQA with prefixes, int8 K/V (mma.sync only); "prefill-nocheck" skips
// the checks (for ncu). Compare with bench/cuda/torch_baseline.py.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include <cuda_runtime_api.h>

#include "../../tests/cuda/attention_ref.h"
#include "backend/cuda/device_buffer.h"
#include "bench_check.h"
#include "bench_timing.h"
#include "half_bits.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/prefill_attention.h"

namespace kc = lightllm::kernels::cuda;
namespace ct = lightllm::cuda_test;
using lightllm::backend::cuda::DeviceBuffer;
using lightllm::core::DType;

namespace {

int g_failures = 0;
const char* g_variants = "025";  // prefill variants to check and time (argv[2], e.g. "25")
bool want_variant(int v) {
  return std::strchr(g_variants, '0' + v) != nullptr;
}
DeviceBuffer g_flush;
double g_copy_gbs = 0;

DeviceBuffer alloc(size_t bytes) {
  auto b = DeviceBuffer::allocate(bytes);
  CHECK_OK(b.status());
  return std::move(b).value();
}
template <typename T>
DeviceBuffer upload(const std::vector<T>& v) {
  DeviceBuffer b = alloc(std::max<size_t>(1, v.size() * sizeof(T)));
  if (!v.empty()) CHECK_OK(b.upload(v.data(), v.size() * sizeof(T)));
  return b;
}

// Random values in [lo, hi], rounded to dt; returns the bits, `vals` gets the rounded floats.
std::vector<uint16_t> random_half(DType dt, size_t n, float lo, float hi, uint32_t seed,
                                  std::vector<float>& vals) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<uint16_t> bits(n);
  vals.resize(n);
  for (size_t i = 0; i < n; ++i) {
    bits[i] = to_bits(dt, u(rng));
    vals[i] = from_bits(dt, bits[i]);
  }
  return bits;
}

double time_ms(const std::function<void()>& fn, int iters) {
  return median_ms_flushed(g_flush.data(), g_flush.size(), fn, iters);
}

void fill_random(DeviceBuffer& b, uint32_t seed) {
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<uint16_t> h(kChunk / 2);
  std::mt19937 rng(seed);
  for (auto& x : h) x = static_cast<uint16_t>((0x3000 + (rng() & 0x0fff)) | ((rng() & 1) << 15));
  for (size_t off = 0; off < b.size(); off += kChunk) {
    const size_t n = std::min(kChunk, b.size() - off);
    cudaMemcpy(static_cast<char*>(b.data()) + off, h.data(), n, cudaMemcpyHostToDevice);
  }
}

void report_check(const char* what, double err, double tol) {
  const bool ok = err <= tol && std::isfinite(err);
  if (!ok) ++g_failures;
  std::printf("check    %-58s max_err %.3e (tol %.1e) %s\n", what, err, tol, ok ? "OK" : "FAIL");
}

// ---- decode ----------------------------------------------------------------------------------

void check_decode(int variant, DType dt, int n_heads, int n_kv_heads, int D, int cpb, int extra_max,
                  int splits = 0, bool int8 = false) {
  const int n_reqs = 9;
  std::vector<int32_t> kv_len(n_reqs);
  const int lens[] = {1, 7, 83, 769, 300, 2, 0, 1500, 64};
  for (int r = 0; r < n_reqs; ++r) kv_len[static_cast<size_t>(r)] = lens[r];
  const int max_len = *std::max_element(kv_len.begin(), kv_len.end()) + extra_max;
  ct::SlotLayout s = ct::make_slots(kv_len, 11, extra_max);
  const size_t cache = static_cast<size_t>(s.n_slots) * n_kv_heads * D;
  std::vector<float> q, k, v;
  auto qb = random_half(dt, static_cast<size_t>(n_reqs) * n_heads * D, -1, 1, 1, q);
  auto kb = random_half(dt, cache, -1, 1, 2, k);
  auto vb = random_half(dt, cache, -1, 1, 3, v);
  // int8 K/V: value = int8 * scale[slot][kv head]; k and v become the dequantized floats.
  std::vector<int8_t> k8, v8;
  std::vector<float> ksc, vsc;
  if (int8) {
    const size_t n_sc = static_cast<size_t>(s.n_slots) * n_kv_heads;
    ct::random_int8_kv(cache, n_sc, 0.002f, 0.02f, 12, k8, ksc);
    ct::random_int8_kv(cache, n_sc, 0.002f, 0.02f, 13, v8, vsc);
    for (size_t i = 0; i < cache; ++i) {
      k[i] = k8[i] * ksc[i / D];
      v[i] = v8[i] * vsc[i / D];
    }
  }
  DeviceBuffer dq = upload(qb), dk = int8 ? upload(k8) : upload(kb),
               dv = int8 ? upload(v8) : upload(vb), dks = upload(ksc), dvs = upload(vsc),
               drt = upload(s.req_to_token), drow = upload(s.req_row), dlen = upload(kv_len);
  DeviceBuffer dout = alloc(qb.size() * 2);
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  kc::DecodeAttentionParams p{.dtype = dt,
                              .kv_int8 = int8,
                              .q = dq.data(),
                              .k_cache = dk.data(),
                              .v_cache = dv.data(),
                              .k_scale = dks.as<float>(),
                              .v_scale = dvs.as<float>(),
                              .req_to_token = drt.as<int32_t>(),
                              .req_row = drow.as<int32_t>(),
                              .kv_len = dlen.as<int32_t>(),
                              .out = dout.data(),
                              .n_reqs = n_reqs,
                              .n_heads = n_heads,
                              .n_kv_heads = n_kv_heads,
                              .head_dim = D,
                              .req_to_token_stride = s.stride,
                              .max_kv_len = max_len,
                              .softmax_scale = scale,
                              .n_splits = splits,
                              .chunks_per_block = cpb,
                              .variant = variant};
  DeviceBuffer ws = alloc(kc::decode_attention_workspace_bytes(p));
  p.workspace = ws.data();
  p.workspace_bytes = ws.size();
  CHECK_OK(kc::decode_attention(p, nullptr));
  std::vector<uint16_t> ob(qb.size());
  CHECK_OK(dout.download(ob.data(), ob.size() * 2));
  double err = 0;
  std::vector<double> ref(static_cast<size_t>(D));
  const int group = n_heads / n_kv_heads;
  for (int r = 0; r < n_reqs; ++r) {
    const int len = kv_len[static_cast<size_t>(r)];
    const int32_t* row = s.req_to_token.data() + static_cast<size_t>(s.req_row[r]) * s.stride;
    for (int h = 0; h < n_heads; ++h) {
      const int kvh = h / group;
      auto at = [&](const std::vector<float>& c) {
        return [&, kvh](int j, int e) {
          return double(c[(static_cast<size_t>(row[j]) * n_kv_heads + kvh) * D + e]);
        };
      };
      ct::attend_ref(q.data() + (static_cast<size_t>(r) * n_heads + h) * D, D, len, len - 1, false,
                     0, scale, at(k), at(v), ref.data());
      for (int e = 0; e < D; ++e) {
        const float got = from_bits(dt, ob[(static_cast<size_t>(r) * n_heads + h) * D + e]);
        err = std::max(err, std::abs(double(got) - ref[static_cast<size_t>(e)]));
      }
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "decode v%d %s%s h%d/kv%d d%d cpb %d (->%d) splits %d extra %d",
                kc::decode_attention_variant(p), dt == DType::bf16 ? "bf16" : "f16",
                int8 ? "/int8kv" : "", n_heads, n_kv_heads, D, cpb,
                kc::decode_attention_chunks_per_block(p), kc::decode_attention_splits(p),
                extra_max);
  report_check(what, err, (dt == DType::bf16 ? 1.6e-2 : 4e-3) * (int8 ? 3 : 1));
}

void bench_decode(DType dt, bool sweep, bool int8 = false) {
  const int H = 32, KVH = 8, D = 128;
  for (int batch : {1, 32, 128}) {
    for (int ctx : {1024, 4096}) {
      const int64_t n_slots = int64_t{batch} * ctx;
      std::vector<int32_t> perm(static_cast<size_t>(n_slots));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(1));
      std::vector<int32_t> rows(static_cast<size_t>(batch)), lens(static_cast<size_t>(batch), ctx);
      std::iota(rows.begin(), rows.end(), 0);
      DeviceBuffer k = alloc(static_cast<size_t>(n_slots) * KVH * D * (int8 ? 1 : 2)),
                   v = alloc(k.size());
      fill_random(k, 2);
      fill_random(v, 3);
      DeviceBuffer ks = upload(std::vector<float>(static_cast<size_t>(n_slots) * KVH, 0.01f)),
                   vs = upload(std::vector<float>(static_cast<size_t>(n_slots) * KVH, 0.01f));
      DeviceBuffer q = alloc(static_cast<size_t>(batch) * H * D * 2), out = alloc(q.size()),
                   ref_out = alloc(q.size());
      fill_random(q, 4);
      DeviceBuffer rt = upload(perm), drow = upload(rows), dlen = upload(lens);
      kc::DecodeAttentionParams p{.dtype = dt,
                                  .kv_int8 = int8,
                                  .q = q.data(),
                                  .k_cache = k.data(),
                                  .v_cache = v.data(),
                                  .k_scale = ks.as<float>(),
                                  .v_scale = vs.as<float>(),
                                  .req_to_token = rt.as<int32_t>(),
                                  .req_row = drow.as<int32_t>(),
                                  .kv_len = dlen.as<int32_t>(),
                                  .out = ref_out.data(),
                                  .n_reqs = batch,
                                  .n_heads = H,
                                  .n_kv_heads = KVH,
                                  .head_dim = D,
                                  .req_to_token_stride = ctx,
                                  .max_kv_len = ctx,
                                  .softmax_scale = 0.088f};
      DeviceBuffer ws =
          alloc(static_cast<size_t>(batch) * H * 129 * 4 * 128);  // enough for 128 splits
      p.workspace = ws.data();
      p.workspace_bytes = ws.size();
      p.chunks_per_block = 1;
      p.variant = 1;
      CHECK_OK(kc::decode_attention(p, nullptr));  // lane kernel, cpb 1: the cross-check reference
      std::vector<uint16_t> want(static_cast<size_t>(batch) * H * D), got(want.size());
      CHECK_OK(ref_out.download(want.data(), want.size() * 2));
      p.out = out.data();
      const double bytes = 2.0 * static_cast<double>(n_slots) * KVH * (int8 ? D + 4 : D * 2);
      // Both kernels (1 lanes, 2 tensor cores) in the automatic configuration; sweep: the
      // tensor-core kernel over forced splits too.
      for (int variant : {1, 2}) {
        for (int splits : sweep ? std::vector<int>{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}
                                : std::vector<int>{0}) {
          if (splits > ctx / 32 || (variant == 1 && splits != 0)) continue;
          p.variant = variant;
          p.chunks_per_block = 0;
          p.n_splits = splits;
          const double ms = time_ms([&] { CHECK_OK(kc::decode_attention(p, nullptr)); }, 20);
          CHECK_OK(out.download(got.data(), got.size() * 2));
          double diff = 0;
          for (size_t i = 0; i < got.size(); ++i)
            diff = std::max(diff, double(std::abs(from_bits(dt, got[i]) - from_bits(dt, want[i]))));
          const double gbs = bytes / (ms * 1e-3) / 1e9;
          std::printf(
              "decode   v%d %s%s batch %3d ctx %4d cpb %d splits %3d%s: %8.1f us %6.0f GB/s "
              "%5.1f%% of copy  (vs v1 %.1e)\n",
              variant, dt == DType::bf16 ? "bf16" : "f16 ", int8 ? "/int8kv" : "", batch, ctx,
              kc::decode_attention_chunks_per_block(p), kc::decode_attention_splits(p),
              splits == 0 ? " auto" : "     ", ms * 1e3, gbs, 100.0 * gbs / g_copy_gbs, diff);
          if (diff > 2e-2) ++g_failures;
        }
      }
    }
  }
}

// ---- prefill ---------------------------------------------------------------------------------

struct PrefillCheck {
  int variant, rows, kv_tile, n_heads, n_kv_heads, D;
  bool causal = true;
  int window = 0;
  bool alibi = false, int8 = false;
  std::vector<int32_t> q_len = {1, 77, 200, 130}, prefix = {0, 5, 0, 60};
};

void check_prefill(DType dt, const PrefillCheck& c) {
  const int n_reqs = static_cast<int>(c.q_len.size());
  const int n_heads = c.n_heads, n_kv_heads = c.n_kv_heads, D = c.D;
  std::vector<int32_t> kv_len(n_reqs), q_start(n_reqs + 1, 0);
  int max_q = 0;
  for (int r = 0; r < n_reqs; ++r) {
    kv_len[r] = c.q_len[r] + c.prefix[r];
    q_start[r + 1] = q_start[r] + c.q_len[r];
    max_q = std::max(max_q, c.q_len[r]);
  }
  const int n_tok = q_start[n_reqs];
  ct::SlotLayout s = ct::make_slots(kv_len, 21);
  const size_t cache = static_cast<size_t>(s.n_slots) * n_kv_heads * D;
  std::vector<float> q, k, v;
  auto qb = random_half(dt, static_cast<size_t>(n_tok) * n_heads * D, -1, 1, 4, q);
  auto kb = random_half(dt, cache, -1, 1, 5, k);
  auto vb = random_half(dt, cache, -1, 1, 6, v);
  // int8 K/V: value = int8 * scale[slot][kv head]; k and v become the dequantized floats.
  std::vector<int8_t> k8, v8;
  std::vector<float> ksc, vsc;
  if (c.int8) {
    const size_t n_sc = static_cast<size_t>(s.n_slots) * n_kv_heads;
    ct::random_int8_kv(cache, n_sc, 0.002f, 0.02f, 12, k8, ksc);
    ct::random_int8_kv(cache, n_sc, 0.002f, 0.02f, 13, v8, vsc);
    for (size_t i = 0; i < cache; ++i) {
      k[i] = k8[i] * ksc[i / D];
      v[i] = v8[i] * vsc[i / D];
    }
  }
  const std::vector<float> slopes = ct::alibi_slopes(n_heads);
  DeviceBuffer dq = upload(qb), dk = c.int8 ? upload(k8) : upload(kb),
               dv = c.int8 ? upload(v8) : upload(vb), dks = upload(ksc), dvs = upload(vsc),
               dsl = upload(slopes), drt = upload(s.req_to_token), drow = upload(s.req_row),
               dlen = upload(kv_len), dqs = upload(q_start);
  DeviceBuffer dout = alloc(qb.size() * 2);
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  kc::PrefillAttentionParams p{.dtype = dt,
                               .kv_int8 = c.int8,
                               .q = dq.data(),
                               .k_cache = dk.data(),
                               .v_cache = dv.data(),
                               .k_scale = dks.as<float>(),
                               .v_scale = dvs.as<float>(),
                               .req_to_token = drt.as<int32_t>(),
                               .req_row = drow.as<int32_t>(),
                               .q_start = dqs.as<int32_t>(),
                               .kv_len = dlen.as<int32_t>(),
                               .out = dout.data(),
                               .n_reqs = n_reqs,
                               .n_heads = n_heads,
                               .n_kv_heads = n_kv_heads,
                               .head_dim = D,
                               .max_q_len = max_q,
                               .req_to_token_stride = s.stride,
                               .softmax_scale = scale,
                               .causal = c.causal,
                               .sliding_window = c.window,
                               .block_rows = c.rows,
                               .kv_tile = c.kv_tile,
                               .alibi_slopes = c.alibi ? dsl.as<float>() : nullptr,
                               .variant = c.variant};
  CHECK_OK(kc::prefill_attention(p, nullptr));
  std::vector<uint16_t> ob(qb.size());
  CHECK_OK(dout.download(ob.data(), ob.size() * 2));
  double err = 0;
  std::vector<double> ref(static_cast<size_t>(D));
  const int group = n_heads / n_kv_heads;
  for (int r = 0; r < n_reqs; ++r) {
    const int32_t* row = s.req_to_token.data() + static_cast<size_t>(s.req_row[r]) * s.stride;
    for (int i = 0; i < c.q_len[r]; ++i) {
      const size_t t = static_cast<size_t>(q_start[r] + i);
      for (int h = 0; h < n_heads; ++h) {
        const int kvh = h / group;
        auto at = [&](const std::vector<float>& cv) {
          return [&, kvh](int j, int e) {
            return double(cv[(static_cast<size_t>(row[j]) * n_kv_heads + kvh) * D + e]);
          };
        };
        ct::attend_ref(q.data() + (t * n_heads + h) * D, D, kv_len[r], c.prefix[r] + i, c.causal,
                       c.window, scale, at(k), at(v), ref.data(), c.alibi ? slopes[h] : 0.0);
        for (int e = 0; e < D; ++e) {
          const float got = from_bits(dt, ob[(t * n_heads + h) * D + e]);
          err = std::max(err, std::abs(double(got) - ref[static_cast<size_t>(e)]));
        }
      }
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "prefill %s%s v%d rows %d kv_tile %d h%d/kv%d d%d%s%s%s",
                dt == DType::bf16 ? "bf16" : "f16", c.int8 ? "/int8kv" : "", c.variant, c.rows,
                c.kv_tile, n_heads, n_kv_heads, D, c.causal ? "" : " noncausal",
                c.window ? " window" : "", c.alibi ? " alibi" : "");
  report_check(what, err, (dt == DType::bf16 ? 1.6e-2 : 4e-3) * (c.int8 ? 3 : 1));
}

void bench_prefill(DType dt) {
  const int H = 32, KVH = 8, D = 128;
  struct Config {
    int variant, rows, kv_tile;
  };
  // The first configuration's output is the reference of the others' "vs first" difference.
  const Config configs[] = {{2, 128, 64}, {5, 128, 128}, {5, 192, 64}, {0, 0, 0}};
  for (auto [n_reqs, len] : {std::pair{16, 1024}, std::pair{4, 4096}}) {
    const int n_tokens = n_reqs * len;
    std::vector<int32_t> perm(static_cast<size_t>(n_tokens));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
    std::vector<int32_t> rows(n_reqs), lens(n_reqs, len), qs(n_reqs + 1);
    std::iota(rows.begin(), rows.end(), 0);
    for (int r = 0; r <= n_reqs; ++r) qs[r] = r * len;
    DeviceBuffer q = alloc(static_cast<size_t>(n_tokens) * H * D * 2), out = alloc(q.size()),
                 ref_out = alloc(q.size());
    DeviceBuffer k = alloc(static_cast<size_t>(n_tokens) * KVH * D * 2), v = alloc(k.size());
    fill_random(q, 6);
    fill_random(k, 7);
    fill_random(v, 8);
    DeviceBuffer rt = upload(perm), drow = upload(rows), dlen = upload(lens), dqs = upload(qs);
    std::vector<uint16_t> want(static_cast<size_t>(n_tokens) * H * D), got(want.size());
    bool have_ref = false;
    for (const Config& cfg : configs) {
      if (have_ref && !want_variant(cfg.variant)) continue;  // the first one is the reference
      kc::PrefillAttentionParams p{.dtype = dt,
                                   .q = q.data(),
                                   .k_cache = k.data(),
                                   .v_cache = v.data(),
                                   .req_to_token = rt.as<int32_t>(),
                                   .req_row = drow.as<int32_t>(),
                                   .q_start = dqs.as<int32_t>(),
                                   .kv_len = dlen.as<int32_t>(),
                                   .out = have_ref ? out.data() : ref_out.data(),
                                   .n_reqs = n_reqs,
                                   .n_heads = H,
                                   .n_kv_heads = KVH,
                                   .head_dim = D,
                                   .max_q_len = len,
                                   .req_to_token_stride = len,
                                   .softmax_scale = 0.088f,
                                   .causal = true,
                                   .block_rows = cfg.rows,
                                   .kv_tile = cfg.kv_tile,
                                   .variant = cfg.variant};
      const double ms = time_ms([&] { CHECK_OK(kc::prefill_attention(p, nullptr)); }, 10);
      double diff = 0;
      if (!have_ref) {
        CHECK_OK(ref_out.download(want.data(), want.size() * 2));
        have_ref = true;
      } else {
        CHECK_OK(out.download(got.data(), got.size() * 2));
        for (size_t i = 0; i < got.size(); ++i)
          diff = std::max(diff, double(std::abs(from_bits(dt, got[i]) - from_bits(dt, want[i]))));
        if (diff > 2e-2) ++g_failures;
      }
      const double flops = 4.0 * D * H * n_reqs * double(len) * len / 2;
      std::printf(
          "prefill  %s %2d x %4d causal h32/kv8/d128 v%d %3d-row tiles kv_tile %3d: %8.3f ms "
          "%6.1f TFLOP/s (vs first %.1e)\n",
          dt == DType::bf16 ? "bf16" : "f16 ", n_reqs, len, cfg.variant, cfg.rows, cfg.kv_tile, ms,
          flops / (ms * 1e-3) / 1e12, diff);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool do_decode = argc < 2 || std::strstr(argv[1], "decode");
  const bool do_prefill = argc < 2 || std::strstr(argv[1], "prefill");
  const bool sweep = argc >= 2 && std::strstr(argv[1], "sweep");
  if (argc >= 3) g_variants = argv[2];
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("GPU: %s (%d SMs, cc %d.%d)\n", prop.name, prop.multiProcessorCount, prop.major,
              prop.minor);
  g_flush = alloc(size_t{256} << 20);
  {
    const size_t bytes = size_t{1} << 30;
    DeviceBuffer src = alloc(bytes), dst = alloc(bytes);
    const double ms = time_ms(
        [&] { cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice); }, 10);
    g_copy_gbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
    std::printf("copy     D2D cudaMemcpy 1 GiB: %.3f ms, %.0f GB/s (read+write)\n", ms, g_copy_gbs);
  }
  if (do_decode) {
    // Variant 1 (lanes) for each chunks_per_block, variant 2 (tensor cores) once (cpb unused).
    for (DType dt : {DType::bf16, DType::f16})
      for (auto [v, cpb] :
           {std::pair{1, 1}, std::pair{1, 2}, std::pair{1, 4}, std::pair{1, 8}, std::pair{2, 1}}) {
        check_decode(v, dt, 32, 8, 128, cpb, 0);
        check_decode(v, dt, 32, 8, 128, cpb, 300);
        check_decode(v, dt, 8, 1, 128, cpb, 0);
        check_decode(v, dt, 32, 8, 128, cpb, 0, 1);
        check_decode(v, dt, 32, 8, 128, cpb, 300, 1);
        check_decode(v, dt, 32, 8, 128, cpb, 0, 7);
        check_decode(v, dt, 32, 32, 64, cpb, 0, 1);
        check_decode(v, dt, 32, 32, 64, cpb, 0);
        check_decode(v, dt, 16, 2, 80, cpb, 0);
        check_decode(v, dt, 12, 12, 96, cpb, 0);
        check_decode(v, dt, 32, 8, 128, cpb, 0, 0, true);
        check_decode(v, dt, 32, 8, 128, cpb, 300, 1, true);
        check_decode(v, dt, 16, 2, 80, cpb, 0, 7, true);
        if (v == 2) {  // the tensor-core kernel's other head dims / head groups
          check_decode(v, dt, 8, 8, 16, cpb, 0);
          check_decode(v, dt, 8, 4, 32, cpb, 0, 3);
          check_decode(v, dt, 12, 2, 64, cpb, 0);  // group 6: one head per block
          check_decode(v, dt, 8, 8, 16, cpb, 0, 0, true);
          check_decode(v, dt, 8, 4, 32, cpb, 0, 3, true);
          check_decode(v, dt, 12, 12, 96, cpb, 0, 0, true);
          check_decode(v, dt, 32, 4, 64, cpb, 0, 0, true);
        }
      }
  }
  if (do_prefill && (argc < 2 || !std::strstr(argv[1], "nocheck"))) {
    struct Cfg {
      int variant, rows, kv_tile;
    };
    const Cfg cfgs[] = {{0, 0, 0}, {2, 64, 0}, {2, 128, 64}, {5, 128, 128}, {5, 192, 64}};
    for (DType dt : {DType::bf16, DType::f16}) {
      for (const Cfg& c : cfgs) {
        if (!want_variant(c.variant)) continue;
        const int v = c.variant, rows = c.rows, kt = c.kv_tile;
        check_prefill(dt, {v, rows, kt, 32, 8, 128});
        check_prefill(dt, {v, rows, kt, 8, 8, 128, true, 0, true});  // ALiBi
        check_prefill(dt, {v, rows, kt, 8, 2, 128, true, 50});       // window
        check_prefill(dt, {v, rows, kt, 8, 2, 128, false});          // not causal
        check_prefill(dt, {v,
                           rows,
                           kt,
                           8,
                           1,
                           128,
                           true,
                           0,
                           false,
                           false,  // MQA, prefixes
                           {300, 2, 129, 64},
                           {0, 700, 64, 1}});
        if (v >= 3) continue;  // int8 K/V and head dims other than 128: mma.sync kernels
        check_prefill(dt, {v, rows, kt, 8, 2, 128, true, 0, false, true});  // int8 K/V
        check_prefill(dt, {v, rows, kt, 8, 2, 128, true, 50, true, true});  // all three
        if (kt != 0) continue;
        check_prefill(dt, {v, rows, kt, 8, 1, 64});
        check_prefill(dt, {v, rows, kt, 10, 2, 80, true, 0, true});
        check_prefill(dt, {v, rows, kt, 12, 4, 96, true, 0, false, true});
      }
    }
  }
  std::fflush(stdout);
  if (do_decode) {
    for (DType dt : {DType::bf16, DType::f16}) bench_decode(dt, sweep && dt == DType::bf16);
    bench_decode(DType::bf16, sweep, true);
  }
  if (do_prefill)
    for (DType dt : {DType::bf16, DType::f16}) bench_prefill(dt);
  std::printf("failures: %d\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
