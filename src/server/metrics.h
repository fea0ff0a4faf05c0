// src/server/metrics.h — Prometheus metrics with LightLLM's names (lightllm/server/metrics).
//
// Counters lightllm_request_count / _success / _failure (exposed as <name>_total like
// prometheus_client does), latency histograms lightllm_request_duration,
// lightllm_request_first_token_duration, lightllm_request_mean_time_per_token_duration,
// size histograms lightllm_request_input_length / lightllm_request_generated_tokens /
// lightllm_request_max_new_tokens, gauges lightllm_queue_size, lightllm_batch_current_size,
// lightllm_batch_pause_size, plus KV-pool and in-flight gauges of our own.
// Thread-safe: one mutex, taken briefly by each observation and by render().
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "lightllm/engine.h"

namespace lightllm::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Appends HELP/TYPE/bucket/sum/count lines in the text exposition format.
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// What one finished generation request contributes.
struct RequestRecord {
  double duration_s = 0;
  double first_token_s = -1;  // < 0: no token was produced
  int prompt_tokens = 0;
  int generated_tokens = 0;  // summed over the n completions
  int max_new_tokens = 0;
  bool success = false;
};

class Metrics {
 public:
  explicit Metrics(int64_t max_context);

  void request_received();
  void request_rejected();  // 4xx/5xx before or without an engine result
  void request_finished(const RequestRecord& r);

  std::string render(const EngineStats& stats, int http_in_flight) const;

 private:
  mutable std::mutex mu_;
  uint64_t count_ = 0, success_ = 0, failure_ = 0;
  Histogram duration_, first_token_, per_token_, input_len_, generated_, max_new_;
};

}  // namespace lightllm::server
