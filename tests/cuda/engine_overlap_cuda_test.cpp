// tests/cuda/engine_overlap_cuda_test.cpp — the CUDA engine starting step N+1 before step N's
// tokens reach the host (ModelRunner overlap: N+1's decode tokens fed from N's samples on the
// device, Philox counters and min_new_tokens counting the uncollected samples) gives exactly
// the tokens of the engine that waits for every step (--disable-overlap): greedy, seeded
// sampling, min_new_tokens, logprobs, penalties (not started early) and top_logprobs (host
// sampling), each request alone so that both engines run the same batches bit for bit. Then
// many requests at once all complete, and the device idle time between back-to-back steps is
// measured (printed: a benchmark figure, not asserted).
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine_harness.h"
#include "lightllm/engine.h"

namespace lightllm {
namespace {

using test_util::Completion;

const std::string kBundled = std::string(LIGHTLLM_SOURCE_DIR) + "/models/lightllm-tiny-en";

std::vector<GenerateRequest> requests() {
  const std::vector<std::string> prompts = {
      "Once upon a time, there was a little girl named Lily.",
      "The cat sat on the mat and looked at the big red ball.",
      "Tom and his mom went to the park.",
      "One day, a bird flew over the tall tree near the river and saw",
      "She was happy.",
      "The dog ran fast."};
  std::vector<GenerateRequest> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateRequest r;
    r.prompt = prompts[i];
    r.params.max_new_tokens = 24 + 7 * static_cast<int>(i);
    reqs.push_back(r);
  }
  reqs[0].params.ignore_eos = true;  // greedy, full length
  reqs[1].params.do_sample = true;   // seeded sampling
  reqs[1].params.temperature = 0.9f;
  reqs[1].params.top_p = 0.95f;
  reqs[1].params.seed = 1234;
  reqs[2].params.do_sample = true;  // seeded, EOS masked until min_new_tokens
  reqs[2].params.seed = 99;
  reqs[2].params.min_new_tokens = 20;
  reqs[3].params.return_logprobs = true;  // greedy with logprobs
  reqs[3].params.ignore_eos = true;
  reqs[4].params.repetition_penalty = 1.3f;  // penalties: never started before the last finishes
  reqs[4].params.frequency_penalty = 0.2f;
  reqs[4].params.ignore_eos = true;
  reqs[5].params.top_logprobs = 2;  // host sampling
  reqs[5].params.return_logprobs = true;
  return reqs;
}

std::unique_ptr<Engine> cuda_engine(bool overlap) {
  EngineConfig cfg;
  cfg.model_dir = kBundled;
  cfg.device = "cuda";
  cfg.mem_fraction = 0.05;
  cfg.disable_overlap = !overlap;
  return test_util::make_engine(cfg);
}

TEST(CudaEngineOverlap, SameTokensAsWaitingForEveryStep) {
  auto overlapped = cuda_engine(true);
  auto waiting = cuda_engine(false);
  ASSERT_NE(overlapped, nullptr);
  ASSERT_NE(waiting, nullptr);
  const std::vector<GenerateRequest> reqs = requests();
  const std::vector<Completion> a = test_util::run_one_by_one(*overlapped, reqs);
  const std::vector<Completion> b = test_util::run_one_by_one(*waiting, reqs);
  ASSERT_EQ(a.size(), reqs.size());
  ASSERT_EQ(b.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    EXPECT_TRUE(a[i].error.empty()) << a[i].error;
    EXPECT_FALSE(a[i].ids.empty());
    EXPECT_EQ(a[i].ids, b[i].ids);
    EXPECT_EQ(a[i].reason, b[i].reason);
    EXPECT_EQ(a[i].text, b[i].text);
    ASSERT_EQ(a[i].top.size(), b[i].top.size());
    for (size_t t = 0; t < a[i].top.size(); ++t) {
      ASSERT_EQ(a[i].top[t].size(), b[i].top[t].size());
      for (size_t k = 0; k < a[i].top[t].size(); ++k)
        EXPECT_EQ(a[i].top[t][k].id, b[i].top[t][k].id);
    }
  }
  EXPECT_EQ(a[0].ids.size(), static_cast<size_t>(reqs[0].params.max_new_tokens));
  EXPECT_GE(a[2].ids.size(), 20u);  // min_new_tokens
  const EngineStats so = overlapped->stats(), sw = waiting->stats();
  EXPECT_GT(so.device_idle.steps, 0u);
  EXPECT_GT(sw.device_idle.steps, 0u);
  for (const EngineStats* st : {&so, &sw}) {  // decode steps ran from captured graphs
    EXPECT_GE(st->cuda_graphs_captured, 1u);
    EXPECT_GT(st->cuda_graph_replays, st->cuda_graphs_captured);
    EXPECT_GE(st->device_idle.max_step, 1u);
    EXPECT_GT(st->device_idle.max_prefill_tokens + st->device_idle.max_decode_tokens, 0);
  }
  std::printf(
      "device waiting for the host between back-to-back steps (bundled model, one request): "
      "overlap %.1f us "
      "mean / %.1f max over %llu steps; waiting %.1f us mean / %.1f max over %llu steps\n",
      so.device_idle.total_us / static_cast<double>(so.device_idle.steps), so.device_idle.max_us,
      static_cast<unsigned long long>(so.device_idle.steps),
      sw.device_idle.total_us / static_cast<double>(sw.device_idle.steps), sw.device_idle.max_us,
      static_cast<unsigned long long>(sw.device_idle.steps));
}

// Many requests at once (mixed steps, requests finishing while the next step is queued, aborts
// by stop strings): every request ends exactly once, without errors, at its length.
TEST(CudaEngineOverlap, ManyConcurrentRequestsAllComplete) {
  auto engine = cuda_engine(true);
  ASSERT_NE(engine, nullptr);
  std::vector<GenerateRequest> reqs;
  for (int rep = 0; rep < 8; ++rep)
    for (GenerateRequest r : requests()) {
      r.params.max_new_tokens += rep;
      if (rep % 3 == 1) r.params.stop_sequences = {"."};
      reqs.push_back(r);
    }
  const std::vector<Completion> out = test_util::run_batch(*engine, reqs);
  ASSERT_EQ(out.size(), reqs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    EXPECT_EQ(out[i].finished_events, 1);
    EXPECT_TRUE(out[i].error.empty()) << out[i].error;
    EXPECT_LE(out[i].ids.size(), static_cast<size_t>(reqs[i].params.max_new_tokens));
    if (reqs[i].params.ignore_eos && reqs[i].params.stop_sequences.empty()) {
      EXPECT_EQ(out[i].ids.size(), static_cast<size_t>(reqs[i].params.max_new_tokens));
    }
  }
  const EngineStats s = test_util::wait_idle(*engine);
  EXPECT_EQ(s.kv_used, 0);
  EXPECT_EQ(s.running, 0);
}

}  // namespace
}  // namespace lightllm
