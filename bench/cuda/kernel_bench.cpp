// bench/cuda/kernel_bench.cpp — kernel benchmarks on the GPU machine (a benchmark, not a test).
// Prints the GPU name, then:
//   copy      device-to-device cudaMemcpy bandwidth (read + write bytes / time): the HBM yardstick
//   read      a streaming read of 1 GiB (bench_l2.h's stream_read, best of 6 shapes): the read roof
//   decode    split-K token attention, 32 heads / 8 kv heads / d128, random slot order, batch
//             1/32/128 x context 1k/4k: KV bytes read / time, and as % of the copy bandwidth;
//             each shape timed as one launch (below) and as the engine runs it ("decode-chain"
//             lines): --chain (8) launches back to back, each over its own K/V pool (the
//             layers of a model; same req_to_token, same q), captured in one CUDA graph with
//             their PDL edges, time per launch = graph time / layers, the graph replayed
//             after the memset flush and after a clean-L2 flush (bench_l2.h: in the engine the
//             L2 before attention holds clean lines). Every layer's chain output must equal
//             the same launch run alone bit for bit (the run fails otherwise)
//   prefill   prefill attention, 32/8 heads, d128, causal, 16x1k and 4x4k tokens: TFLOP/s
//             (causal FLOPs = 4 * D * heads * sum(q_len^2) / 2, the FlashAttention convention);
//             the default, the mma.sync variant 2 (64/128-row tiles), the wgmma variant 3 by
//             tile shape, and variant 2 with int8 K/V; compare with torch_baseline.py's lines
//   gemm      cuBLASLt on Llama-7B linear shapes: TFLOP/s and weight bytes / time
// L2 is flushed (a 256 MiB memset) before every timed launch; each launch is timed alone with
// events, and the median of the runs is printed. bf16 and f16 (and int8 KV for decode).
// Usage: kernel_bench [decode[:BATCH:CTX]] [prefill] [gemm] [--chain N] [--splits N]   (no
// section: all; copy and read always; decode:32:1024 runs that decode shape only, e.g. for a
// profiler; --chain N: layers of the decode chain, default 8; --splits N: forced decode splits)
#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "backend/cuda/device_buffer.h"
#include "bench_check.h"
#include "bench_l2.h"
#include "bench_timing.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/prefill_attention.h"

namespace kc = lightllm::kernels::cuda;
using lightllm::backend::cuda::DeviceBuffer;
using lightllm::core::DType;

namespace {

DeviceBuffer alloc(size_t bytes) {
  auto b = DeviceBuffer::allocate(bytes);
  CHECK_OK(b.status());
  return std::move(b).value();
}

DeviceBuffer g_flush;

// Median milliseconds of `fn` over `iters` timed launches, L2 flushed before each.
double time_ms(const std::function<void()>& fn, int iters) {
  return median_ms_flushed(g_flush.data(), g_flush.size(), fn, iters);
}

void fill_random(DeviceBuffer& b, uint32_t seed) {
  // Small random 16-bit values (valid, finite bf16 and f16 alike): a 16 MiB random pattern
  // uploaded repeatedly (host RNG over GiBs would dominate the run).
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<uint16_t> h(kChunk / 2);
  std::mt19937 rng(seed);
  for (auto& x : h) x = static_cast<uint16_t>((0x3000 + (rng() & 0x0fff)) | ((rng() & 1) << 15));
  for (size_t off = 0; off < b.size(); off += kChunk) {
    const size_t n = std::min(kChunk, b.size() - off);
    if (cudaMemcpy(static_cast<char*>(b.data()) + off, h.data(), n, cudaMemcpyHostToDevice) !=
        cudaSuccess) {
      std::fprintf(stderr, "upload failed\n");
      std::exit(1);
    }
  }
}

// dst = src rotated left by `shift` bytes (same sizes): another layer's pool, distinct data of
// the same distribution without another host upload (shift even: 16-bit values stay whole).
void fill_rotated(DeviceBuffer& dst, const DeviceBuffer& src, size_t shift) {
  shift %= src.size();
  char* d = static_cast<char*>(dst.data());
  const char* s = static_cast<const char*>(src.data());
  if (cudaMemcpy(d, s + shift, src.size() - shift, cudaMemcpyDeviceToDevice) != cudaSuccess ||
      cudaMemcpy(d + src.size() - shift, s, shift, cudaMemcpyDeviceToDevice) != cudaSuccess) {
    std::fprintf(stderr, "device copy failed\n");
    std::exit(1);
  }
}

double g_copy_gbs = 0;
int g_chain_failures = 0;

void bench_copy() {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer src = alloc(bytes), dst = alloc(bytes);
  const double ms = time_ms(
      [&] { cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice); }, 10);
  g_copy_gbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
  std::printf("copy     D2D cudaMemcpy 1 GiB: %.3f ms, %.0f GB/s (read+write)\n", ms, g_copy_gbs);
}

