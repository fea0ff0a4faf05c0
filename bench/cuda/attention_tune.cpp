// bench/cuda/attention_tune.cpp — standalone tuning harness for the attention kernels (issue #7):
// correctness of every variant against the f64 reference of tests/cuda/attention_ref.h on odd
// shapes, then timings of the variants on the shapes, with the device copy bandwidth of
// the same run as the yardstick. Built with nvcc alone (no fmt/gtest/cmake needed), so it runs
// on a GPU machine that has only the CUDA toolkit:
//   tools/attention_tune.sh [decode|decode-sweep|prefill[-nocheck]] [prefill variants, e.g. 023]
//     [prefill shapes, e.g. 4x4096 (of 16x1024, 8x2048, 4x4096, 1x16384; default all)]
// Output: one line per measurement, "check ... max_err ... OK|FAIL" lines first; the process
// exits 1 if any check fails. Decode: KV bytes read / time (random slot order) after a dirty
// and after a clean L2 flush, next to a bare gather / contiguous read of the same bytes, the
// automatic split (argument "decode-sweep": forced splits too, bf16 and int8 KV); prefill: TFLOP/s
// (causal FLOPs = 4 D H sum(len^2)/2) per kernel variant (2: mma.sync; 5: warp-specialized wgmma;
// 0: default) and tile shape (rows x keys), the first configuration's output the reference of the
// others; checks per variant and tile shape with ALiBi, window, non-causal, MQA with prefixes, int8
// K/V (mma.sync only); "prefill-nocheck" skips the checks (for ncu). Compare with
// bench/cuda/torch_baseline.py.
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
#include "bench_l2.h"
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
const char* g_shapes = "";       // prefill shapes to time (argv[3], e.g. "4x4096"; "" = all)
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

// The 16 MiB pattern fill_random repeats over a buffer (the host keeps it for references):
// 16-bit values 0x3000..0x3fff with random signs.
constexpr size_t kPatternBytes = size_t{16} << 20;
std::vector<uint16_t> fill_pattern(uint32_t seed) {
  std::vector<uint16_t> h(kPatternBytes / 2);
  std::mt19937 rng(seed);
  for (auto& x : h) x = static_cast<uint16_t>((0x3000 + (rng() & 0x0fff)) | ((rng() & 1) << 15));
  return h;
}

void fill_random(DeviceBuffer& b, uint32_t seed) {
  const std::vector<uint16_t> h = fill_pattern(seed);
  for (size_t off = 0; off < b.size(); off += kPatternBytes) {
    const size_t n = std::min(kPatternBytes, b.size() - off);
    cudaMemcpy(static_cast<char*>(b.data()) + off, h.data(), n, cudaMemcpyHostToDevice);
  }
}

void report_check(const char* what, double err, double tol) {
  const bool ok = err <= tol && std::isfinite(err);
  if (!ok) ++g_failures;
  std::printf("check    %-58s max_err %.3e (tol %.1e) %s\n", what, err, tol, ok ? "OK" : "FAIL");
}

// ---- decode ----------------------------------------------------------------------------------

void check_decode(DType dt, int n_heads, int n_kv_heads, int D, int extra_max, int splits = 0,
                  bool int8 = false, bool alibi = false) {
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
  const std::vector<float> slopes = ct::alibi_slopes(n_heads);
  DeviceBuffer dout = alloc(qb.size() * 2), dsl = upload(slopes);
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
                              .alibi_slopes = alibi ? dsl.as<float>() : nullptr};
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
                     0, scale, at(k), at(v), ref.data(), alibi ? slopes[h] : 0.0);
      for (int e = 0; e < D; ++e) {
        const float got = from_bits(dt, ob[(static_cast<size_t>(r) * n_heads + h) * D + e]);
        err = std::max(err, std::abs(double(got) - ref[static_cast<size_t>(e)]));
      }
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "decode %s%s h%d/kv%d d%d splits %d extra %d%s",
                dt == DType::bf16 ? "bf16" : "f16", int8 ? "/int8kv" : "", n_heads, n_kv_heads, D,
                kc::decode_attention_splits(p), extra_max, alibi ? " alibi" : "");
  report_check(what, err, (dt == DType::bf16 ? 1.6e-2 : 4e-3) * (int8 ? 3 : 1));
}

