// src/cli/bench_report.h — the host-side parts of `lightllm bench` that are plain arithmetic and
// text, kept apart from the engine so they are tested on the CPU (tests/cli): the serving
// workload generator, per-request timings → summary statistics (throughput, TTFT / TPOT
// percentiles), the JSON line, the run header (date, command line, device) and the table of
// peak HBM bandwidth by GPU name.
//
// Conventions: times in seconds from one steady clock; percentiles interpolate linearly between
// order statistics (numpy's default); TPOT of a request = (last token time - first token time)
// / (output tokens - 1), defined only for requests with >= 2 output tokens; throughput divides
// by the wall time from the first submit to the last finished request.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lightllm/engine.h"

namespace lightllm::cli {

// p in [0, 100] of `values` (any order); NaN when empty.
double percentile(std::vector<double> values, double p);

// What the bench recorded for one request.
struct RequestTiming {
  double submit_s = 0;       // submit() called
  double first_token_s = 0;  // first event carrying a token (0: none)
  double last_token_s = 0;   // last event carrying a token
  double finish_s = 0;       // final event
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  bool failed = false;  // ended with an error (or not with reason length when lengths are fixed)
};

struct ServingSummary {
  int64_t requests = 0, failed = 0;
  double duration_s = 0;  // first submit .. last finish
  int64_t input_tokens = 0, output_tokens = 0;
  double request_per_s = 0, output_tok_per_s = 0, total_tok_per_s = 0;
  double ttft_p50_ms = 0, ttft_p99_ms = 0, ttft_mean_ms = 0;
  double tpot_p50_ms = 0, tpot_p99_ms = 0, tpot_mean_ms = 0;
};

ServingSummary summarize(std::span<const RequestTiming> timings);

// Human-readable lines (one block) and the one-line JSON object of `s`, with `label` and the
// extra string fields (`{"gpu", "NVIDIA H100 ..."}`, ...) first in the JSON.
std::string format_summary(std::string_view label, const ServingSummary& s);
std::string summary_json(std::string_view label, const ServingSummary& s,
                         const std::vector<std::pair<std::string, std::string>>& extra);

// `s` as a quoted, escaped JSON string (for the JSON lines built by hand).
std::string json_string(std::string_view s);

// The random serving workload: prompt lengths uniform in [min_input, max_input], output lengths
// uniform in [min_output, max_output] (max_new_tokens = min_new_tokens, ignore_eos), token ids
// uniform in [min(3, vocab - 1), vocab), greedy; reproducible from `seed`.
struct WorkloadSpec {
  int num_requests = 1000;
  int min_input = 128, max_input = 1024;
  int min_output = 128, max_output = 512;
  uint32_t seed = 0;
};
std::vector<GenerateRequest> random_workload(const WorkloadSpec& w, int64_t vocab);

// Peak HBM bandwidth (bytes/s) of the GPU named `name` (as cudaGetDeviceProperties reports it),
// from NVIDIA's data sheets; nullopt for a GPU not in the table.
std::optional<double> peak_hbm_bandwidth(std::string_view gpu_name);

// Run header helpers: the UTC date and time, this process's command line (/proc/self/cmdline,
// arguments joined by spaces), the load average.
std::string utc_now();
std::string command_line();
std::string load_average();

}  // namespace lightllm::cli