// The HBM read roof: bench_l2.h's stream_read over 1 GiB (20x the L2) after a clean-L2 flush,
// for a few shapes (loads in flight per thread x blocks per SM); prints each and the best. A
// kernel that only streams its bytes (the weights of a batch-1 decode GEMV) cannot beat it.
void bench_read() {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer buf = alloc(bytes), sink = alloc(16);
  cudaMemset(buf.data(), 0x5a, bytes);
  auto clean_flush = [&] { l2_flush_clean(g_flush.data(), g_flush.size(), sink.data(), nullptr); };
  double best_gbs = 0;
  std::string best, each;
  for (int unroll : {4, 8, 16}) {
    for (int per_sm : {4, 8}) {
      const double ms = median_ms_after(
          clean_flush,
          [&] { stream_read(buf.data(), bytes, sink.data(), nullptr, unroll, per_sm); }, 10);
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      const std::string shape = std::to_string(unroll) + "x" + std::to_string(per_sm);
      each += " " + shape + " " + std::to_string(static_cast<int>(gbs));
      if (gbs > best_gbs) best_gbs = gbs, best = shape;
    }
  }
  std::printf(
      "read     HBM stream 1 GiB: %.0f GB/s (read only; %.3fx the copy's read+write rate; "
      "best of loads/thread x blocks/SM:%s; best %s)\n",
      best_gbs, best_gbs / g_copy_gbs, each.c_str(), best.c_str());
}

int g_chain_layers = 8;   // --chain N
int g_decode_splits = 0;  // --splits N (0: the automatic choice)

std::vector<char> download_all(const DeviceBuffer& b) {
  std::vector<char> h(b.size());
  CHECK_OK(b.download(h.data(), h.size()));
  return h;
}