// The decode shapes (32 heads, 8 kv heads, D 128; batch 1/32/128 x context 1k/4k; each
// request's slots a random permutation of the pool), every configuration timed twice: after the
// memset flush of bench_timing.h (dirty L2, as runs 1-7) and after a read flush (clean L2). The
// yardsticks in the same lines: a bare gather of the same K/V rows in the same slot order, and a
// contiguous read of as many bytes. Each configuration's output: heads 28..31 of the last request
// against the f64 reference, every row against the first configuration's.
void bench_decode(DType dt, bool sweep, bool int8 = false) {
  const int H = 32, KVH = 8, D = 128;
  const std::vector<uint16_t> pk = fill_pattern(2), pv = fill_pattern(3), pq = fill_pattern(4);
  DeviceBuffer sink = alloc(16);
  for (int batch : {1, 32, 128}) {
    for (int ctx : {1024, 4096}) {
      const int64_t n_slots = int64_t{batch} * ctx;
      std::vector<int32_t> perm(static_cast<size_t>(n_slots)), iota(perm.size());
      std::iota(perm.begin(), perm.end(), 0);
      std::iota(iota.begin(), iota.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(1));
      std::vector<int32_t> rows(static_cast<size_t>(batch)), lens(static_cast<size_t>(batch), ctx);
      std::iota(rows.begin(), rows.end(), 0);
      const size_t row_bytes = static_cast<size_t>(D) * (int8 ? 1 : 2);
      DeviceBuffer k = alloc(static_cast<size_t>(n_slots) * KVH * row_bytes), v = alloc(k.size());
      fill_random(k, 2);
      fill_random(v, 3);
      const float kv_scale = 0.01f;
      DeviceBuffer ks = upload(std::vector<float>(static_cast<size_t>(n_slots) * KVH, kv_scale)),
                   vs = upload(std::vector<float>(static_cast<size_t>(n_slots) * KVH, kv_scale));
      DeviceBuffer q = alloc(static_cast<size_t>(batch) * H * D * 2), out = alloc(q.size()),
                   first_out = alloc(q.size());
      fill_random(q, 4);
      DeviceBuffer rt = upload(perm), drow = upload(rows), dlen = upload(lens), dseq = upload(iota);
      const float scale = 0.088f;
      // f64 reference of request batch - 1, heads 28..31 (kv head 7), from the host patterns.
      const int r_ref = batch - 1, kvh_ref = 7;
      auto elem = [&](const std::vector<uint16_t>& pat, size_t index, size_t elem_bytes) {
        const size_t byte = index * elem_bytes % kPatternBytes;
        const uint16_t w = pat[byte / 2];
        if (elem_bytes == 1) return double(static_cast<int8_t>(byte % 2 ? w >> 8 : w & 0xff));
        return double(from_bits(dt, w));
      };
      std::vector<double> ref(static_cast<size_t>(4 * D));
      for (int j = 0; j < 4; ++j) {
        const int h = kvh_ref * 4 + j;
        std::vector<float> qh(static_cast<size_t>(D));
        for (int e = 0; e < D; ++e)
          qh[static_cast<size_t>(e)] = static_cast<float>(
              elem(pq, (static_cast<size_t>(r_ref) * H + h) * D + static_cast<size_t>(e), 2));
        auto kv_at = [&](const std::vector<uint16_t>& pat) {
          return [&](int t, int e) {
            const size_t slot = static_cast<size_t>(perm[static_cast<size_t>(r_ref) * ctx + t]);
            const double x =
                elem(pat, (slot * KVH + kvh_ref) * D + static_cast<size_t>(e), int8 ? 1 : 2);
            return int8 ? x * kv_scale : x;
          };
        };
        ct::attend_ref(qh.data(), D, ctx, ctx - 1, false, 0, scale, kv_at(pk), kv_at(pv),
                       ref.data() + static_cast<size_t>(j) * D);
      }
      const double tol = (dt == DType::bf16 ? 2e-2 : 1e-2) * (int8 ? 3 : 1);

      const double bytes = 2.0 * static_cast<double>(n_slots) * KVH * (int8 ? D + 4 : D * 2);
      auto memset_flush = [&] { cudaMemsetAsync(g_flush.data(), 0x5a, g_flush.size()); };
      auto clean_flush = [&] {
        l2_flush_clean(g_flush.data(), g_flush.size(), sink.data(), nullptr);
      };
      const char* dts = dt == DType::bf16 ? (int8 ? "bf16/int8kv" : "bf16") : "f16";
      auto line = [&](const char* what, const std::function<void()>& fn, const char* tail) {
        const double ms_d = median_ms_after(memset_flush, fn, 20);
        const double ms_c = median_ms_after(clean_flush, fn, 20);
        auto pct = [&](double ms) { return 100.0 * bytes / (ms * 1e-3) / 1e9 / g_copy_gbs; };
        std::printf(
            "decode   %-11s %3d x %4d %-30s dirty-L2 %8.1f us %5.1f%% | clean-L2 %8.1f us "
            "%5.1f%% of copy%s\n",
            dts, batch, ctx, what, ms_d * 1e3, pct(ms_d), ms_c * 1e3, pct(ms_c), tail);
      };
      line(
          "roof: gather the same rows",
          [&] {
            kv_gather_read(k.data(), v.data(), row_bytes, rt.as<int32_t>(), n_slots, KVH,
                           sink.data(), nullptr);
          },
          "");
      line(
          "roof: contiguous rows",
          [&] {
            kv_gather_read(k.data(), v.data(), row_bytes, dseq.as<int32_t>(), n_slots, KVH,
                           sink.data(), nullptr);
          },
          "");

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
                                  .out = first_out.data(),
                                  .n_reqs = batch,
                                  .n_heads = H,
                                  .n_kv_heads = KVH,
                                  .head_dim = D,
                                  .req_to_token_stride = ctx,
                                  .max_kv_len = ctx,
                                  .softmax_scale = scale};
      DeviceBuffer ws =
          alloc(static_cast<size_t>(batch) * H * 129 * 4 * 128);  // enough for 128 splits
      p.workspace = ws.data();
      p.workspace_bytes = ws.size();
      std::vector<uint16_t> first(static_cast<size_t>(batch) * H * D), got(first.size());
      // The automatic split first (the reference of the others' "vs first"); sweep: forced splits.
      std::vector<int> configs = {0};
      if (sweep)
        for (int sp : {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64})
          if (sp <= ctx / 32) configs.push_back(sp);
      bool have_first = false;
      for (int splits : configs) {
        p.n_splits = splits;
        p.out = have_first ? out.data() : first_out.data();
        auto run = [&] { CHECK_OK(kc::decode_attention(p, nullptr)); };
        run();
        CHECK_OK((have_first ? out : first_out).download(got.data(), got.size() * 2));
        double diff = 0, err = 0;
        if (have_first) {
          for (size_t i = 0; i < got.size(); ++i)
            diff =
                std::max(diff, double(std::abs(from_bits(dt, got[i]) - from_bits(dt, first[i]))));
        } else {
          first = got;
        }
        for (size_t i = 0; i < ref.size(); ++i) {
          const size_t at = (static_cast<size_t>(r_ref) * H + kvh_ref * 4) * D + i;
          err = std::max(err, std::abs(double(from_bits(dt, got[at])) - ref[i]));
        }
        const bool ok = err <= tol && diff <= 2e-2 && std::isfinite(err) && std::isfinite(diff);
        if (!ok) ++g_failures;
        char what[96], tail[96];
        std::snprintf(what, sizeof what, "splits %2d%s", kc::decode_attention_splits(p),
                      splits == 0 ? " auto" : "");
        std::snprintf(tail, sizeof tail, "  ref %.1e vs first %.1e %s", err, diff,
                      ok ? "OK" : "FAIL");
        have_first = true;
        line(what, run, tail);
      }
    }
  }
}

