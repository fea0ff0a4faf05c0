// tests/models/tp_test.cpp — tensor parallelism on the CPU: every golden model of
// tests/data/models (f32 and bf16 checkpoints) loaded as N = 2, 3, 4, 8 ranks (threads with the
// in-process fake communicator) gives the same logits as the whole model (N = 1) within f32
// tolerance (bf16 checkpoints: a few bf16 ulps), the same greedy continuation, bit-identical
// logits on every rank, per-rank heads in its shape and about 1/N of the weight bytes. N = 3
// splits the 512-token vocabulary unevenly (zero-padded shards). Shapes whose heads do not split
// over N fail with a clear invalid_argument on every rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "dist/fake_communicator.h"
#include "dist/sharding.h"
#include "models/direct_runner.h"
#include "models/model.h"

namespace lightllm::models {
namespace {

namespace fs = std::filesystem;
using core::Status;
using core::Tensor;

std::vector<std::string> golden_dirs() {
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(std::string(LIGHTLLM_TEST_DATA_DIR) + "/models")) {
    const std::string name = e.path().filename().string();
    if (fs::exists(e.path() / "golden.json")) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

// Three prompts (lengths 5, 1, 17) of ids in [3, vocab) from a fixed LCG.
std::vector<std::vector<int32_t>> prompts(int64_t vocab) {
  std::vector<std::vector<int32_t>> p;
  uint32_t x = 12345;
  for (int len : {5, 1, 17}) {
    std::vector<int32_t> ids;
    for (int i = 0; i < len; ++i) {
      x = x * 1664525u + 1013904223u;
      ids.push_back(static_cast<int32_t>(3 + (x >> 8) % static_cast<uint32_t>(vocab - 3)));
    }
    p.push_back(ids);
  }
  return p;
}

constexpr int kCapacity = 96, kNew = 8;

// What one model (or one rank) produced.
struct RunResult {
  Tensor logits;  // [every prompt token, vocab]: the prefill's logits of all rows
  std::vector<std::vector<int32_t>> greedy;
  int64_t weight_bytes = 0;
  ModelShape shape;
};

Status run_model(Model& model, const std::vector<std::vector<int32_t>>& ps, RunResult& out) {
  out.shape = model.shape();
  out.weight_bytes = model.weight_bytes();
  {
    test_util::DirectRunner runner(model, kCapacity, 3, /*shuffle_slots=*/true);
    LLM_ASSIGN_OR_RETURN(out.logits, runner.step(ps, /*all_logits=*/true));
  }
  test_util::DirectRunner runner(model, kCapacity, 3, /*shuffle_slots=*/false);
  LLM_ASSIGN_OR_RETURN(out.greedy, runner.greedy(ps, kNew));
  return {};
}

class TensorParallelModel : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallelModel, MatchesTheWholeModel) {
  const std::string dir = GetParam();
  auto whole = load_model(dir);
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();
  const ModelShape full = (*whole)->shape();
  const auto ps = prompts(full.vocab);
  RunResult ref;
  ASSERT_TRUE(run_model(**whole, ps, ref).ok());
  float ref_max = 0.0f;
  for (int64_t i = 0; i < ref.logits.numel(); ++i)
    ref_max = std::max(ref_max, std::abs(ref.logits.data<float>()[i]));

  // f32 checkpoints: only the summation order differs (all_reduce of partial sums). bf16
  // checkpoints: the CPU kernels round through bf16, so a different split can move a value by a
  // bf16 ulp that then propagates (observed up to 3e-3 of the largest |logit|).
  const float tol = full.weight_dtype == core::DType::f32 ? 1e-5f : 1e-2f;
  for (int world : {2, 3, 4, 8}) {  // 3: a vocabulary that does not divide (zero padding)
    SCOPED_TRACE("world " + std::to_string(world));
    const bool splits = dist::shard_heads(full.n_heads, full.n_kv_heads, 0, world).ok();
    auto comms = dist::make_fake_group(world);
    std::vector<RunResult> runs(static_cast<size_t>(world));
    std::vector<Status> loads(static_cast<size_t>(world));
    const Status st = dist::run_ranks(world, [&](int r) -> Status {
      auto m = load_model(dir, core::Device::cpu, {r, world, comms[static_cast<size_t>(r)].get()});
      loads[static_cast<size_t>(r)] = m.status();
      if (!m.ok()) return m.status();
      return run_model(**m, ps, runs[static_cast<size_t>(r)]);
    });
    if (!splits) {  // e.g. 4 heads over 8 ranks, BLOOM's 6 heads over 4
      for (const Status& s : loads) {
        EXPECT_EQ(s.code(), core::StatusCode::invalid_argument) << s.to_string();
        EXPECT_NE(s.message().find("heads"), std::string::npos) << s.to_string();
      }
      continue;
    }
    ASSERT_TRUE(st.ok()) << st.to_string();
    for (int r = 0; r < world; ++r) {
      const RunResult& run = runs[static_cast<size_t>(r)];
      EXPECT_EQ(run.shape.n_heads, full.n_heads / world);
      EXPECT_EQ(run.shape.n_kv_heads, std::max(1, full.n_kv_heads / world));
      EXPECT_EQ(run.shape.tp_rank, r);
      EXPECT_EQ(run.shape.vocab, full.vocab);
      // About 1/N of the bytes: everything but the norms, the replicated KV heads and the
      // vocab padding row is split.
      EXPECT_LT(run.weight_bytes, ref.weight_bytes / world * 3 / 2) << run.weight_bytes;
      EXPECT_GT(run.weight_bytes, ref.weight_bytes / world * 9 / 10) << run.weight_bytes;
      ASSERT_EQ(run.logits.shape(), ref.logits.shape());
      float max_diff = 0.0f;
      for (int64_t i = 0; i < ref.logits.numel(); ++i) {
        max_diff =
            std::max(max_diff, std::abs(run.logits.data<float>()[i] - ref.logits.data<float>()[i]));
        ASSERT_EQ(run.logits.data<float>()[i], runs[0].logits.data<float>()[i])
            << "ranks disagree at " << i;
      }
      EXPECT_LE(max_diff, tol * std::max(1.0f, ref_max)) << "rank " << r;
      if (r == 0)
        std::printf(
            "%s world %d: max |logit diff| %.3g (max |logit| %.3g), rank 0 holds %lld of "
            "%lld weight bytes\n",
            fs::path(dir).filename().c_str(), world, static_cast<double>(max_diff),
            static_cast<double>(ref_max), static_cast<long long>(run.weight_bytes),
            static_cast<long long>(ref.weight_bytes));
      EXPECT_EQ(run.greedy, ref.greedy) << "rank " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TensorParallelModel, ::testing::ValuesIn(golden_dirs()), name_of);

TEST(TensorParallel, ShardedLoadNeedsTheGroupsCommunicator) {
  const std::string dir = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/llama-f32";
  auto m = load_model(dir, core::Device::cpu, {0, 2, nullptr});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), core::StatusCode::invalid_argument) << m.status().to_string();
}

}  // namespace
}  // namespace lightllm::models
