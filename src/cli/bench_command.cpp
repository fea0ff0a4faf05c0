// src/cli/bench_command.cpp — `lightllm bench offline|decode` (and the registration of
// `serving` / `int8` from bench_serving.cpp): the offline benchmarks of DESIGN.md §7 (timings,
// never pass/fail; figures go to docs/PERFORMANCE.md with the command).
//
//  offline: N greedy requests (random prompt lengths, fixed output length, EOS ignored) through
//           the Engine all at once, then the same requests one at a time (each on a fresh engine,
//           so the prefix cache cannot help either run). Prints output tokens/s both ways, the
//           ratio, and the router thread's bookkeeping time (commands, plan, commit, events)
//           against its model-step time (EngineStats::router_seconds / step_seconds).
//  decode:  batch-1 decode of a model folder through the Engine (one request at a time, as a
//           user sees it: device sampling, CUDA graphs and step overlap per the engine flags),
//           next to the memory-bandwidth bound: bytes read per step (weights + the K/V of the
//           context) / copy bandwidth measured in the same process (STREAM convention: read +
//           written bytes per second; CPU: memcpy with the same threads, CUDA: device-to-device
//           cudaMemcpy), and on CUDA also against the card's peak HBM bandwidth (data sheet).
//           On CUDA it also prints the time the device waited for the host between steps
//           (EngineStats).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/bench_report.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "lightllm/engine.h"
#include "ops/ops.h"

namespace lightllm::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// --- offline ------------------------------------------------------------------------------

struct OfflineOptions {
  EngineConfig engine;
  int num_requests = 64;
  int min_prompt_len = 8;
  int max_prompt_len = 128;
  int output_len = 64;
  int serial_requests = -1;  // how many to run one at a time; -1 = all
  uint32_t seed = 0;
};

struct RunResult {
  double seconds = 0;
  int64_t output_tokens = 0;
  EngineStats stats;
  std::string error;
};

// Runs `reqs` on a fresh engine: all submitted at once (`together`) or each after the previous
// one finished.
RunResult run_requests(const EngineConfig& cfg, const std::vector<GenerateRequest>& reqs,
                       bool together) {
  RunResult res;
  std::unique_ptr<Engine> engine = Engine::create(cfg, &res.error);
  if (!engine) return res;
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  auto on_event = [&](const StreamEvent& ev) {
    std::lock_guard lock(mu);
    res.output_tokens += static_cast<int64_t>(ev.tokens.size());
    if (ev.finished) {
      if (ev.finish_reason == FinishReason::error) res.error = ev.error;
      ++done;
      cv.notify_all();
    }
  };
  const Clock::time_point t0 = Clock::now();
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (engine->submit(reqs[i], on_event, &res.error) == 0) return res;
    if (!together) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done == i + 1; });
    }
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == reqs.size(); });
  }
  res.seconds = seconds_since(t0);
  res.stats = engine->stats();
  engine->shutdown();
  return res;
}

void print_run(const char* name, const RunResult& r) {
  const double step_ms = r.stats.steps ? 1e3 * r.stats.step_seconds / r.stats.steps : 0;
  const double router_ms = r.stats.steps ? 1e3 * r.stats.router_seconds / r.stats.steps : 0;
  std::printf(
      "%-10s %8.2f s  %8lld tokens  %9.1f tok/s  %6llu steps  step %.3f ms  router %.4f ms "
      "(%.2f%% of step time)\n",
      name, r.seconds, static_cast<long long>(r.output_tokens), r.output_tokens / r.seconds,
      static_cast<unsigned long long>(r.stats.steps), step_ms, router_ms,
      r.stats.step_seconds > 0 ? 100.0 * r.stats.router_seconds / r.stats.step_seconds : 0);
}

