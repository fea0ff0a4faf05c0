// bench/decode_gemv_bench.cpp — decode GEMV throughput vs the memory-bandwidth bound.
// Model: a LLaMA-shaped ~110M-parameter bf16 model's matmuls (hidden 768, intermediate 2048,
// 12 layers, 12 heads MHA, vocab 32000; q,k,v,o,gate,up,down per layer + lm_head). One
// decode step = all of them at m rows. The bound is weight bytes / bandwidth, with the
// bandwidth measured in the same run by a multi-threaded memcpy (and, for reference, a
// read-only sweep). Also prints f32 (and bf16) GEMM GFLOP/s at m = 128.
// Usage: decode_gemv_bench [runs=7]   (threads: OMP_NUM_THREADS, default all cores)
// On a machine shared with other work, run with OMP_WAIT_POLICY=passive: libgomp's default
// spin-waiting at the end of each of the ~85 parallel regions per step collapses when a
// worker thread is descheduled (measured 7x slower here under load).
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/isa.h"
#include "ops/ops.h"

using lightllm::core::DType;
using lightllm::core::Tensor;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used by this process (all threads): on a shared machine, work per CPU-second
// shows the kernel's own speed even when the OS gives us less than every core.
double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Tensor random_weight(int64_t n, int64_t k, DType dt, uint32_t seed) {
  Tensor t = Tensor::empty({n, k}, dt);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-0.05f, 0.05f);
  for (int64_t i = 0; i < n * k; ++i) {
    const float v = d(rng);
    if (dt == DType::bf16) t.data<lightllm::core::bf16>()[i] = lightllm::core::f32_to_bf16(v);
    if (dt == DType::f32) t.data<float>()[i] = v;
  }
  return t;
}

// Multi-threaded memcpy of `bytes`: returns GB/s counting bytes read + bytes written.
double copy_bandwidth(size_t bytes, int reps) {
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
#pragma omp parallel
    {
      const size_t nt = static_cast<size_t>(omp_get_num_threads()),
                   id = static_cast<size_t>(omp_get_thread_num());
      const size_t lo = bytes * id / nt, hi = bytes * (id + 1) / nt;
      std::memcpy(dst.data() + lo, src.data() + lo, hi - lo);
    }
    t.push_back(now_s() - t0);
  }
  return 2.0 * static_cast<double>(bytes) / median(t) / 1e9;
}

// Multi-threaded read-only sweep (sum of 64-bit words): GB/s read.
double read_bandwidth(size_t bytes, int reps) {
  std::vector<uint64_t> buf(bytes / 8, 3);
  std::vector<double> t;
  volatile uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    uint64_t total = 0;
    const double t0 = now_s();
#pragma omp parallel for reduction(+ : total)
    for (size_t i = 0; i < buf.size(); ++i) total += buf[i];
    t.push_back(now_s() - t0);
    sink = sink + total;
  }
  return static_cast<double>(bytes) / median(t) / 1e9;
}

struct Linear {
  Tensor w;  // [n, k]
};

