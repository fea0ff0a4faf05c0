// src/cli/bench_serving.cpp — `lightllm bench serving` and `lightllm bench int8`: serving
// throughput and latency through the in-process Engine API (timings, never pass/fail).
//
//  serving: N requests (random prompt and output lengths, seeded; ignore_eos, so every request
//           produces exactly its output length) submitted all at once to one engine; prints
//           output and total tokens/s, TTFT and TPOT p50/p99 and the same in one JSON line
//           (`{"bench": "serving", ...}`). Engine start-up is not timed.
//  int8:    (1) the KV token capacity with int8 vs the default 16-bit KV at the same
//           --mem-fraction (one engine each, their kv_total), and (2) a KV-bound serving run
//           of each: the pool is cut to the bytes of --kv-budget-tokens 16-bit tokens (int8
//           gets as many slots as fit in the same bytes), so admission is limited by the pool.
// Defaults are device-dependent: on the CPU they are small enough for the bundled model.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cli/bench_report.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "kv/kv_sizing.h"
#include "lightllm/engine.h"
#include "models/loader/model_config.h"
#include "ops/ops.h"

namespace lightllm::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct ServingOptions {
  EngineConfig engine;
  WorkloadSpec work{
      .num_requests = -1, .min_input = -1, .max_input = -1, .min_output = -1, .max_output = -1};
  int64_t kv_budget_tokens = 0;  // int8 only: 16-bit KV tokens of the KV-bound runs
};

// Fills the -1 defaults: the workload on CUDA, a small one on the CPU.
void resolve_defaults(ServingOptions& o, int cpu_requests, int gpu_requests) {
  const bool gpu = o.engine.device == "cuda";
  WorkloadSpec& w = o.work;
  if (w.num_requests < 0) w.num_requests = gpu ? gpu_requests : cpu_requests;
  if (w.min_input < 0) w.min_input = gpu ? 128 : 16;
  if (w.max_input < 0) w.max_input = gpu ? 1024 : 64;
  if (w.min_output < 0) w.min_output = gpu ? 128 : 8;
  if (w.max_output < 0) w.max_output = gpu ? 512 : 32;
  if (o.engine.model_dir.empty()) o.engine.model_dir = default_model_dir();
}

std::string device_name(const EngineConfig& cfg) {
  if (cfg.device != "cuda") return "cpu";
  auto name = ops::cuda_device_name();
  return name.ok() ? *name : "cuda (" + name.status().message() + ")";
}

void print_header(const char* what, const EngineConfig& cfg, const std::string& dev) {
  std::printf("lightllm bench %s\n  date: %s\n  command: %s\n  device: %s\n  model: %s\n", what,
              utc_now().c_str(), command_line().c_str(), dev.c_str(), cfg.model_dir.c_str());
}

bool check_workload(const WorkloadSpec& w, const char* cmd) {
  if (w.num_requests < 1 || w.min_input < 1 || w.max_input < w.min_input || w.min_output < 1 ||
      w.max_output < w.min_output) {
    std::fprintf(stderr,
                 "lightllm bench %s: need --num-requests >= 1, 1 <= --min-input <= --max-input, "
                 "1 <= --min-output <= --max-output\n",
                 cmd);
    return false;
  }
  return true;
}

struct ServingRun {
  std::vector<RequestTiming> timings;
  EngineStats stats;
  std::string error;
};

// All of `reqs` at once on `engine`; waits for every final event.
ServingRun run_serving(Engine& engine, const std::vector<GenerateRequest>& reqs) {
  ServingRun run;
  run.timings.resize(reqs.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  const Clock::time_point t0 = Clock::now();
  auto now = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  for (size_t i = 0; i < reqs.size(); ++i) {
    RequestTiming& t = run.timings[i];
    t.prompt_tokens = static_cast<int64_t>(reqs[i].prompt_ids.size());
    const int want = reqs[i].params.max_new_tokens;
    {
      std::lock_guard lock(mu);  // the callback may run before submit() returns
      t.submit_s = now();
    }
    auto on_event = [&, want, i](const StreamEvent& ev) {
      const double ts = now();
      std::lock_guard lock(mu);
      RequestTiming& r = run.timings[i];
      if (!ev.tokens.empty()) {
        if (r.output_tokens == 0) r.first_token_s = ts;
        r.last_token_s = ts;
        r.output_tokens += static_cast<int64_t>(ev.tokens.size());
      }
      if (ev.finished) {
        r.finish_s = ts;
        r.failed = ev.finish_reason != FinishReason::length || r.output_tokens != want;
        if (ev.finish_reason == FinishReason::error && run.error.empty()) run.error = ev.error;
        ++done;
        cv.notify_all();
      }
    };
    std::string err;
    if (engine.submit(reqs[i], on_event, &err) == 0) {
      std::lock_guard lock(mu);
      t.failed = true;
      t.finish_s = now();
      if (run.error.empty()) run.error = "submit: " + err;
      ++done;
    }
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done == reqs.size(); });
  run.stats = engine.stats();
  return run;
}