// The engine's view of decode attention: g_chain_layers launches of `p0` (layer 0 reads p0's
// K/V, layer l > 0 its own pool: p0's rotated), each writing its own output, captured in one
// graph on a stream (PDL edges kept). `single_out` is p0's output from the single-launch
// timing: layer 0 of the chain must reproduce it, layers > 0 their own eager launch, bit for
// bit. Beside it the same chain of bare gathers of the layers' K/V rows (bench_l2.h's roof; for
// int8 without the scales). Prints one "decode-chain" line.
void bench_decode_chain(const kc::DecodeAttentionParams& p0, const DeviceBuffer& k,
                        const DeviceBuffer& v, const DeviceBuffer& ks, const DeviceBuffer& vs,
                        const DeviceBuffer& single_out, double bytes, double single_us,
                        const char* label) {
  const int n_layers = g_chain_layers;
  struct Layer {
    DeviceBuffer k, v, ks, vs, out;
    std::vector<char> want;
  };
  std::vector<Layer> layers(static_cast<size_t>(n_layers));
  std::vector<kc::DecodeAttentionParams> ps(static_cast<size_t>(n_layers), p0);
  cudaStream_t st;
  if (cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) != cudaSuccess) std::exit(1);
  for (int l = 0; l < n_layers; ++l) {
    Layer& L = layers[static_cast<size_t>(l)];
    kc::DecodeAttentionParams& p = ps[static_cast<size_t>(l)];
    L.out = alloc(single_out.size());
    p.out = L.out.data();
    if (l == 0) {
      L.want = download_all(single_out);
      continue;
    }
    const size_t shift = 4098 * static_cast<size_t>(l);
    L.k = alloc(k.size());
    L.v = alloc(v.size());
    L.ks = alloc(ks.size());
    L.vs = alloc(vs.size());
    fill_rotated(L.k, k, shift);
    fill_rotated(L.v, v, shift + 2);
    fill_rotated(L.ks, ks, 4 * static_cast<size_t>(l));
    fill_rotated(L.vs, vs, 4 * static_cast<size_t>(l));
    p.k_cache = L.k.data();
    p.v_cache = L.v.data();
    p.k_scale = L.ks.as<float>();
    p.v_scale = L.vs.as<float>();
    if (cudaDeviceSynchronize() != cudaSuccess) std::exit(1);  // the copies ran on stream 0
    CHECK_OK(kc::decode_attention(p, st));  // the layer alone: its reference output
    if (cudaStreamSynchronize(st) != cudaSuccess) std::exit(1);
    L.want = download_all(L.out);
  }
  int failures = 0;
  auto verify = [&](const char* how) {
    for (int l = 0; l < n_layers; ++l) {
      if (download_all(layers[static_cast<size_t>(l)].out) == layers[static_cast<size_t>(l)].want)
        continue;
      std::printf("decode-chain %s: layer %d output differs from its single launch (%s)\n", label,
                  l, how);
      ++failures;
    }
  };
  DeviceBuffer sink = alloc(16);
  // Before every replay (untimed): the outputs are zeroed, so each replay must write them, then
  // the L2 is flushed, leaving dirty lines (memset) or clean ones.
  auto zero_outs = [&] {
    for (Layer& L : layers) cudaMemsetAsync(L.out.data(), 0, L.out.size(), st);
  };
  int i = 0;
  auto dirty = [&] {
    zero_outs();
    cudaMemsetAsync(g_flush.data(), i++ & 0xff, g_flush.size(), st);
  };
  auto clean = [&] {
    zero_outs();
    l2_flush_clean(g_flush.data(), g_flush.size(), sink.data(), st);
  };
  auto attention = [&] {
    for (const auto& p : ps) CHECK_OK(kc::decode_attention(p, st));
  };
  const size_t row_bytes = static_cast<size_t>(p0.head_dim) * (p0.kv_int8 ? 1 : 2);
  const int64_t n_tokens = static_cast<int64_t>(p0.n_reqs) * p0.max_kv_len;  // rows are 0..n-1
  auto gather = [&] {
    for (const auto& p : ps)
      kv_gather_read(p.k_cache, p.v_cache, row_bytes, p.req_to_token, n_tokens, p.n_kv_heads,
                     sink.data(), st);
  };
  const double us_dirty = median_graph_ms_after(st, dirty, attention) * 1e3 / n_layers;
  verify("memset flush");
  const double us_clean = median_graph_ms_after(st, clean, attention) * 1e3 / n_layers;
  verify("clean flush");
  const double roof_clean = median_graph_ms_after(st, clean, gather) * 1e3 / n_layers;
  cudaStreamDestroy(st);
  g_chain_failures += failures;
  auto pct = [&](double us) { return 100.0 * bytes / (us * 1e-6) / 1e9 / g_copy_gbs; };
  std::printf(
      "decode-chain %s: x%d graph %7.1f us/launch %5.1f%% of copy | clean L2 %7.1f us/launch "
      "%5.0f GB/s %5.1f%% of copy | gather roof %7.1f us %5.1f%% | single launch %.1f us "
      "%5.1f%% | %s\n",
      label, n_layers, us_dirty, pct(us_dirty), us_clean, bytes / (us_clean * 1e-6) / 1e9,
      pct(us_clean), roof_clean, pct(roof_clean), single_us, pct(single_us),
      failures == 0 ? "outputs bit-identical to single launches" : "CHECK FAILED");
}

