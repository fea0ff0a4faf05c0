// src/cli/bench_report.cpp — see bench_report.h.
#include "cli/bench_report.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lightllm::cli {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

namespace {

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

ServingSummary summarize(std::span<const RequestTiming> timings) {
  ServingSummary s;
  s.requests = static_cast<int64_t>(timings.size());
  if (timings.empty()) return s;
  double t0 = timings.front().submit_s, t1 = timings.front().finish_s;
  std::vector<double> ttft, tpot;
  for (const RequestTiming& t : timings) {
    t0 = std::min(t0, t.submit_s);
    t1 = std::max(t1, t.finish_s);
    if (t.failed) ++s.failed;
    s.input_tokens += t.prompt_tokens;
    s.output_tokens += t.output_tokens;
    if (t.output_tokens >= 1) ttft.push_back(1e3 * (t.first_token_s - t.submit_s));
    if (t.output_tokens >= 2)
      tpot.push_back(1e3 * (t.last_token_s - t.first_token_s) /
                     static_cast<double>(t.output_tokens - 1));
  }
  s.duration_s = t1 - t0;
  if (s.duration_s > 0) {
    s.request_per_s = static_cast<double>(s.requests - s.failed) / s.duration_s;
    s.output_tok_per_s = static_cast<double>(s.output_tokens) / s.duration_s;
    s.total_tok_per_s = static_cast<double>(s.input_tokens + s.output_tokens) / s.duration_s;
  }
  s.ttft_p50_ms = percentile(ttft, 50);
  s.ttft_p99_ms = percentile(ttft, 99);
  s.ttft_mean_ms = mean(ttft);
  s.tpot_p50_ms = percentile(tpot, 50);
  s.tpot_p99_ms = percentile(tpot, 99);
  s.tpot_mean_ms = mean(tpot);
  return s;
}

std::string format_summary(std::string_view label, const ServingSummary& s) {
  return fmt::format(
      "{}: {} requests ({} failed) in {:.2f} s: {:.2f} req/s\n"
      "  tokens: {} input, {} output; output {:.1f} tok/s, total {:.1f} tok/s\n"
      "  TTFT ms: p50 {:.1f}, p99 {:.1f}, mean {:.1f}\n"
      "  TPOT ms: p50 {:.2f}, p99 {:.2f}, mean {:.2f}\n",
      label, s.requests, s.failed, s.duration_s, s.request_per_s, s.input_tokens, s.output_tokens,
      s.output_tok_per_s, s.total_tok_per_s, s.ttft_p50_ms, s.ttft_p99_ms, s.ttft_mean_ms,
      s.tpot_p50_ms, s.tpot_p99_ms, s.tpot_mean_ms);
}

std::string summary_json(std::string_view label, const ServingSummary& s,
                         const std::vector<std::pair<std::string, std::string>>& extra) {
  // nlohmann's ordered_json keeps the insertion order, so the line reads label-first.
  nlohmann::ordered_json j;
  j["bench"] = std::string(label);
  for (const auto& [k, v] : extra) j[k] = v;
  auto num = [](double x) -> nlohmann::ordered_json {
    return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
  };
  j["requests"] = s.requests;
  j["failed"] = s.failed;
  j["duration_s"] = num(s.duration_s);
  j["input_tokens"] = s.input_tokens;
  j["output_tokens"] = s.output_tokens;
  j["request_per_s"] = num(s.request_per_s);
  j["output_tok_per_s"] = num(s.output_tok_per_s);
  j["total_tok_per_s"] = num(s.total_tok_per_s);
  j["ttft_p50_ms"] = num(s.ttft_p50_ms);
  j["ttft_p99_ms"] = num(s.ttft_p99_ms);
  j["ttft_mean_ms"] = num(s.ttft_mean_ms);
  j["tpot_p50_ms"] = num(s.tpot_p50_ms);
  j["tpot_p99_ms"] = num(s.tpot_p99_ms);
  j["tpot_mean_ms"] = num(s.tpot_mean_ms);
  return j.dump();
}

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s)).dump();
}

std::vector<GenerateRequest> random_workload(const WorkloadSpec& w, int64_t vocab) {
  std::mt19937 rng(w.seed);
  const auto hi = static_cast<int32_t>(vocab - 1);
  std::uniform_int_distribution<int32_t> id(std::min<int32_t>(3, hi), hi);
  std::uniform_int_distribution<int> in_len(w.min_input, w.max_input);
  std::uniform_int_distribution<int> out_len(w.min_output, w.max_output);
  std::vector<GenerateRequest> reqs;
  reqs.reserve(static_cast<size_t>(std::max(0, w.num_requests)));
  for (int i = 0; i < w.num_requests; ++i) {
    GenerateRequest r;
    const int n_in = in_len(rng);
    const int n_out = out_len(rng);
    r.prompt_ids.reserve(static_cast<size_t>(n_in));
    for (int t = 0; t < n_in; ++t) r.prompt_ids.push_back(id(rng));
    r.params.do_sample = false;
    r.params.max_new_tokens = n_out;
    r.params.min_new_tokens = n_out;
    r.params.ignore_eos = true;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

namespace {

bool contains_ci(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

struct PeakEntry {
  std::vector<std::string_view> all_of;  // every word must occur in the name (any case)
  double tb_per_s;
};

// Most specific first. Sources (NVIDIA data sheets, memory bandwidth row):
//   H100: "NVIDIA H100 Tensor Core GPU" datasheet — SXM 3.35 TB/s, PCIe 2 TB/s, NVL 3.9 TB/s.
//   H200: "NVIDIA H200 Tensor Core GPU" product page / datasheet — SXM and NVL 4.8 TB/s.
//   A100: "NVIDIA A100 Tensor Core GPU" datasheet — 80GB SXM 2,039 GB/s, 80GB PCIe 1,935 GB/s,
//         40GB (SXM and PCIe) 1,555 GB/s.
const std::vector<PeakEntry>& peak_table() {
  static const std::vector<PeakEntry> t = {
      {{"H100", "PCIe"}, 2.0},
      {{"H100", "NVL"}, 3.9},
      {{"H100"}, 3.35},
      {{"H200"}, 4.8},
      {{"A100", "80GB", "PCIe"}, 1.935},
      {{"A100", "80GB"}, 2.039},
      {{"A100"}, 1.555},
  };
  return t;
}

}  // namespace

std::optional<double> peak_hbm_bandwidth(std::string_view gpu_name) {
  for (const PeakEntry& e : peak_table()) {
    if (std::all_of(e.all_of.begin(), e.all_of.end(),
                    [&](std::string_view w) { return contains_ci(gpu_name, w); }))
      return e.tb_per_s * 1e12;
  }
  return std::nullopt;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string command_line() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!all.empty() && all.back() == '\0') all.pop_back();
  std::replace(all.begin(), all.end(), '\0', ' ');
  return all;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace lightllm::cli
