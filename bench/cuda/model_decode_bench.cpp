// bench/cuda/model_decode_bench.cpp — batch-1 and batch-N decode through the real model path on
// CUDA (models::load_model(dir, cuda) + Model::forward, i.e. the code the engine runs), a
// benchmark, not a test. Prints the GPU, then: the device-to-device copy bandwidth (read + write
// bytes / time: the HBM yardstick), prefill time of a --prompt token prompt, and for --steps decode
// steps the median step time, tokens/s and the achieved weight bandwidth (weight bytes read
// per token / step time) as % of the copy bandwidth. A step includes staging the step's
// metadata, all kernels, and the f32 logits copy back to the host (which synchronizes).
// Each batch size (1 and --batch) runs with CUDA graphs off and on, side by side, and reports
// the median host gap between steps seen by the GPU: cudaEvents recorded on the caller's
// stream when one forward returns and when the next is called (the GPU is idle in between;
// the staging inside forward adds to it and is part of ms/step).
//   model_decode_bench MODEL_DIR [--prompt 128] [--steps 128] [--batch 32]
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
#include "bench_check.h"
#include "models/model.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

using namespace lightllm;

namespace {

// The device copy bandwidth in GB/s (read + write; the same measurement as `lightllm bench
// decode --device cuda`), 0 when it cannot be measured.
double copy_bandwidth_gbs() {
  auto bw = backend::cuda::copy_bandwidth(size_t{1} << 30, 10);
  return bw.ok() ? *bw / 1e9 : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc % 2) != 0) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--prompt N] [--steps N] [--batch N]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int prompt = 128, steps = 128, batch_n = 32;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--prompt")
      prompt = std::atoi(argv[i + 1]);
    else if (k == "--steps")
      steps = std::atoi(argv[i + 1]);
    else if (k == "--batch")
      batch_n = std::atoi(argv[i + 1]);
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

  // Every (batch size, graphs off/on) pair on the same loaded model, each on a fresh KV pool.
  // The pool has one extra slot that padding rows of graph steps write to (as the engine's).
  struct Row {
    int batch;
    bool graphs;
    double med, best, gap_us;
    models::CudaGraphStats stats;
  };
  std::vector<Row> rows;
  const int max_graph_batch = std::max(1, batch_n);
  for (int batch : {1, batch_n}) {
    for (bool graphs : {false, true}) {
      const int64_t per_req = prompt + steps + 8;
      const int64_t cap = per_req * batch;
      CHECK_OK((*model)->set_cuda_graphs(
          {.max_batch = graphs ? max_graph_batch : 0, .max_kv_len = per_req}));
      auto kv =
          models::KvStorage::allocate_on(core::Device::cuda, s.n_layers, cap + 1, s.n_kv_heads,
                                         s.head_dim, (*model)->activation_dtype());
      CHECK_OK(kv.status());
      kv->scratch_slot = cap;
      std::vector<int32_t> table(static_cast<size_t>(cap));
      std::iota(table.begin(), table.end(), 0);  // request r owns slots [r*per_req, ...)
      models::StepBatchBuilder builder(table.data(), per_req);
      core::Tensor logits = core::Tensor::empty({batch, s.vocab}, core::DType::f32);
      std::vector<std::vector<int32_t>> feed(static_cast<size_t>(batch));
      for (int r = 0; r < batch; ++r)
        for (int i = 0; i < prompt; ++i)
          feed[static_cast<size_t>(r)].push_back((i * 7919 + r * 104729 + 13) %
                                                 static_cast<int>(s.vocab));
      std::vector<models::StepSegment> segs(static_cast<size_t>(batch));
      auto run = [&](int32_t cached) {
        for (int r = 0; r < batch; ++r)
          segs[static_cast<size_t>(r)] = {
              .req_row = r, .tokens = feed[static_cast<size_t>(r)], .cached_len = cached};
        const models::StepBatch& b = builder.build(segs);
        CHECK_OK((*model)->forward(b, *kv, logits));
      };
      auto t0 = std::chrono::steady_clock::now();
      run(0);
      const double prefill_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (batch == 1 && !graphs)
        std::printf("prefill %d tokens (first call, includes cuBLASLt planning): %.1f ms\n", prompt,
                    prefill_ms);
      // Events on the caller's stream: `after` right when forward returned (the GPU is idle),
      // `before` when the next forward is called; the gap is the host work between steps
      // (argmax of the logits, building the next batch) during which the GPU has nothing.
      cudaStream_t cs = static_cast<cudaStream_t>(ops::cuda_stream());
      std::vector<cudaEvent_t> before(static_cast<size_t>(steps)), after(before.size());
      for (size_t i = 0; i < before.size(); ++i) {
        cudaEventCreate(&before[i]);
        cudaEventCreate(&after[i]);
      }
      std::vector<double> ms;
      int32_t len = prompt;
      for (int i = 0; i < steps; ++i, ++len) {
        for (int r = 0; r < batch; ++r) {
          const float* row = logits.data<float>() + int64_t{r} * s.vocab;
          feed[static_cast<size_t>(r)] = {
              static_cast<int32_t>(std::max_element(row, row + s.vocab) - row)};
        }
        t0 = std::chrono::steady_clock::now();
        cudaEventRecord(before[static_cast<size_t>(i)], cs);
        run(len);
        cudaEventRecord(after[static_cast<size_t>(i)], cs);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
      }
      cudaDeviceSynchronize();
      std::vector<double> gaps;
      for (int i = 5; i < steps; ++i) {
        float g = 0;
        cudaEventElapsedTime(&g, after[static_cast<size_t>(i - 1)], before[static_cast<size_t>(i)]);
        gaps.push_back(1000.0 * g);
      }
      for (size_t i = 0; i < before.size(); ++i) {
        cudaEventDestroy(before[i]);
        cudaEventDestroy(after[i]);
      }
      std::vector<double> sorted(ms.begin() + std::min<size_t>(4, ms.size() - 1), ms.end());
      std::sort(sorted.begin(), sorted.end());
      std::sort(gaps.begin(), gaps.end());
      rows.push_back({batch, graphs, sorted[sorted.size() / 2], sorted.front(),
                      gaps.empty() ? 0.0 : gaps[gaps.size() / 2], (*model)->cuda_graph_stats()});
    }
  }
  std::printf("decode, context %d..%d (median of %d steps after 4 warm-up):\n", prompt,
              prompt + steps, steps - 4);
  std::printf("%6s %7s %12s %10s %12s %14s %9s %s\n", "batch", "graphs", "ms/step", "best",
              "tokens/s", "weights GB/s", "% copy", "host gap between steps (us), graph stats");
  for (const Row& r : rows) {
    // Weights the step reads: all but the embedding rows no token of the batch looks up.
    const double gbs =
        static_cast<double>((*model)->step_weight_bytes(r.batch)) / (r.med * 1e-3) / 1e9;
    std::printf(
        "%6d %7s %12.3f %10.3f %12.1f %14.0f %8.1f%% %.1f us; captured %ld, replays %ld, "
        "eager %ld\n",
        r.batch, r.graphs ? "on" : "off", r.med, r.best, 1000.0 * r.batch / r.med, gbs,
        100.0 * gbs / copy_gbs, r.gap_us, static_cast<long>(r.stats.captured),
        static_cast<long>(r.stats.replays), static_cast<long>(r.stats.eager_steps));
  }
  for (const Row& off : rows)
    for (const Row& on : rows)
      if (off.batch == on.batch && !off.graphs && on.graphs)
        std::printf("batch %d: graphs %.2fx faster per step (%.3f -> %.3f ms)\n", off.batch,
                    off.med / on.med, off.med, on.med);
  return 0;
}
