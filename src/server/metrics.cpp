// src/server/metrics.cpp — see metrics.h. Bucket layouts follow LightLLM's Monitor: durations
// 0.0015 * 1.5^i (35 buckets), lengths in 100 steps of max_context / 100 (at least 1 token).
#include "server/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace lightllm::server {
namespace {

std::vector<double> duration_buckets() {
  std::vector<double> b;
  double v = 0.001;
  for (int i = 0; i < 35; ++i) {
    v *= 1.5;
    b.push_back(v);
  }
  return b;
}

std::vector<double> length_buckets(int64_t max_len) {
  std::vector<double> b;
  const double step = std::max<double>(1.0, static_cast<double>(max_len) / 100.0);
  for (int i = 1; i <= 100; ++i) b.push_back(step * i);
  return b;
}

std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void gauge(std::string& out, const char* name, const char* help, double v) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, num(v));
}

void counter(std::string& out, const char* name, const char* help, double v) {
  // As prometheus_client writes counters: HELP/TYPE on the _total name.
  out += fmt::format("# HELP {}_total {}\n# TYPE {}_total counter\n{}_total {}\n", name, help, name,
                     name, num(v));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, num(le), cumulative);
  }
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, num(sum_), name, count_);
}

Metrics::Metrics(int64_t max_context)
    : duration_(duration_buckets()),
      first_token_(duration_buckets()),
      per_token_(duration_buckets()),
      input_len_(length_buckets(max_context)),
      generated_(length_buckets(max_context)),
      max_new_(length_buckets(max_context)) {}

void Metrics::request_received() {
  std::lock_guard lk(mu_);
  ++count_;
}

void Metrics::request_rejected() {
  std::lock_guard lk(mu_);
  ++failure_;
}

void Metrics::request_finished(const RequestRecord& r) {
  std::lock_guard lk(mu_);
  (r.success ? success_ : failure_)++;
  duration_.observe(r.duration_s);
  if (r.first_token_s >= 0) first_token_.observe(r.first_token_s);
  if (r.generated_tokens > 0) per_token_.observe(r.duration_s / r.generated_tokens);
  input_len_.observe(r.prompt_tokens);
  generated_.observe(r.generated_tokens);
  max_new_.observe(r.max_new_tokens);
}

std::string Metrics::render(const EngineStats& s, int http_in_flight) const {
  std::string out;
  std::lock_guard lk(mu_);
  counter(out, "lightllm_request_count", "The total number of requests", count_);
  counter(out, "lightllm_request_success", "The number of successful requests", success_);
  counter(out, "lightllm_request_failure", "The number of failed requests", failure_);
  duration_.render("lightllm_request_duration", "Duration of the request", out);
  first_token_.render("lightllm_request_first_token_duration", "First token time of the request",
                      out);
  per_token_.render("lightllm_request_mean_time_per_token_duration",
                    "Per token time of the request", out);
  input_len_.render("lightllm_request_input_length", "Length of the input tokens", out);
  generated_.render("lightllm_request_generated_tokens", "Number of generated tokens", out);
  max_new_.render("lightllm_request_max_new_tokens", "Max new token", out);
  gauge(out, "lightllm_queue_size", "Queue size", s.waiting);
  gauge(out, "lightllm_batch_current_size", "Current batch size", s.running);
  gauge(out, "lightllm_batch_pause_size", "The number of pause requests", s.paused);
  gauge(out, "lightllm_kv_total_tokens", "KV pool capacity in tokens",
        static_cast<double>(s.kv_total));
  gauge(out, "lightllm_kv_used_tokens", "KV slots held by running requests",
        static_cast<double>(s.kv_used));
  gauge(out, "lightllm_kv_cached_tokens", "KV slots held only by the prefix cache",
        static_cast<double>(s.kv_cached));
  gauge(out, "lightllm_kv_usage_ratio", "Share of the KV pool held by running requests",
        s.kv_total > 0 ? static_cast<double>(s.kv_used) / static_cast<double>(s.kv_total) : 0.0);
  gauge(out, "lightllm_http_requests_in_flight", "HTTP generation requests being served",
        http_in_flight);
  counter(out, "lightllm_prompt_tokens", "Prompt tokens processed by the engine",
          static_cast<double>(s.prompt_tokens_total));
  counter(out, "lightllm_generation_tokens", "Tokens generated by the engine",
          static_cast<double>(s.generated_tokens_total));
  return out;
}

}  // namespace lightllm::server
