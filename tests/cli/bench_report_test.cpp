// The arithmetic of `lightllm bench` (src/cli/bench_report.h) against hand-checked references:
// percentiles (numpy's linear interpolation, e.g. np.percentile([1, 2, 3, 4], 99) = 3.97),
// the serving summary of a few requests with known timings, the JSON line, the workload
// generator's ranges and reproducibility, and the peak HBM table.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "cli/bench_report.h"

using namespace lightllm;
using namespace lightllm::cli;

namespace {

TEST(BenchPercentile, InterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_NEAR(percentile({4, 1, 3, 2}, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 100), 4);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
  // 1..100: rank 0.99 * 99 = 98.01 -> 99 + 0.01.
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_NEAR(percentile(v, 99), 99.01, 1e-9);
}

TEST(BenchSummary, ThroughputAndLatencyOfKnownTimings) {
  // Three requests submitted at t = 0, 0, 1 s.
  std::vector<RequestTiming> t(3);
  t[0] = {.submit_s = 0.0,
          .first_token_s = 0.5,
          .last_token_s = 2.5,
          .finish_s = 2.5,
          .prompt_tokens = 100,
          .output_tokens = 5};  // TTFT 500 ms, TPOT 2.0 s / 4 = 500 ms
  t[1] = {.submit_s = 0.0,
          .first_token_s = 1.0,
          .last_token_s = 1.0,
          .finish_s = 1.0,
          .prompt_tokens = 50,
          .output_tokens = 1};  // TTFT 1000 ms, no TPOT
  t[2] = {.submit_s = 1.0,
          .first_token_s = 1.2,
          .last_token_s = 4.2,
          .finish_s = 4.0 + 0.2,
          .prompt_tokens = 10,
          .output_tokens = 11};  // TTFT 200 ms, TPOT 3.0 s / 10 = 300 ms
  const ServingSummary s = summarize(t);
  EXPECT_EQ(s.requests, 3);
  EXPECT_EQ(s.failed, 0);
  EXPECT_DOUBLE_EQ(s.duration_s, 4.2);
  EXPECT_EQ(s.input_tokens, 160);
  EXPECT_EQ(s.output_tokens, 17);
  EXPECT_NEAR(s.output_tok_per_s, 17 / 4.2, 1e-9);
  EXPECT_NEAR(s.total_tok_per_s, 177 / 4.2, 1e-9);
  EXPECT_NEAR(s.request_per_s, 3 / 4.2, 1e-9);
  EXPECT_NEAR(s.ttft_p50_ms, 500, 1e-9);               // of {200, 500, 1000}
  EXPECT_NEAR(s.ttft_p99_ms, 500 + 0.98 * 500, 1e-9);  // rank 1.98
  EXPECT_NEAR(s.ttft_mean_ms, 1700.0 / 3, 1e-9);
  EXPECT_NEAR(s.tpot_p50_ms, 400, 1e-9);  // of {300, 500}
  EXPECT_NEAR(s.tpot_p99_ms, 300 + 0.99 * 200, 1e-9);
  EXPECT_NEAR(s.tpot_mean_ms, 400, 1e-9);

  t[1].failed = true;
  EXPECT_EQ(summarize(t).failed, 1);
  EXPECT_NEAR(summarize(t).request_per_s, 2 / 4.2, 1e-9);
  EXPECT_EQ(summarize({}).requests, 0);
}

TEST(BenchSummary, JsonLineCarriesEveryFigureAndTheExtraFieldsFirst) {
  std::vector<RequestTiming> t(1);
  t[0] = {.submit_s = 0,
          .first_token_s = 0.25,
          .last_token_s = 0.25,
          .finish_s = 0.5,
          .prompt_tokens = 8,
          .output_tokens = 1};
  const std::string line = summary_json("serving", summarize(t), {{"device", "NVIDIA \"X\""}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"bench\":\"serving\",\"device\":", 0), 0u) << line;
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["device"], "NVIDIA \"X\"");
  EXPECT_EQ(j["requests"], 1);
  EXPECT_DOUBLE_EQ(j["output_tok_per_s"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["ttft_p50_ms"].get<double>(), 250.0);
  EXPECT_TRUE(j["tpot_p50_ms"].is_null());  // one output token: no TPOT
  for (const char* k : {"total_tok_per_s", "ttft_p99_ms", "tpot_p99_ms", "duration_s"})
    EXPECT_TRUE(j.contains(k)) << k;
}

TEST(BenchSummary, JsonStringEscapes) {
  EXPECT_EQ(json_string("NVIDIA H100"), "\"NVIDIA H100\"");
  EXPECT_EQ(nlohmann::json::parse(json_string("a \"b\" \\ c\n")), "a \"b\" \\ c\n");
}

TEST(BenchWorkload, LengthsInRangeReproducibleAndIgnoringEos) {
  const WorkloadSpec w{.num_requests = 500,
                       .min_input = 128,
                       .max_input = 1024,
                       .min_output = 128,
                       .max_output = 512,
                       .seed = 3};
  const auto a = random_workload(w, 32000);
  const auto b = random_workload(w, 32000);
  ASSERT_EQ(a.size(), 500u);
  int min_in = 1 << 30, max_in = 0, min_out = 1 << 30, max_out = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt_ids, b[i].prompt_ids);
    const int n = static_cast<int>(a[i].prompt_ids.size());
    min_in = std::min(min_in, n);
    max_in = std::max(max_in, n);
    min_out = std::min(min_out, a[i].params.max_new_tokens);
    max_out = std::max(max_out, a[i].params.max_new_tokens);
    EXPECT_TRUE(a[i].params.ignore_eos);
    EXPECT_EQ(a[i].params.min_new_tokens, a[i].params.max_new_tokens);
    for (int32_t id : a[i].prompt_ids) ASSERT_TRUE(id >= 3 && id < 32000) << id;
  }
  EXPECT_GE(min_in, 128);
  EXPECT_LE(max_in, 1024);
  EXPECT_LT(min_in, 150);  // 500 draws cover the range
  EXPECT_GT(max_in, 1000);
  EXPECT_GE(min_out, 128);
  EXPECT_LE(max_out, 512);
  EXPECT_NE(random_workload({.num_requests = 5, .seed = 4}, 32000)[0].prompt_ids,
            random_workload({.num_requests = 5, .seed = 5}, 32000)[0].prompt_ids);
}