// ---- prefill ---------------------------------------------------------------------------------

struct PrefillCheck {
  int variant, rows, kv_tile, ctas, n_heads, n_kv_heads, D;
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
                               .ctas = c.ctas,
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
  std::snprintf(what, sizeof what, "prefill %s%s v%d rows %d kv_tile %d ctas %d h%d/kv%d d%d%s%s%s",
                dt == DType::bf16 ? "bf16" : "f16", c.int8 ? "/int8kv" : "", c.variant, c.rows,
                c.kv_tile, c.ctas, n_heads, n_kv_heads, D, c.causal ? "" : " noncausal",
                c.window ? " window" : "", c.alibi ? " alibi" : "");
  report_check(what, err, (dt == DType::bf16 ? 1.6e-2 : 4e-3) * (c.int8 ? 3 : 1));
}

void bench_prefill(DType dt) {
  const int H = 32, KVH = 8, D = 128;
  struct Config {
    int variant, rows, kv_tile, ctas;
  };
  // The first configuration's output is the reference of the others' "vs first" difference.
  const Config configs[] = {{2, 128, 64, 0}, {5, 128, 128, 0}, {5, 128, 128, -1},
                            {5, 192, 64, 0}, {5, 192, 64, -1}, {0, 0, 0, 0}};
  for (auto [n_reqs, len] :
       {std::pair{16, 1024}, std::pair{8, 2048}, std::pair{4, 4096}, std::pair{1, 16384}}) {
    char shape[32];
    std::snprintf(shape, sizeof shape, "%dx%d", n_reqs, len);
    if (*g_shapes && !std::strstr(g_shapes, shape)) continue;
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
                                   .ctas = cfg.ctas,
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
          "prefill  %s %2d x %5d causal h32/kv8/d128 v%d %3d-row tiles kv_tile %3d ctas %2d: %8.3f "
          "ms %6.1f TFLOP/s (vs first %.1e)\n",
          dt == DType::bf16 ? "bf16" : "f16 ", n_reqs, len, cfg.variant, cfg.rows, cfg.kv_tile,
          cfg.ctas, ms, flops / (ms * 1e-3) / 1e12, diff);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool do_decode = argc < 2 || std::strstr(argv[1], "decode");
  const bool do_prefill = argc < 2 || std::strstr(argv[1], "prefill");
  const bool sweep = argc >= 2 && std::strstr(argv[1], "sweep");
  if (argc >= 3) g_variants = argv[2];
  if (argc >= 4) g_shapes = argv[3];
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
    for (DType dt : {DType::bf16, DType::f16}) {
      check_decode(dt, 32, 8, 128, 0);
      check_decode(dt, 32, 8, 128, 300);
      check_decode(dt, 8, 1, 128, 0);
      check_decode(dt, 32, 8, 128, 0, 1);
      check_decode(dt, 32, 8, 128, 300, 1);
      check_decode(dt, 32, 8, 128, 0, 7);
      check_decode(dt, 32, 32, 64, 0, 1);
      check_decode(dt, 32, 32, 64, 0);
      check_decode(dt, 16, 2, 80, 0);
      check_decode(dt, 12, 12, 96, 0);
      check_decode(dt, 8, 8, 16, 0);
      check_decode(dt, 8, 4, 32, 0, 3);
      check_decode(dt, 12, 2, 64, 0);  // group 6: one head per block
      check_decode(dt, 32, 8, 128, 0, 0, true);
      check_decode(dt, 32, 8, 128, 300, 1, true);
      check_decode(dt, 16, 2, 80, 0, 7, true);
      check_decode(dt, 8, 8, 16, 0, 0, true);
      check_decode(dt, 8, 4, 32, 0, 3, true);
      check_decode(dt, 12, 12, 96, 0, 0, true);
      check_decode(dt, 32, 4, 64, 0, 0, true);
      check_decode(dt, 32, 8, 128, 0, 0, false, true);   // ALiBi
      check_decode(dt, 32, 32, 64, 300, 1, true, true);  // ALiBi, int8, one split
    }
  }
  if (do_prefill && (argc < 2 || !std::strstr(argv[1], "nocheck"))) {
    struct Cfg {
      int variant, rows, kv_tile, ctas;
    };
    // Variant 5 with one CTA per work item (ctas -2) and with 3 CTAs (many items per CTA, some
    // past their request's q_len).
    const Cfg cfgs[] = {{0, 0, 0, 0},     {2, 64, 0, 0},    {2, 128, 64, 0}, {5, 128, 128, -2},
                        {5, 128, 128, 3}, {5, 192, 64, -2}, {5, 192, 64, 3}};
    for (DType dt : {DType::bf16, DType::f16}) {
      for (const Cfg& c : cfgs) {
        if (!want_variant(c.variant)) continue;
        const int v = c.variant, rows = c.rows, kt = c.kv_tile, ct = c.ctas;
        check_prefill(dt, {v, rows, kt, ct, 32, 8, 128});
        check_prefill(dt, {v, rows, kt, ct, 8, 8, 128, true, 0, true});  // ALiBi
        check_prefill(dt, {v, rows, kt, ct, 8, 2, 128, true, 50});       // window
        check_prefill(dt, {v, rows, kt, ct, 8, 2, 128, false});          // not causal
        check_prefill(dt, {v,
                           rows,
                           kt,
                           ct,
                           8,
                           1,
                           128,
                           true,
                           0,
                           false,
                           false,  // MQA, prefixes
                           {300, 2, 129, 64},
                           {0, 700, 64, 1}});
        // Warpgroups with fewer tiles than their item (ragged q_len, windows; variant 5 skips).
        check_prefill(
            dt,
            {v, rows, kt, ct, 8, 2, 128, true, 100, false, false, {700, 200, 65}, {0, 37, 500}});
        check_prefill(dt, {v, rows, kt, ct, 8, 8, 128, true, 20, true, false, {450, 1}, {30, 0}});
        if (v >= 3) continue;  // int8 K/V and head dims other than 128: mma.sync kernels
        check_prefill(dt, {v, rows, kt, ct, 8, 2, 128, true, 0, false, true});  // int8 K/V
        check_prefill(dt, {v, rows, kt, ct, 8, 2, 128, true, 50, true, true});  // all three
        if (kt != 0) continue;
        check_prefill(dt, {v, rows, kt, ct, 8, 1, 64});
        check_prefill(dt, {v, rows, kt, ct, 10, 2, 80, true, 0, true});
        check_prefill(dt, {v, rows, kt, ct, 12, 4, 96, true, 0, false, true});
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