int run_offline(const OfflineOptions& opt) {
  EngineConfig cfg = opt.engine;
  if (cfg.model_dir.empty()) cfg.model_dir = default_model_dir();
  if (opt.num_requests < 1 || opt.min_prompt_len < 1 || opt.max_prompt_len < opt.min_prompt_len ||
      opt.output_len < 1) {
    std::fprintf(stderr,
                 "lightllm bench offline: need --num-requests >= 1, 1 <= --min-prompt-len "
                 "<= --max-prompt-len, --output-len >= 1\n");
    return kExitBadInput;
  }
  std::string error;
  int64_t vocab = 0;
  {
    std::unique_ptr<Engine> probe = Engine::create(cfg, &error);
    if (!probe) {
      std::fprintf(stderr, "lightllm bench offline: %s\n", error.c_str());
      return kExitFailure;
    }
    vocab = probe->model_info().vocab_size;
    std::printf("model %s (%s), %d requests, prompts %d..%d tokens, %d output tokens each\n",
                probe->model_info().name.c_str(), probe->model_info().architecture.c_str(),
                opt.num_requests, opt.min_prompt_len, opt.max_prompt_len, opt.output_len);
  }
  std::mt19937 rng(opt.seed);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < opt.num_requests; ++i) {
    GenerateRequest r;
    const int len = std::uniform_int_distribution<int>(opt.min_prompt_len, opt.max_prompt_len)(rng);
    for (int t = 0; t < len; ++t)
      r.prompt_ids.push_back(std::uniform_int_distribution<int32_t>(
          std::min<int32_t>(3, static_cast<int32_t>(vocab - 1)),
          static_cast<int32_t>(vocab - 1))(rng));
    r.params.do_sample = false;
    r.params.max_new_tokens = opt.output_len;
    r.params.min_new_tokens = 1;
    r.params.ignore_eos = true;
    reqs.push_back(std::move(r));
  }
  const RunResult batched = run_requests(cfg, reqs, true);
  if (!batched.error.empty()) {
    std::fprintf(stderr, "lightllm bench offline: %s\n", batched.error.c_str());
    return kExitFailure;
  }
  const size_t n_serial = opt.serial_requests < 0
                              ? reqs.size()
                              : std::min(reqs.size(), static_cast<size_t>(opt.serial_requests));
  std::vector<GenerateRequest> serial_reqs(reqs.begin(),
                                           reqs.begin() + static_cast<long>(n_serial));
  RunResult serial;
  if (n_serial > 0) {
    serial = run_requests(cfg, serial_reqs, false);
    if (!serial.error.empty()) {
      std::fprintf(stderr, "lightllm bench offline: %s\n", serial.error.c_str());
      return kExitFailure;
    }
  }
  print_run("together", batched);
  if (n_serial > 0) {
    print_run("one-by-one", serial);
    if (n_serial < reqs.size())
      std::printf("(one-by-one ran the first %zu of %zu requests)\n", n_serial, reqs.size());
    std::printf(
        "throughput ratio together / one-by-one: %.2fx\n",
        (batched.output_tokens / batched.seconds) / (serial.output_tokens / serial.seconds));
  }
  std::printf("load average: %s\n", load_average().c_str());
  return kExitOk;
}

// --- decode -------------------------------------------------------------------------------

struct DecodeOptions {
  EngineConfig engine;  // --model, --device and the other engine flags
  int prompt_len = 32;
  int tokens = 128;
  int repeats = 3;
  int64_t copy_mib = 1024;
};

// Multi-threaded copy bandwidth (bytes read + written per second), best of `repeats`.
double copy_bandwidth(int64_t bytes, int repeats) {
  std::vector<char> src(static_cast<size_t>(bytes)), dst(static_cast<size_t>(bytes));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < bytes; i += 4096) {  // touch the pages from the threads that copy
    src[static_cast<size_t>(i)] = static_cast<char>(i);
    dst[static_cast<size_t>(i)] = 0;
  }
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const Clock::time_point t0 = Clock::now();
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t lo = bytes * t / nt, hi = bytes * (t + 1) / nt;
      std::memcpy(dst.data() + lo, src.data() + lo, static_cast<size_t>(hi - lo));
    }
    best = std::max(best, 2.0 * static_cast<double>(bytes) / seconds_since(t0));
  }
  volatile char sink = dst[static_cast<size_t>(bytes / 2)];
  (void)sink;
  return best;
}