// One engine with `cfg`, the workload through it; prints the summary and the JSON line.
int serve_and_report(const EngineConfig& cfg, const WorkloadSpec& w, const std::string& label,
                     const std::vector<std::pair<std::string, std::string>>& extra,
                     ServingSummary* out = nullptr) {
  std::string error;
  std::unique_ptr<Engine> engine = Engine::create(cfg, &error);
  if (!engine) {
    std::fprintf(stderr, "lightllm bench %s: %s\n", label.c_str(), error.c_str());
    return kExitFailure;
  }
  const std::vector<GenerateRequest> reqs = random_workload(w, engine->model_info().vocab_size);
  const int64_t kv_total = engine->stats().kv_total;
  ServingRun run = run_serving(*engine, reqs);
  engine->shutdown();
  const ServingSummary s = summarize(run.timings);
  std::printf("%s", format_summary(label, s).c_str());
  std::printf("  KV pool %lld tokens, %llu steps, %llu pauses\n", static_cast<long long>(kv_total),
              static_cast<unsigned long long>(run.stats.steps),
              static_cast<unsigned long long>(run.stats.pauses));
  if (run.stats.device_idle.steps > 0)
    std::printf(
        "  device waiting for the host between steps: %.1f us mean, %.1f us max (%llu steps; the "
        "longest before step %llu: %lld prefill + %lld decode tokens)\n",
        run.stats.device_idle.total_us / static_cast<double>(run.stats.device_idle.steps),
        run.stats.device_idle.max_us, static_cast<unsigned long long>(run.stats.device_idle.steps),
        static_cast<unsigned long long>(run.stats.device_idle.max_step),
        static_cast<long long>(run.stats.device_idle.max_prefill_tokens),
        static_cast<long long>(run.stats.device_idle.max_decode_tokens));
  if (run.stats.cuda_graphs_captured > 0)
    std::printf("  CUDA graphs: %llu captured, %llu replays\n",
                static_cast<unsigned long long>(run.stats.cuda_graphs_captured),
                static_cast<unsigned long long>(run.stats.cuda_graph_replays));
  auto fields = extra;
  fields.push_back({"kv_cache_dtype", cfg.kv_cache_dtype});
  fields.push_back({"kv_tokens", std::to_string(kv_total)});
  fields.push_back(
      {"workload", fmt::format("{} req, in {}-{}, out {}-{}, seed {}", w.num_requests, w.min_input,
                               w.max_input, w.min_output, w.max_output, w.seed)});
  std::printf("%s\n", summary_json(label, s, fields).c_str());
  std::fflush(stdout);
  if (out) *out = s;
  if (s.failed > 0) {
    std::fprintf(stderr, "lightllm bench %s: %lld of %lld requests failed (%s)\n", label.c_str(),
                 static_cast<long long>(s.failed), static_cast<long long>(s.requests),
                 run.error.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

int run_serving_bench(ServingOptions o) {
  resolve_defaults(o, 8, 1000);
  if (!check_workload(o.work, "serving")) return kExitBadInput;
  const std::string dev = device_name(o.engine);
  print_header("serving", o.engine, dev);
  return serve_and_report(o.engine, o.work, "serving",
                          {{"device", dev}, {"model", o.engine.model_dir}, {"date", utc_now()}});
}

// The pool a fresh engine with `cfg` sizes (kv_total), or -1 after printing the error.
int64_t pool_tokens(const EngineConfig& cfg) {
  std::string error;
  std::unique_ptr<Engine> engine = Engine::create(cfg, &error);
  if (!engine) {
    std::fprintf(stderr, "lightllm bench int8 (--kv-cache-dtype %s): %s\n",
                 cfg.kv_cache_dtype.c_str(), error.c_str());
    return -1;
  }
  const int64_t n = engine->stats().kv_total;
  engine->shutdown();
  return n;
}

int run_int8_bench(ServingOptions o) {
  resolve_defaults(o, 8, 300);
  if (!check_workload(o.work, "int8")) return kExitBadInput;
  const std::string dev = device_name(o.engine);
  print_header("int8", o.engine, dev);
  auto cfg_json = loader::load_model_config(o.engine.model_dir + "/config.json");
  if (!cfg_json.ok()) {
    std::fprintf(stderr, "lightllm bench int8: %s\n", cfg_json.status().to_string().c_str());
    return kExitFailure;
  }
  const kv::KvShape shape{cfg_json->num_hidden_layers, cfg_json->num_key_value_heads,
                          cfg_json->head_dim};
  const kv::KvDType k16{core::DType::bf16}, k8{core::DType::i8, core::DType::f32};

  // (1) capacity at the same --mem-fraction (or --max-total-token-num if given: then equal).
  EngineConfig a = o.engine, b = o.engine;
  a.kv_cache_dtype = "bf16";
  b.kv_cache_dtype = "int8";
  const int64_t cap16 = pool_tokens(a);
  const int64_t cap8 = cap16 < 0 ? -1 : pool_tokens(b);
  int rc = kExitOk;
  if (cap16 > 0 && cap8 > 0) {
    std::printf("capacity at --mem-fraction %.2f: bf16 %lld tokens, int8 %lld tokens: %.3fx\n",
                o.engine.mem_fraction, static_cast<long long>(cap16), static_cast<long long>(cap8),
                static_cast<double>(cap8) / static_cast<double>(cap16));
    std::printf(
        "{\"bench\":\"int8_capacity\",\"device\":%s,\"bf16_tokens\":%lld,"
        "\"int8_tokens\":%lld,\"ratio\":%.4f}\n",
        json_string(dev).c_str(), static_cast<long long>(cap16), static_cast<long long>(cap8),
        static_cast<double>(cap8) / static_cast<double>(cap16));
  } else {
    rc = kExitFailure;
  }

  // (2) KV-bound serving: the same KV bytes for both.
  const int64_t budget16 =
      o.kv_budget_tokens > 0 ? o.kv_budget_tokens : (o.engine.device == "cuda" ? 32768 : 2048);
  auto bpt16 = kv::bytes_per_token(shape, k16);
  if (!bpt16.ok()) {
    std::fprintf(stderr, "lightllm bench int8: %s\n", bpt16.status().to_string().c_str());
    return kExitFailure;
  }
  auto tokens8 = kv::tokens_for_bytes(budget16 * *bpt16, shape, k8);
  if (!tokens8.ok()) {
    std::fprintf(stderr, "lightllm bench int8: %s\n", tokens8.status().to_string().c_str());
    return kExitFailure;
  }
  std::printf("KV-bound runs: %lld MiB of KV = %lld bf16 tokens or %lld int8 tokens\n",
              static_cast<long long>((budget16 * *bpt16) >> 20), static_cast<long long>(budget16),
              static_cast<long long>(*tokens8));
  a.max_total_token_num = budget16;
  b.max_total_token_num = *tokens8;
  ServingSummary s16, s8;
  const std::vector<std::pair<std::string, std::string>> extra = {
      {"device", dev}, {"model", o.engine.model_dir}, {"date", utc_now()}};
  const int rc16 = serve_and_report(a, o.work, "serving_kv_bound_bf16", extra, &s16);
  const int rc8 = serve_and_report(b, o.work, "serving_kv_bound_int8", extra, &s8);
  if (rc16 == kExitOk && rc8 == kExitOk && s16.output_tok_per_s > 0)
    std::printf("KV-bound output throughput int8 / bf16: %.3fx\n",
                s8.output_tok_per_s / s16.output_tok_per_s);
  std::printf("load average: %s\n", load_average().c_str());
  return rc != kExitOk ? rc : (rc16 != kExitOk ? rc16 : rc8);
}

void add_workload_flags(CLI::App& cmd, ServingOptions& o) {
  add_engine_flags(cmd, o.engine);
  cmd.add_option("--num-requests", o.work.num_requests,
                 "Requests (default: 1000 on cuda (300 for int8), 8 on cpu)");
  cmd.add_option("--min-input", o.work.min_input, "Shortest prompt (default 128 cuda, 16 cpu)");
  cmd.add_option("--max-input", o.work.max_input, "Longest prompt (default 1024 cuda, 64 cpu)");
  cmd.add_option("--min-output", o.work.min_output, "Shortest output (default 128 cuda, 8 cpu)");
  cmd.add_option("--max-output", o.work.max_output, "Longest output (default 512 cuda, 32 cpu)");
  cmd.add_option("--seed", o.work.seed, "Workload seed")->capture_default_str();
}

}  // namespace

void add_bench_serving_commands(CLI::App& bench, int& exit_code) {
  auto* srv = bench.add_subcommand(
      "serving", "N random requests at once through the engine: tokens/s, TTFT, TPOT");
  auto so = std::make_shared<ServingOptions>();
  add_workload_flags(*srv, *so);
  srv->callback([so, &exit_code] { exit_code = run_serving_bench(*so); });

  auto* i8 = bench.add_subcommand(
      "int8", "int8 vs 16-bit KV: capacity at the same --mem-fraction, KV-bound serving");
  auto io = std::make_shared<ServingOptions>();
  add_workload_flags(*i8, *io);
  i8->add_option("--kv-budget-tokens", io->kv_budget_tokens,
                 "KV-bound runs: pool bytes of this many bf16 tokens (default 32768 cuda, 2048 "
                 "cpu); int8 gets the same bytes");
  i8->callback([io, &exit_code] { exit_code = run_int8_bench(*io); });
}

}  // namespace lightllm::cli