TEST(BenchPeakHbm, DataSheetFiguresByDeviceName) {
  auto tb = [](const char* name) { return peak_hbm_bandwidth(name).value_or(-1e12) / 1e12; };
  EXPECT_DOUBLE_EQ(tb("NVIDIA H100 80GB HBM3"), 3.35);  // SXM5
  EXPECT_DOUBLE_EQ(tb("NVIDIA H100 PCIe"), 2.0);
  EXPECT_DOUBLE_EQ(tb("NVIDIA H100 NVL"), 3.9);
  EXPECT_DOUBLE_EQ(tb("NVIDIA H200"), 4.8);
  EXPECT_DOUBLE_EQ(tb("NVIDIA A100-SXM4-80GB"), 2.039);
  EXPECT_DOUBLE_EQ(tb("NVIDIA A100 80GB PCIe"), 1.935);
  EXPECT_DOUBLE_EQ(tb("NVIDIA A100-SXM4-40GB"), 1.555);
  EXPECT_DOUBLE_EQ(tb("NVIDIA A100-PCIE-40GB"), 1.555);
  EXPECT_FALSE(peak_hbm_bandwidth("NVIDIA GeForce RTX 4090").has_value());
}

TEST(BenchHeader, DateAndCommandLine) {
  const std::string d = utc_now();
  EXPECT_EQ(d.size(), 23u) << d;  // "2026-11-26 03:15:37 UTC"
  EXPECT_NE(d.find(" UTC"), std::string::npos);
  EXPECT_NE(command_line().find("bench_report_test"), std::string::npos) << command_line();
}

}  // namespace