// Copy bandwidth (bytes/s, read + written) where the model runs; 0 after printing why not.
double device_copy_bandwidth(const DecodeOptions& opt) {
  if (opt.engine.device != "cuda") return copy_bandwidth(opt.copy_mib << 20, 5);
  auto bw = ops::cuda_copy_bandwidth(opt.copy_mib << 20, 10);
  if (!bw.ok()) {
    std::fprintf(stderr, "lightllm bench decode: copy bandwidth: %s\n",
                 bw.status().to_string().c_str());
    return 0;
  }
  return *bw;
}

// One request of `prompt` ids decoding `tokens` greedy tokens (EOS ignored) through `engine`;
// returns each token's arrival time (the output thread's event time), or empty on error.
std::vector<Clock::time_point> decode_one(Engine& engine, const std::vector<int32_t>& prompt,
                                          int tokens) {
  GenerateRequest req;
  req.prompt_ids = prompt;
  req.params.max_new_tokens = tokens;
  req.params.ignore_eos = true;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Clock::time_point> arrivals;
  bool done = false;
  std::string error;
  const uint64_t id = engine.submit(
      req,
      [&](const StreamEvent& ev) {
        const Clock::time_point now = Clock::now();
        std::lock_guard lock(mu);
        for (size_t i = 0; i < ev.tokens.size(); ++i) arrivals.push_back(now);
        if (!ev.error.empty()) error = ev.error;
        if (ev.finished) done = true;
        cv.notify_all();
      },
      &error);
  if (id == 0) {
    std::fprintf(stderr, "lightllm bench decode: %s\n", error.c_str());
    return {};
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!error.empty() || static_cast<int>(arrivals.size()) != tokens) {
    std::fprintf(stderr, "lightllm bench decode: %zu of %d tokens; %s\n", arrivals.size(), tokens,
                 error.c_str());
    return {};
  }
  return arrivals;
}

