// bench/cuda/sampling_bench.cpp — device sampling (ops::sample + copying the ids back) vs the
// host path it replaces (copying the [batch, vocab] f32 logits to the host + Sampler::sample
// per row), at batch 1/64/256 and vocab 32000/128256, for greedy and for a typical sampled
// request (temperature 0.8, top_k 50, top_p 0.9, repetition_penalty 1.1 over a 256-token
// prompt). A benchmark, not a test. Prints the GPU name and one line per case: median wall
// microseconds of each path (device: 30 runs, host: 3 runs) and the speed-up, and the GPU time
// of ops::sample alone without logprobs (its row upload and the kernel: what a default request's
// sampling costs a step on the GPU; CUDA events, median of 30).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include <cuda_runtime_api.h>

#include "backend/cuda/device_buffer.h"
#include "bench_check.h"
#include "bench_timing.h"
#include "engine/sampling/device_sampling.h"
#include "engine/sampling/sampler.h"
#include "ops/ops.h"
#include "ops/sampling_ops.h"

namespace {

using lightllm::core::DType;
using lightllm::core::Tensor;
namespace ops = lightllm::ops;
namespace sampling = lightllm::sampling;

Tensor device_tensor(const lightllm::core::Shape& shape, DType dt) {
  auto t = ops::empty_on(lightllm::core::Device::cuda, shape, dt);
  CHECK_OK(t.status());
  return *t;
}

// Median wall microseconds of `fn` over `iters` runs, `prep` (untimed) before each.
double median_us(const std::function<void()>& prep, const std::function<void()>& fn, int iters) {
  std::vector<double> us;
  prep();
  fn();  // warm-up
  for (int i = 0; i < iters; ++i) {
    prep();
    cudaDeviceSynchronize();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main() {
  auto info = lightllm::backend::cuda::device_info(0);
  CHECK_OK(info.status());
  std::printf("GPU: %s\n", info->name.c_str());
  std::printf("%-8s %-6s %-8s %12s %12s %9s %10s\n", "vocab", "batch", "mode", "device_us",
              "host_us", "speedup", "sample_us");
  std::mt19937_64 rng(1);
  for (int64_t vocab : {int64_t{32000}, int64_t{128256}}) {
    for (int64_t batch : {int64_t{1}, int64_t{64}, int64_t{256}}) {
      std::normal_distribution<float> d(0.f, 3.f);
      std::vector<float> host_logits(static_cast<size_t>(batch * vocab));
      for (auto& x : host_logits) x = d(rng);
      Tensor pristine = device_tensor({batch, vocab}, DType::f32);
      Tensor work = device_tensor({batch, vocab}, DType::f32);
      Tensor ids = device_tensor({batch}, DType::i32);
      Tensor logprobs = device_tensor({batch}, DType::f32);
      Tensor host_view = Tensor::view(host_logits.data(), {batch, vocab}, DType::f32);
      CHECK_OK(ops::copy_to_device(host_view, pristine));
      for (bool sampled : {false, true}) {
        std::vector<int32_t> prompt(256);
        std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab - 1));
        for (auto& t : prompt) t = tok(rng);
        lightllm::SamplingParams p;
        if (sampled) {
          p.do_sample = true;
          p.temperature = 0.8f;
          p.top_k = 50;
          p.top_p = 0.9f;
          p.repetition_penalty = 1.1f;
          p.seed = 7;
        }
        std::vector<sampling::SamplingState> states;
        for (int64_t r = 0; r < batch; ++r)
          states.push_back(sampling::make_sampling_state(p, prompt, std::vector<int32_t>{2}));
        auto prep = [&] {
          cudaMemcpy(work.raw(), pristine.raw(), pristine.nbytes(), cudaMemcpyDeviceToDevice);
        };
        lightllm::kernels::SampleBatch sb;
        std::vector<int32_t> out(static_cast<size_t>(batch));
        std::vector<float> out_lp(static_cast<size_t>(batch));
        const double dev_us = median_us(
            prep,
            [&] {
              sb.clear();
              for (const auto& st : states) CHECK_OK(sampling::append_sample_row(st, vocab, sb));
              CHECK_OK(ops::sample(work, sb, ids, &logprobs));
              Tensor h = Tensor::view(out.data(), {batch}, DType::i32);
              Tensor hl = Tensor::view(out_lp.data(), {batch}, DType::f32);
              CHECK_OK(ops::copy_to_host(ids, h));
              CHECK_OK(ops::copy_to_host(logprobs, hl));
            },
            30);
        // ops::sample alone (rows packed once; its upload and the kernel, no logprobs, no ids
        // copy), timed with events.
        sb.clear();
        for (const auto& st : states) CHECK_OK(sampling::append_sample_row(st, vocab, sb));
        prep();
        const double sample_us =
            1e3 * median_ms_after(
                      prep, [&] { CHECK_OK(ops::sample(work, sb, ids, nullptr)); }, 30);
        std::vector<float> back(static_cast<size_t>(batch * vocab));
        sampling::Sampler sampler;
        const double host_us = median_us(
            prep,
            [&] {
              Tensor h = Tensor::view(back.data(), {batch, vocab}, DType::f32);
              CHECK_OK(ops::copy_to_host_f32(work, h));
              for (int64_t r = 0; r < batch; ++r) {
                sampling::SamplingState st = states[static_cast<size_t>(r)];
                out[static_cast<size_t>(r)] =
                    sampler.sample({back.data() + r * vocab, static_cast<size_t>(vocab)}, st).token;
              }
            },
            3);
        std::printf("%-8lld %-6lld %-8s %12.1f %12.1f %8.1fx %10.1f\n",
                    static_cast<long long>(vocab), static_cast<long long>(batch),
                    sampled ? "sampled" : "greedy", dev_us, host_us, host_us / dev_us, sample_us);
      }
    }
  }
  return 0;
}
