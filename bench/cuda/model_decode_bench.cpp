// bench/cuda/model_decode_bench.cpp — batch-1 decode through the real model path on CUDA
// (models::load_model(dir, cuda) + Model::forward, i.e. the code the engine runs), a benchmark,
// not a test. Prints the GPU, then: the device-to-device copy bandwidth (read + write bytes /
// time: the HBM yardstick), prefill time of a --prompt token prompt, and for --steps decode
// steps the median step time, tokens/s and the achieved weight bandwidth (weight bytes read
// per token / step time) as % of the copy bandwidth. A step includes staging the step's
// metadata, all kernels, and the f32 logits copy back to the host (which synchronizes).
//   model_decode_bench MODEL_DIR [--prompt 128] [--steps 128]
// Models: tools/make_random_model.py --shape llama2-7b --out DIR (random bf16 weights).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "backend/cuda/device_buffer.h"
#include "models/model.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

using namespace lightllm;

namespace {

#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    auto _st = (expr);                                                                  \
    if (!_st.ok()) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, _st.to_string().c_str()); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

// The device copy bandwidth in GB/s (read + write; the same measurement as `lightllm bench
// decode --device cuda`), 0 when it cannot be measured.
double copy_bandwidth_gbs() {
  auto bw = backend::cuda::copy_bandwidth(size_t{1} << 30, 10);
  return bw.ok() ? *bw / 1e9 : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--prompt N] [--steps N]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int prompt = 128, steps = 128;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--prompt")
      prompt = std::atoi(argv[i + 1]);
    else if (k == "--steps")
      steps = std::atoi(argv[i + 1]);
  }
  auto info = backend::cuda::device_info(0);
  CHECK_OK(info.status());
  const double copy_gbs = copy_bandwidth_gbs();
  std::printf("GPU: %s (%d SMs), device copy bandwidth %.0f GB/s (read + write)\n",
              info->name.c_str(), info->sm_count, copy_gbs);

  const auto t_load = std::chrono::steady_clock::now();
  auto model = models::load_model(dir, core::Device::cuda);
  CHECK_OK(model.status());
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  const auto& s = (*model)->shape();
  const int64_t wbytes = (*model)->weight_bytes();
  std::printf(
      "model %s: %d layers, hidden %ld, vocab %ld, %.2f GiB of %s weights on the GPU "
      "(loaded in %.1f s)\n",
      s.architecture.c_str(), s.n_layers, static_cast<long>(s.hidden), static_cast<long>(s.vocab),
      static_cast<double>(wbytes) / (1 << 30),
      std::string(core::dtype_name((*model)->activation_dtype())).c_str(), load_s);

  const int64_t cap = prompt + steps + 8;
  auto kv = models::KvStorage::allocate_on(core::Device::cuda, s.n_layers, cap, s.n_kv_heads,
                                           s.head_dim, (*model)->activation_dtype());
  CHECK_OK(kv.status());
  std::vector<int32_t> table(static_cast<size_t>(cap));
  std::iota(table.begin(), table.end(), 0);
  models::StepBatchBuilder builder(table.data(), cap);
  core::Tensor logits = core::Tensor::empty({1, s.vocab}, core::DType::f32);

  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  for (int i = 0; i < prompt; ++i)
    ids[static_cast<size_t>(i)] = (i * 7919 + 13) % static_cast<int>(s.vocab);
  auto run = [&](std::span<const int32_t> toks, int32_t cached) {
    const models::StepSegment seg{
        .req_row = 0, .tokens = toks, .cached_len = cached, .wants_logits = true};
    const models::StepBatch& b = builder.build({&seg, 1});
    CHECK_OK((*model)->forward(b, *kv, logits));
  };
  auto t0 = std::chrono::steady_clock::now();
  run(ids, 0);
  const double prefill_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> ms;
  int32_t len = prompt;
  for (int i = 0; i < steps; ++i, ++len) {
    const float* row = logits.data<float>();
    int32_t next = static_cast<int32_t>(std::max_element(row, row + s.vocab) - row);
    t0 = std::chrono::steady_clock::now();
    run(std::span<const int32_t>(&next, 1), len);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted(ms.begin() + std::min<size_t>(4, ms.size() - 1),
                             ms.end());  // warm-up out
  std::sort(sorted.begin(), sorted.end());
  const double med = sorted[sorted.size() / 2], best = sorted.front();
  const double gbs = static_cast<double>(wbytes) / (med * 1e-3) / 1e9;
  std::printf("prefill %d tokens (first call, includes cuBLASLt planning): %.1f ms\n", prompt,
              prefill_ms);
  std::printf(
      "decode batch 1, context %d..%d: median %.3f ms/token (best %.3f) = %.1f tokens/s; "
      "weights %.0f GB/s = %.1f%% of the copy bandwidth\n",
      prompt, prompt + steps, med, best, 1000.0 / med, gbs, 100.0 * gbs / copy_gbs);
  return 0;
}