int run_decode(const DecodeOptions& opt) {
  EngineConfig cfg = opt.engine;
  if (cfg.model_dir.empty()) cfg.model_dir = default_model_dir();
  const bool on_cuda = cfg.device == "cuda";
  const int64_t capacity = opt.prompt_len + opt.tokens;
  if (opt.prompt_len < 1 || opt.tokens < 2 || opt.repeats < 1) {
    std::fprintf(stderr,
                 "lightllm bench decode: need 1 <= --prompt-len, 2 <= --tokens, 1 <= --repeats\n");
    return kExitBadInput;
  }
  std::string dev_name = fmt::format("cpu ({} threads)", omp_get_max_threads());
  if (on_cuda) {
    auto name = ops::cuda_device_name();
    if (!name.ok()) {
      std::fprintf(stderr, "lightllm bench decode: %s\n", name.status().to_string().c_str());
      return kExitFailure;
    }
    dev_name = *name;
  }
  std::printf("lightllm bench decode\n  date: %s\n  command: %s\n  device: %s\n", utc_now().c_str(),
              command_line().c_str(), dev_name.c_str());
  // One request at a time: a pool for it, fresh prompts (no prefix-cache hits).
  if (cfg.max_total_token_num == 0) cfg.max_total_token_num = capacity;
  if (cfg.max_req_total_len == 0) cfg.max_req_total_len = capacity;
  cfg.disable_prefix_cache = true;
  std::string error;
  std::unique_ptr<Engine> engine = Engine::create(cfg, &error);
  if (!engine) {
    std::fprintf(stderr, "lightllm bench decode: %s\n", error.c_str());
    return kExitFailure;
  }
  const ModelInfo info = engine->model_info();
  // Bytes one step reads: every weight once (but of a look-up-only embedding table only the
  // token's row), and the K/V of its context (mean over the run).
  const double weight_bytes = static_cast<double>(info.decode_weight_bytes);
  const double mean_context = opt.prompt_len + (opt.tokens + 1) / 2.0;
  const double step_bytes =
      weight_bytes + mean_context * static_cast<double>(info.kv_bytes_per_token);
  // On a shared machine the bandwidth varies with the neighbours' load: measure it before and
  // after the decode runs and take the best, so the bound is not understated.
  const double bw_before = device_copy_bandwidth(opt);
  std::printf(
      "model %s: %s, vocab %lld, %.1f MiB of weights (%.1f MiB read by a decode step), KV %lld "
      "bytes/token; through the engine (%s sampling, CUDA graphs %s, overlap %s)\n",
      cfg.model_dir.c_str(), info.dtype.c_str(), static_cast<long long>(info.vocab_size),
      static_cast<double>(info.weight_bytes) / (1 << 20), weight_bytes / (1 << 20),
      static_cast<long long>(info.kv_bytes_per_token), on_cuda ? "device" : "host",
      on_cuda && !cfg.disable_cuda_graph ? "on" : "off",
      on_cuda && !cfg.disable_overlap ? "on" : "off");

  std::mt19937 rng(1);
  double best_tps = 0;
  std::vector<double> step_ms;
  for (int r = 0; r < opt.repeats; ++r) {
    std::vector<int32_t> prompt(static_cast<size_t>(opt.prompt_len));
    for (auto& t : prompt)
      t = std::uniform_int_distribution<int32_t>(0, static_cast<int32_t>(info.vocab_size - 1))(rng);
    const EngineStats before = engine->stats();
    const std::vector<Clock::time_point> at = decode_one(*engine, prompt, opt.tokens);
    if (at.empty()) return kExitFailure;
    const EngineStats after = engine->stats();
    // Decode rate: the tokens after the first (which ends the prefill) over their span.
    const double span = std::chrono::duration<double>(at.back() - at.front()).count();
    const double tps = (opt.tokens - 1) / span;
    best_tps = std::max(best_tps, tps);
    for (size_t i = 1; i < at.size(); ++i)
      if (at[i] > at[i - 1])
        step_ms.push_back(1e3 * std::chrono::duration<double>(at[i] - at[i - 1]).count());
    const uint64_t idle_steps = after.device_idle.steps - before.device_idle.steps;
    std::printf("run %d: %d decode steps (context %d..%lld): %.1f tok/s, %.3f ms/token", r + 1,
                opt.tokens - 1, opt.prompt_len + 1, static_cast<long long>(capacity), tps,
                1e3 / tps);
    if (idle_steps > 0)
      std::printf("; device waiting for the host %.1f us mean over %llu steps",
                  (after.device_idle.total_us - before.device_idle.total_us) /
                      static_cast<double>(idle_steps),
                  static_cast<unsigned long long>(idle_steps));
    std::printf("\n");
  }
  const double bw_after = device_copy_bandwidth(opt);
  const double bw = std::max(bw_before, bw_after);
  std::sort(step_ms.begin(), step_ms.end());
  const double median_ms = step_ms.empty() ? 0.0 : step_ms[step_ms.size() / 2];
  const double achieved = best_tps * step_bytes;  // bytes/s
  std::printf("median step %.3f ms (%.1f tok/s); best run %.1f tok/s\n", median_ms,
              median_ms > 0 ? 1e3 / median_ms : 0.0, best_tps);
  std::printf("bytes per step: %.1f MiB (weights %.1f MiB + K/V of %.0f tokens)\n",
              step_bytes / (1 << 20), weight_bytes / (1 << 20), mean_context);
  std::printf(
      "copy bandwidth (read+write, %lld MiB buffers): %.2f GB/s before, %.2f GB/s after "
      "-> bound %.1f tok/s\n",
      static_cast<long long>(opt.copy_mib), bw_before / 1e9, bw_after / 1e9,
      bw > 0 ? bw / step_bytes : 0.0);
  std::printf("achieved %.2f GB/s = %.1f%% of the copy bandwidth", achieved / 1e9,
              bw > 0 ? 100.0 * achieved / bw : 0.0);
  std::string peak_json = "null";
  if (on_cuda) {
    const std::optional<double> peak = peak_hbm_bandwidth(dev_name);
    if (peak) {
      std::printf(", %.1f%% of the peak HBM bandwidth (%.2f TB/s)", 100.0 * achieved / *peak,
                  *peak / 1e12);
      peak_json = fmt::format("{:.4f}", 100.0 * achieved / *peak);
    } else {
      std::printf(" (no peak HBM figure for \"%s\" in bench_report.cpp)", dev_name.c_str());
    }
  }
  const EngineStats st = engine->stats();
  const double idle_mean = st.device_idle.steps > 0
                               ? st.device_idle.total_us / static_cast<double>(st.device_idle.steps)
                               : -1.0;
  if (st.device_idle.steps > 0)
    std::printf(
        "\ndevice waiting for the host between steps: %.1f us mean, %.1f us max (%llu steps)",
        idle_mean, st.device_idle.max_us, static_cast<unsigned long long>(st.device_idle.steps));
  std::printf(
      "\n{\"bench\":\"decode\",\"device\":%s,\"model\":%s,\"tok_per_s\":%.2f,"
      "\"median_step_ms\":%.4f,\"achieved_gb_s\":%.2f,\"pct_copy_bw\":%.2f,"
      "\"pct_peak_hbm\":%s,\"device_idle_us_mean\":%.2f}\n",
      json_string(dev_name).c_str(), json_string(cfg.model_dir).c_str(), best_tps, median_ms,
      achieved / 1e9, bw > 0 ? 100.0 * achieved / bw : 0.0, peak_json.c_str(), idle_mean);
  std::printf("load average: %s\n", load_average().c_str());
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Offline benchmarks (figures for docs/PERFORMANCE.md)");
  bench->require_subcommand(1);

  auto* off = bench->add_subcommand("offline", "N requests all at once vs one at a time");
  auto oo = std::make_shared<OfflineOptions>();
  add_engine_flags(*off, oo->engine);
  off->add_option("--num-requests", oo->num_requests, "Requests")->capture_default_str();
  off->add_option("--min-prompt-len", oo->min_prompt_len, "Shortest prompt (tokens)")
      ->capture_default_str();
  off->add_option("--max-prompt-len", oo->max_prompt_len, "Longest prompt (tokens)")
      ->capture_default_str();
  off->add_option("--output-len", oo->output_len, "Generated tokens per request (EOS ignored)")
      ->capture_default_str();
  off->add_option("--serial-requests", oo->serial_requests,
                  "How many of the requests to also run one at a time (-1 = all, 0 = none)")
      ->capture_default_str();
  off->add_option("--seed", oo->seed, "Prompt generator seed")->capture_default_str();
  off->callback([oo, &exit_code] { exit_code = run_offline(*oo); });

  auto* dec =
      bench->add_subcommand("decode", "Batch-1 decode tokens/s vs the memory-bandwidth bound");
  auto od = std::make_shared<DecodeOptions>();
  add_engine_flags(*dec, od->engine);
  dec->add_option("--prompt-len", od->prompt_len, "Prompt tokens before decoding")
      ->capture_default_str();
  dec->add_option("--tokens", od->tokens, "Decode steps per run")->capture_default_str();
  dec->add_option("--repeats", od->repeats, "Runs (the best is reported)")->capture_default_str();
  dec->add_option("--copy-mib", od->copy_mib, "Buffer size of the copy-bandwidth test")
      ->capture_default_str();
  dec->callback([od, &exit_code] { exit_code = run_decode(*od); });

  add_bench_serving_commands(*bench, exit_code);
}

}  // namespace lightllm::cli
