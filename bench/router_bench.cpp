// bench/router_bench.cpp — router + KV bookkeeping time per step (plan() + commit()), with
// 64..256 running sequences in steady-state continuous batching: sequences finish at random
// lengths and new ones are admitted to keep the batch full, so admission, prefix-cache
// insert/match/evict and release are all in the measured path. The FakeRunner's own work
// (execute) is NOT counted. Compare the per-step figure with a model step time (the issue's
// goal: router + bookkeeping <= 5% of the step).
//
//   bench_router [steps=300] [prompt_len=128] [--no-cache]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "engine/fake_runner.h"
#include "engine/router/router.h"

using namespace lightllm;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  double mean_us, p50_us, p99_us, exec_mean_us;
  int64_t avg_batch;
};

Result run(int n_running, int steps, int prompt_len, bool cache) {
  engine::router::RouterConfig c;
  c.max_req_total_len = prompt_len + 256;
  c.max_total_tokens = static_cast<int64_t>(n_running) * c.max_req_total_len + 4096;
  c.running_max_req_size = n_running;
  c.batch_max_tokens = static_cast<int64_t>(prompt_len) * 8;
  c.enable_prefix_cache = cache;
  c.eos_token_ids = {0};
  engine::router::Router router(c);
  engine::testing::FakeRunner runner(c.max_total_tokens, 64);
  std::mt19937_64 rng(1);
  const std::vector<int32_t> system_prompt = [&] {
    std::vector<int32_t> p(static_cast<size_t>(prompt_len / 2));
    for (auto& t : p) t = 1 + static_cast<int32_t>(rng() % 63);
    return p;
  }();
  uint64_t next_id = 1;
  auto top_up = [&] {
    const auto st = router.stats();
    for (int i = st.running + st.waiting; i < n_running + 8; ++i) {
      engine::router::SequenceSpec s;
      s.seq_id = next_id++;
      s.prompt = system_prompt;  // half of every prompt is shared (prefix cache path)
      while (static_cast<int>(s.prompt.size()) < prompt_len) {
        s.prompt.push_back(1 + static_cast<int32_t>(rng() % 63));
      }
      s.params.max_new_tokens = 64 + static_cast<int>(rng() % 192);
      s.params.ignore_eos = true;
      if (!router.submit(std::move(s)).ok()) std::abort();
    }
  };
  std::vector<double> times;
  double exec_total = 0;
  int64_t batch_total = 0;
  const int warmup = 300;  // reach steady state: batch full, sequences at mixed lengths
  for (int step = 0; step < warmup + steps; ++step) {
    top_up();
    const auto t0 = Clock::now();
    auto plan = router.plan();
    const auto t1 = Clock::now();
    if (!plan.ok() || plan->empty()) std::abort();
    auto res = runner.execute(*plan);
    const auto t2 = Clock::now();
    if (!res.ok()) std::abort();
    if (!router.commit(*res).ok()) std::abort();
    (void)router.take_events();
    const auto t3 = Clock::now();
    if (step >= warmup) {
      times.push_back(std::chrono::duration<double, std::micro>((t1 - t0) + (t3 - t2)).count());
      exec_total += std::chrono::duration<double, std::micro>(t2 - t1).count();
      batch_total += static_cast<int64_t>(plan->entries.size());
    }
  }
  std::sort(times.begin(), times.end());
  double sum = 0;
  for (double t : times) sum += t;
  return {sum / static_cast<double>(times.size()), times[times.size() / 2],
          times[times.size() * 99 / 100], exec_total / static_cast<double>(times.size()),
          batch_total / static_cast<int64_t>(times.size())};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 300, prompt_len = 128;
  bool cache = true;
  int pos = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-cache") == 0) {
      cache = false;
    } else if (pos++ == 0) {
      steps = std::atoi(argv[i]);
    } else {
      prompt_len = std::atoi(argv[i]);
    }
  }
  std::printf("router + bookkeeping per step (plan + commit), prompt %d, prefix cache %s\n",
              prompt_len, cache ? "on" : "off");
  std::printf("%8s %10s %12s %10s %10s %16s\n", "running", "avg_batch", "mean_us", "p50_us",
              "p99_us", "fake_exec_us");
  for (int n : {64, 128, 256}) {
    const Result r = run(n, steps, prompt_len, cache);
    std::printf("%8d %10ld %12.1f %10.1f %10.1f %16.1f\n", n, static_cast<long>(r.avg_batch),
                r.mean_us, r.p50_us, r.p99_us, r.exec_mean_us);
  }
  return 0;
}