// only_batch / only_ctx > 0: that shape alone.
void bench_decode(DType dt, bool int8, int only_batch, int only_ctx) {
  const int H = 32, KVH = 8, D = 128;
  for (int batch : {1, 32, 128}) {
    for (int ctx : {1024, 4096}) {
      if ((only_batch > 0 && batch != only_batch) || (only_ctx > 0 && ctx != only_ctx)) continue;
      const int64_t n_slots = int64_t{batch} * ctx;
      std::vector<int32_t> perm(static_cast<size_t>(n_slots));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(1));
      std::vector<int32_t> rows(static_cast<size_t>(batch)), lens(static_cast<size_t>(batch), ctx);
      std::iota(rows.begin(), rows.end(), 0);
      const size_t elem = int8 ? 1 : 2;
      DeviceBuffer k = alloc(static_cast<size_t>(n_slots) * KVH * D * elem);
      DeviceBuffer v = alloc(k.size());
      DeviceBuffer ks = alloc(static_cast<size_t>(n_slots) * KVH * 4), vs = alloc(ks.size());
      fill_random(k, 2);
      fill_random(v, 3);
      std::vector<float> sc(static_cast<size_t>(n_slots) * KVH, 0.01f);
      CHECK_OK(ks.upload(sc.data(), ks.size()));
      CHECK_OK(vs.upload(sc.data(), vs.size()));
      DeviceBuffer q = alloc(static_cast<size_t>(batch) * H * D * 2), out = alloc(q.size());
      fill_random(q, 4);
      DeviceBuffer rt = alloc(perm.size() * 4), drow = alloc(rows.size() * 4),
                   dlen = alloc(lens.size() * 4);
      CHECK_OK(rt.upload(perm.data(), rt.size()));
      CHECK_OK(drow.upload(rows.data(), drow.size()));
      CHECK_OK(dlen.upload(lens.data(), dlen.size()));
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
                                  .out = out.data(),
                                  .n_reqs = batch,
                                  .n_heads = H,
                                  .n_kv_heads = KVH,
                                  .head_dim = D,
                                  .req_to_token_stride = ctx,
                                  .max_kv_len = ctx,
                                  .softmax_scale = 0.088f,
                                  .n_splits = g_decode_splits};
      DeviceBuffer ws = alloc(kc::decode_attention_workspace_bytes(p));
      p.workspace = ws.data();
      p.workspace_bytes = ws.size();
      const double ms = time_ms([&] { CHECK_OK(kc::decode_attention(p, nullptr)); }, 20);
      double bytes = 2.0 * static_cast<double>(n_slots) * KVH * D * static_cast<double>(elem);
      if (int8) bytes += 2.0 * static_cast<double>(n_slots) * KVH * 4;
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf(
          "decode   %s%s batch %3d ctx %4d: %8.1f us  KV %7.1f MB  %6.0f GB/s  %5.1f%% of copy  "
          "(splits %d)\n",
          dt == DType::bf16 ? "bf16" : "f16 ", int8 ? "/int8kv" : "        ", batch, ctx, ms * 1e3,
          bytes / 1e6, gbs, 100.0 * gbs / g_copy_gbs, kc::decode_attention_splits(p));
      char label[64];
      std::snprintf(label, sizeof label, "%s%s batch %3d ctx %4d",
                    dt == DType::bf16 ? "bf16" : "f16 ", int8 ? "/int8kv" : "        ", batch, ctx);
      bench_decode_chain(p, k, v, ks, vs, out, bytes, ms * 1e3, label);
    }
  }
}