// Decode attention (q_len = 1) over long contexts: 4 requests x 4096 cached tokens, 12 heads
// of 64 (the model above), KV slots in shuffled order. Reports ms per layer call and the rate
// at which K/V bytes are read.
void bench_decode_attention(int runs, double copy_bw) {
  const int64_t n_reqs = 4, kv = 4096, heads = 12, hd = 64, n_slots = n_reqs * kv;
  std::vector<int32_t> slots(static_cast<size_t>(n_slots));
  for (int64_t i = 0; i < n_slots; ++i) slots[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  std::shuffle(slots.begin(), slots.end(), std::mt19937(5));
  std::vector<int32_t> q_start, kv_len(n_reqs, kv), req_row;
  for (int64_t r = 0; r <= n_reqs; ++r) q_start.push_back(static_cast<int32_t>(r));
  for (int64_t r = 0; r < n_reqs; ++r) req_row.push_back(static_cast<int32_t>(r));
  lightllm::ops::AttentionMeta meta{.q_start = q_start.data(),
                                    .kv_len = kv_len.data(),
                                    .req_row = req_row.data(),
                                    .req_to_token = slots.data(),
                                    .req_to_token_stride = kv,
                                    .n_reqs = static_cast<int32_t>(n_reqs),
                                    .scale = 0.125f};
  Tensor q = Tensor::empty({n_reqs, heads, hd}, DType::f32);
  Tensor out = Tensor::empty({n_reqs, heads, hd}, DType::f32);
  for (int64_t i = 0; i < q.numel(); ++i) q.data<float>()[i] = 0.01f * static_cast<float>(i % 13);
  for (DType dt : {DType::f32, DType::bf16, DType::i8}) {
    lightllm::ops::KvCacheView cache{
        Tensor::empty({n_slots, heads, hd}, dt), Tensor::empty({n_slots, heads, hd}, dt), {}, {}};
    if (dt == DType::i8) {
      cache.k_scale = Tensor::empty({n_slots, heads}, DType::f32);
      cache.v_scale = Tensor::empty({n_slots, heads}, DType::f32);
    }
    std::vector<double> t;
    for (int r = 0; r < runs; ++r) {
      const double t0 = now_s();
      for (int s = 0; s < 5; ++s)
        if (!lightllm::ops::attention(q, cache, meta, out).ok()) std::abort();
      t.push_back((now_s() - t0) / 5);
    }
    const double bytes =
        2.0 * static_cast<double>(cache.k.nbytes()) +
        (dt == DType::i8 ? 2.0 * static_cast<double>(cache.k_scale.nbytes()) : 0.0);
    std::printf(
        "decode attention %s KV, %ld reqs x %ld tokens, %ld heads x %ld: %.2f ms per layer, "
        "KV read at %.2f GB/s (%.0f%% of memcpy bandwidth)\n",
        std::string(lightllm::core::dtype_name(dt)).c_str(), n_reqs, kv, heads, hd, median(t) * 1e3,
        bytes / median(t) / 1e9, 100.0 * bytes / median(t) / 1e9 / copy_bw);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
  const int64_t hidden = 768, inter = 2048, layers = 12, vocab = 32000;
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("decode_gemv_bench: threads=%d isa=%s runs=%d OMP_WAIT_POLICY=%s\n",
              omp_get_max_threads(),
              lightllm::kernels::cpu::isa_name(lightllm::kernels::cpu::active_isa()), runs,
              wait_policy ? wait_policy : "(unset)");

  std::vector<Linear> seq;
  uint32_t seed = 1;
  for (int64_t l = 0; l < layers; ++l) {
    for (int i = 0; i < 4; ++i) seq.push_back({random_weight(hidden, hidden, DType::bf16, seed++)});
    seq.push_back({random_weight(inter, hidden, DType::bf16, seed++)});
    seq.push_back({random_weight(inter, hidden, DType::bf16, seed++)});
    seq.push_back({random_weight(hidden, inter, DType::bf16, seed++)});
  }
  seq.push_back({random_weight(vocab, hidden, DType::bf16, seed++)});
  size_t weight_bytes = 0;
  int64_t params = 0;
  for (const Linear& l : seq) weight_bytes += l.w.nbytes(), params += l.w.numel();
  std::printf("model: hidden %ld, inter %ld, layers %ld, vocab %ld: %.1fM params, %.1f MB bf16\n",
              hidden, inter, layers, vocab, params / 1e6, weight_bytes / 1e6);

  const double copy_bw = copy_bandwidth(size_t{256} << 20, 7);
  const double read_bw = read_bandwidth(size_t{256} << 20, 7);
  std::printf("memcpy bandwidth (read+write): %.2f GB/s; read-only sweep: %.2f GB/s\n", copy_bw,
              read_bw);

  for (int64_t m : {1, 4, 16, 64}) {
    Tensor x = Tensor::empty({m, inter}, DType::f32), out = Tensor::empty({m, vocab}, DType::f32);
    for (int64_t i = 0; i < m * inter; ++i) x.data<float>()[i] = 0.01f * static_cast<float>(i % 97);
    auto step = [&] {
      for (const Linear& l : seq) {
        const int64_t n = l.w.dim(0), k = l.w.dim(1);
        Tensor xi = Tensor::view(x.raw(), {m, k}, DType::f32);
        Tensor oi = Tensor::view(out.raw(), {m, n}, DType::f32);
        if (!lightllm::ops::matmul(xi, l.w, Tensor(), oi).ok()) std::abort();
      }
    };
    step();  // warm up
    const int steps = m <= 4 ? 10 : 4;
    std::vector<double> t;
    for (int r = 0; r < runs; ++r) {
      const double t0 = now_s();
      for (int s = 0; s < steps; ++s) step();
      t.push_back((now_s() - t0) / steps);
    }
    const double step_s = median(t);
    const double bound_copy = copy_bw * 1e9 / static_cast<double>(weight_bytes);
    std::printf(
        "m=%-3ld step %.2f ms: %.1f steps/s (%.1f tokens/s), weights at %.2f GB/s = %.0f%% of "
        "memcpy bound (%.1f steps/s), %.0f%% of read bound\n",
        m, step_s * 1e3, 1.0 / step_s, m / step_s, weight_bytes / step_s / 1e9,
        100.0 / step_s / bound_copy, bound_copy,
        100.0 / step_s / (read_bw * 1e9 / static_cast<double>(weight_bytes)));
  }

  const int64_t m = 128;
  for (DType dt : {DType::f32, DType::bf16}) {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{2048, 768}, {768, 2048}, {2048, 2048}}) {
      Tensor w = random_weight(n, k, dt, 99);
      Tensor x = Tensor::empty({m, k}, DType::f32), out = Tensor::empty({m, n}, DType::f32);
      for (int64_t i = 0; i < m * k; ++i) x.data<float>()[i] = 0.01f * static_cast<float>(i % 89);
      if (!lightllm::ops::matmul(x, w, Tensor(), out).ok()) std::abort();
      std::vector<double> t, c;
      for (int r = 0; r < runs; ++r) {
        const double t0 = now_s(), c0 = cpu_s();
        for (int s = 0; s < 5; ++s)
          if (!lightllm::ops::matmul(x, w, Tensor(), out).ok()) std::abort();
        t.push_back((now_s() - t0) / 5);
        c.push_back((cpu_s() - c0) / 5);
      }
      const double flop = 2.0 * static_cast<double>(m * n * k);
      std::printf(
          "GEMM %s weights m=%ld n=%ld k=%ld: %.1f GFLOP/s wall, %.1f GFLOP per CPU-second\n",
          std::string(lightllm::core::dtype_name(dt)).c_str(), m, n, k, flop / median(t) / 1e9,
          flop / median(c) / 1e9);
    }
  }
  bench_decode_attention(runs, copy_bw);
  return 0;
}
