// bench/cuda/tp_decode_bench.cpp — batch-1 decode step time at TP = 1 and TP = N through the
// engine's tensor-parallel path (TpGroup: one thread per GPU, NCCL, model shards; the same
// code `lightllm serve --tp N` runs), a benchmark, not a test. For each TP it loads the model,
// prefills a --prompt token prompt, runs --steps decode steps and prints the median step time;
// then the ratio TP=N / TP=1 (goal for Llama-2-7B at N = 2: <= 0.6).
//   tp_decode_bench MODEL_DIR [--tp 2] [--prompt 128] [--steps 128]
// Models: tools/make_random_model.py --shape llama2-7b --out DIR (random bf16 weights).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_check.h"
#include "engine/runner/tp_runner.h"
#include "ops/ops.h"

using namespace lightllm;

namespace {

// Median decode step (ms) at `tp` GPUs.
double median_step_ms(const std::string& dir, int tp, int prompt, int steps) {
  auto id = engine::new_nccl_id();
  CHECK_OK(id.status());
  auto factory = engine::nccl_comm_factory(tp, *id);
  CHECK_OK(factory.status());
  auto group = engine::TpGroup::create({.model_dir = dir,
                                        .device = core::Device::cuda,
                                        .tp = tp,
                                        .first_rank = 0,
                                        .local_ranks = tp,
                                        .make_comm = *factory});
  CHECK_OK(group.status());
  const models::Model& m = (*group)->model();
  const int64_t len = prompt + steps + 1;
  CHECK_OK((*group)->allocate_kv(len, m.activation_dtype()));
  std::vector<int32_t> row(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i) row[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  models::StepBatchBuilder builder(row.data(), len);
  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  for (int i = 0; i < prompt; ++i) ids[static_cast<size_t>(i)] = 1 + (i * 7919) % 1000;
  std::vector<models::StepSegment> seg{{.req_row = 0, .tokens = ids, .cached_len = 0}};
  CHECK_OK((*group)->forward(builder.build(seg), 1));
  std::vector<double> ms;
  int32_t tok = 1;
  for (int s = 0; s < steps; ++s) {
    seg = {{.req_row = 0,
            .tokens = std::span<const int32_t>(&tok, 1),
            .cached_len = static_cast<int32_t>(prompt + s)}};
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_OK((*group)->forward(builder.build(seg), 1));  // logits reach the host: synchronous
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    tok = 1 + s % 1000;
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  std::printf(
      "tp %d: %s, %d layers, %.1f MiB weights on rank 0, decode step median %.3f ms "
      "(p10 %.3f, p90 %.3f) over %d steps after a %d-token prompt\n",
      tp, m.shape().architecture.c_str(), m.shape().n_layers,
      static_cast<double>(m.weight_bytes()) / (1 << 20), med, ms[ms.size() / 10],
      ms[ms.size() * 9 / 10], steps, prompt);
  return med;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--tp 2] [--prompt 128] [--steps 128]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int tp = 2, prompt = 128, steps = 128;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--tp")
      tp = v;
    else if (k == "--prompt")
      prompt = v;
    else if (k == "--steps")
      steps = v;
  }
  if (tp < 2 || prompt < 1 || steps < 10) {
    std::fprintf(stderr, "--tp >= 2, --prompt >= 1, --steps >= 10\n");
    return 2;
  }
  if (ops::cuda_device_count() < tp) {
    std::fprintf(stderr, "--tp %d needs %d GPUs, %d visible\n", tp, tp, ops::cuda_device_count());
    return 1;
  }
  const double one = median_step_ms(dir, 1, prompt, steps);
  const double many = median_step_ms(dir, tp, prompt, steps);
  std::printf("TP=%d / TP=1 decode step: %.3f (goal <= 0.6 at TP=2)\n", tp, many / one);
  return 0;
}