void bench_prefill(DType dt) {
  const int H = 32, KVH = 8, D = 128;
  struct Case {
    int n_reqs, len;
  };
  struct Config {
    int variant, tile_rows, kv_tile;
    bool int8;
  };
  // 0: the default (warp-specialized wgmma on sm_90a, else variant 2); 2: mma.sync; 5: wgmma.
  const Config configs[] = {{0, 0, 0, false},     {2, 64, 0, false},   {2, 128, 0, false},
                            {5, 128, 128, false}, {5, 192, 64, false}, {2, 128, 0, true}};
  for (Case c : {Case{16, 1024}, Case{4, 4096}})
    for (const Config& cfg : configs) {
      const int n_tokens = c.n_reqs * c.len;
      std::vector<int32_t> perm(static_cast<size_t>(n_tokens));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
      std::vector<int32_t> rows(static_cast<size_t>(c.n_reqs)),
          lens(static_cast<size_t>(c.n_reqs), c.len), qs(static_cast<size_t>(c.n_reqs) + 1);
      std::iota(rows.begin(), rows.end(), 0);
      for (int r = 0; r <= c.n_reqs; ++r) qs[static_cast<size_t>(r)] = r * c.len;
      DeviceBuffer q = alloc(static_cast<size_t>(n_tokens) * H * D * 2), out = alloc(q.size());
      DeviceBuffer k = alloc(static_cast<size_t>(n_tokens) * KVH * D * (cfg.int8 ? 1 : 2)),
                   v = alloc(k.size());
      DeviceBuffer ks = alloc(static_cast<size_t>(n_tokens) * KVH * 4), vs = alloc(ks.size());
      std::vector<float> sc(static_cast<size_t>(n_tokens) * KVH, 0.01f);
      CHECK_OK(ks.upload(sc.data(), ks.size()));
      CHECK_OK(vs.upload(sc.data(), vs.size()));
      fill_random(q, 6);
      fill_random(k, 7);
      fill_random(v, 8);
      DeviceBuffer rt = alloc(perm.size() * 4), drow = alloc(rows.size() * 4),
                   dlen = alloc(lens.size() * 4), dqs = alloc(qs.size() * 4);
      CHECK_OK(rt.upload(perm.data(), rt.size()));
      CHECK_OK(drow.upload(rows.data(), drow.size()));
      CHECK_OK(dlen.upload(lens.data(), dlen.size()));
      CHECK_OK(dqs.upload(qs.data(), dqs.size()));
      kc::PrefillAttentionParams p{.dtype = dt,
                                   .kv_int8 = cfg.int8,
                                   .q = q.data(),
                                   .k_cache = k.data(),
                                   .v_cache = v.data(),
                                   .k_scale = ks.as<float>(),
                                   .v_scale = vs.as<float>(),
                                   .req_to_token = rt.as<int32_t>(),
                                   .req_row = drow.as<int32_t>(),
                                   .q_start = dqs.as<int32_t>(),
                                   .kv_len = dlen.as<int32_t>(),
                                   .out = out.data(),
                                   .n_reqs = c.n_reqs,
                                   .n_heads = H,
                                   .n_kv_heads = KVH,
                                   .head_dim = D,
                                   .max_q_len = c.len,
                                   .req_to_token_stride = c.len,
                                   .softmax_scale = 0.088f,
                                   .causal = true,
                                   .block_rows = cfg.tile_rows,
                                   .kv_tile = cfg.kv_tile,
                                   .variant = cfg.variant};
      const double ms = time_ms([&] { CHECK_OK(kc::prefill_attention(p, nullptr)); }, 10);
      const double flops = 4.0 * D * H * c.n_reqs * double(c.len) * c.len / 2;
      std::printf(
          "prefill  %s%s %2d x %4d causal h32/kv8/d128 (v%d, %3d x %3d tiles): %8.3f ms  %6.1f "
          "TFLOP/s\n",
          dt == DType::bf16 ? "bf16" : "f16 ", cfg.int8 ? "/int8kv" : "        ", c.n_reqs, c.len,
          cfg.variant, cfg.tile_rows, cfg.kv_tile, ms, flops / (ms * 1e-3) / 1e12);
    }
}

void bench_gemm(DType dt) {
  auto g = kc::GemmLt::create();
  CHECK_OK(g.status());
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  const Shape shapes[] = {
      {"qkv", 12288, 4096}, {"o", 4096, 4096}, {"gate_up", 22016, 4096}, {"down", 4096, 11008}};
  for (int64_t m : {int64_t{1}, int64_t{32}, int64_t{4096}}) {
    for (const Shape& s : shapes) {
      DeviceBuffer x = alloc(static_cast<size_t>(m * s.k) * 2),
                   w = alloc(static_cast<size_t>(s.n * s.k) * 2),
                   out = alloc(static_cast<size_t>(m * s.n) * 2);
      fill_random(x, 9);
      fill_random(w, 10);
      kc::GemmParams p{
          .dtype = dt, .x = x.data(), .w = w.data(), .out = out.data(), .m = m, .n = s.n, .k = s.k};
      const double ms = time_ms([&] { CHECK_OK((*g)->gemm(p, nullptr)); }, 10);
      const double tflops = 2.0 * m * s.n * s.k / (ms * 1e-3) / 1e12;
      const double gbs = 2.0 * (s.n * s.k + m * s.k + m * s.n) / (ms * 1e-3) / 1e9;
      std::printf("gemm     %s m %4ld %-8s n %5ld k %5ld: %8.1f us  %6.1f TFLOP/s  %6.0f GB/s\n",
                  dt == DType::bf16 ? "bf16" : "f16 ", static_cast<long>(m), s.name,
                  static_cast<long>(s.n), static_cast<long>(s.k), ms * 1e3, tflops, gbs);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool want_decode = false, want_prefill = false, want_gemm = false;
  int only_batch = 0, only_ctx = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--chain" && i + 1 < argc) {
      g_chain_layers = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--splits" && i + 1 < argc) {
      g_decode_splits = std::max(0, std::atoi(argv[++i]));
    } else if (a == "decode") {
      want_decode = true;
    } else if (a.rfind("decode:", 0) == 0 &&
               std::sscanf(a.c_str(), "decode:%d:%d", &only_batch, &only_ctx) == 2) {
      want_decode = true;
    } else if (a == "prefill") {
      want_prefill = true;
    } else if (a == "gemm") {
      want_gemm = true;
    } else {
      std::fprintf(
          stderr,
          "usage: kernel_bench [decode[:BATCH:CTX]] [prefill] [gemm] [--chain N] [--splits N]\n");
      return 2;
    }
  }
  if (!want_decode && !want_prefill && !want_gemm) want_decode = want_prefill = want_gemm = true;
  auto info = lightllm::backend::cuda::device_info(0);
  CHECK_OK(info.status());
  std::printf("GPU: %s (%d SMs, cc %d.%d, %.1f GiB)\n", info->name.c_str(), info->sm_count,
              info->major, info->minor, static_cast<double>(info->total_memory) / (1 << 30));
  g_flush = alloc(size_t{256} << 20);
  bench_copy();
  bench_read();
  if (want_decode) {
    for (DType dt : {DType::bf16, DType::f16}) bench_decode(dt, false, only_batch, only_ctx);
    bench_decode(DType::bf16, true, only_batch, only_ctx);
  }
  if (want_prefill)
    for (DType dt : {DType::bf16, DType::f16}) bench_prefill(dt);
  if (want_gemm)
    for (DType dt : {DType::bf16, DType::f16}) bench_gemm(dt);
  if (g_chain_failures > 0) {
    std::printf("decode-chain: %d layer outputs differ from their single launches\n",
                g_chain_failures);
    return 1;
  }
  return 0;
}
