// tests/dist/tp_engine_test.cpp — the host side of tensor parallelism: the TP flag checks
// (flags, heads, GPUs; clear errors), the rank workers, and the step wire format with the
// follower's req_to_token mirror (rows equal the router's wherever a step reads them).
#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "engine/runner/rank_workers.h"
#include "engine/runner/step_wire.h"
#include "engine/runner/tp_config.h"
#include "engine/sampling/sampling_state.h"
#include "models/loader/model_config.h"
#include "models/loader/weight_store.h"

namespace lightllm::engine {
namespace {

const std::string kLlama = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/llama-f32";

EngineConfig cuda_tp(int tp, int nnodes = 1, int node_rank = 0) {
  EngineConfig c;
  c.model_dir = kLlama;
  c.device = "cuda";
  c.tp = tp;
  c.nnodes = nnodes;
  c.node_rank = node_rank;
  return c;
}

void expect_error(const core::Status& st, const std::string& needle) {
  ASSERT_FALSE(st.ok()) << "expected an error mentioning " << needle;
  EXPECT_EQ(st.code(), core::StatusCode::invalid_argument) << st.to_string();
  EXPECT_NE(st.message().find(needle), std::string::npos) << st.to_string();
}

TEST(TpFlags, ValidCombinationsPass) {
  EXPECT_TRUE(validate_tp_flags(EngineConfig{}).ok());
  EXPECT_TRUE(validate_tp_flags(cuda_tp(2)).ok());
  EXPECT_TRUE(validate_tp_flags(cuda_tp(8, 2, 1)).ok());
  EXPECT_TRUE(validate_tp_flags(cuda_tp(2, 2, 1)).ok());
  EXPECT_EQ(local_ranks(cuda_tp(8, 2, 1)), 4);
}

TEST(TpFlags, BadCombinationsNameTheFlag) {
  EngineConfig cpu = cuda_tp(2);
  cpu.device = "cpu";
  expect_error(validate_tp_flags(cpu), "--device cuda");
  expect_error(validate_tp_flags(cuda_tp(0)), "--tp 0");
  expect_error(validate_tp_flags(cuda_tp(6, 4)), "does not divide by --nnodes 4");
  expect_error(validate_tp_flags(cuda_tp(2, 4)), "--nnodes 4 is more than --tp 2");
  expect_error(validate_tp_flags(cuda_tp(4, 2, 2)), "--node-rank 2");
  expect_error(validate_tp_flags(cuda_tp(4, 2, -1)), "--node-rank -1");
  EngineConfig port = cuda_tp(4, 2);
  port.nccl_port = 70000;
  expect_error(validate_tp_flags(port), "--nccl-port 70000");
  EngineConfig host = cuda_tp(4, 2);
  host.nccl_host.clear();
  expect_error(validate_tp_flags(host), "--nccl-host");
}

TEST(TpFlags, HeadsMustSplit) {
  auto files = loader::open_model_folder(kLlama);
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  const loader::ModelConfig& cfg = files->config;  // 4 heads, 2 kv heads
  ASSERT_EQ(cfg.num_attention_heads, 4);
  ASSERT_EQ(cfg.num_key_value_heads, 2);
  EXPECT_TRUE(validate_tp_model(cfg, 1).ok());
  EXPECT_TRUE(validate_tp_model(cfg, 2).ok());  // 2 heads + 1 kv head per rank
  EXPECT_TRUE(validate_tp_model(cfg, 4).ok());  // kv heads replicated, 2 ranks each
  expect_error(validate_tp_model(cfg, 3), "4 attention heads");
  expect_error(validate_tp_model(cfg, 8), "4 attention heads");

  loader::ModelConfig odd_kv = cfg;
  odd_kv.num_attention_heads = 12;
  odd_kv.num_key_value_heads = 3;
  expect_error(validate_tp_model(odd_kv, 4), "3 key/value heads");
  EXPECT_TRUE(validate_tp_model(odd_kv, 3).ok());
}

TEST(TpFlags, GpusPerNode) {
  EXPECT_TRUE(validate_tp_devices(cuda_tp(1), 0).ok());
  EXPECT_TRUE(validate_tp_devices(cuda_tp(4, 2), 2).ok());
  expect_error(validate_tp_devices(cuda_tp(4), 2), "needs 4 GPUs on this node, 2 visible");
}

TEST(TpEngine, CpuAndFollowerRanksAreClearErrors) {
  EngineConfig cpu = cuda_tp(2);
  cpu.device = "cpu";
  std::string error;
  EXPECT_EQ(Engine::create(cpu, &error), nullptr);
  EXPECT_NE(error.find("needs --device cuda"), std::string::npos) << error;

  EngineConfig follower = cuda_tp(2, 2, 1);
  follower.device = "cpu";  // the device check comes first: still a clear error
  error.clear();
  EXPECT_EQ(Engine::create(follower, &error), nullptr);
  EXPECT_FALSE(error.empty());

  EngineConfig node0_only = cuda_tp(2);
  node0_only.node_rank = 0;
  error.clear();
  EXPECT_FALSE(run_tp_follower(node0_only, &error));
  EXPECT_NE(error.find("--node-rank 0"), std::string::npos) << error;
}

TEST(RankWorkers, RunsEveryRankConcurrentlyAndReportsTheFirstError) {
  RankWorkers workers(4);
  ASSERT_EQ(workers.size(), 4);
  // Each rank waits for all the others: only a concurrent run finishes.
  std::atomic<int> arrived{0};
  const core::Status st = workers.run([&](int) -> core::Status {
    arrived.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < 4)
      if (std::chrono::steady_clock::now() > deadline)
        return core::internal_error("ranks did not run at the same time");
    return {};
  });
  EXPECT_TRUE(st.ok()) << st.to_string();

  std::vector<std::thread::id> ids(4);
  const core::Status err = workers.run([&](int i) -> core::Status {
    ids[static_cast<size_t>(i)] = std::this_thread::get_id();
    if (i >= 2) return core::internal_error("rank {} failed", i);
    return {};
  });
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.message(), "rank 2 failed");
  // Each rank keeps its own thread across runs.
  std::vector<std::thread::id> again(4);
  EXPECT_TRUE(workers
                  .run([&](int i) -> core::Status {
                    again[static_cast<size_t>(i)] = std::this_thread::get_id();
                    return {};
                  })
                  .ok());
  EXPECT_EQ(ids, again);
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) EXPECT_NE(ids[i], ids[j]);
}

// A follower's mirror, fed only the wire messages, reads the same slots as the router's
// table for every fed position of every step; random prefills (with prefix rows) and decodes.
TEST(StepWire, MirrorMatchesTheRouterTableOverRandomSteps) {
  constexpr int32_t kRows = 6;
  constexpr int64_t kLen = 40;
  kv::ReqToTokenTable table(kRows, kLen);
  std::vector<int32_t> mirror(kRows * kLen, -7);
  std::mt19937 rng(11);
  std::vector<int64_t> len(kRows, -1);  // -1: row free
  std::vector<sampling::SamplingState> states(kRows);
  int32_t next_slot = 0;
  for (int step = 0; step < 200; ++step) {
    StepPlan plan;
    plan.step_id = static_cast<uint64_t>(step);
    std::vector<int32_t> ids;
    for (int32_t r = 0; r < kRows; ++r) {
      const int choice = std::uniform_int_distribution<int>(0, 3)(rng);
      if (choice == 0) continue;  // not in this step
      StepEntry e;
      e.seq_id = static_cast<uint64_t>(r);
      e.req_row = r;
      e.token_offset = static_cast<int64_t>(ids.size());
      e.sampling = &states[r];
      if (len[r] < 0 || len[r] + 4 > kLen || choice == 1) {
        // A new (or resumed) sequence: the router fills a prefix from its cache, unseen.
        const int64_t prefix = std::uniform_int_distribution<int64_t>(0, 10)(rng);
        auto row = table.row(r);
        for (int64_t p = 0; p < prefix; ++p) row[p] = 1000 + next_slot++;
        e.is_prefill = true;
        e.cached_len = prefix;
        e.n_tokens = std::uniform_int_distribution<int32_t>(1, 8)(rng);
      } else {
        e.cached_len = len[r];
        e.n_tokens = 1;
      }
      auto row = table.row(r);
      for (int32_t i = 0; i < e.n_tokens; ++i) {
        row[e.cached_len + i] = next_slot;
        plan.slots.push_back(next_slot++);
        ids.push_back(static_cast<int32_t>(rng() % 100));
      }
      e.sample = true;
      len[r] = e.cached_len + e.n_tokens;
      plan.entries.push_back(e);
    }
    if (plan.entries.empty()) continue;
    plan.input_ids = ids;
    const std::vector<uint8_t> msg = encode_step(plan, ids, table);
    auto wire = decode_step(msg);
    ASSERT_TRUE(wire.ok()) << wire.status().to_string();
    ASSERT_EQ(wire->kind, WireKind::step);
    EXPECT_EQ(wire->step_id, plan.step_id);
    ASSERT_TRUE(apply_rows(*wire, mirror, kRows, kLen).ok());
    const auto segs = wire->step_segments();
    ASSERT_EQ(segs.size(), plan.entries.size());
    for (size_t k = 0; k < segs.size(); ++k) {
      const StepEntry& e = plan.entries[k];
      EXPECT_EQ(segs[k].req_row, e.req_row);
      EXPECT_EQ(segs[k].cached_len, e.cached_len);
      EXPECT_TRUE(segs[k].wants_logits);
      ASSERT_EQ(static_cast<int64_t>(segs[k].tokens.size()), e.n_tokens);
      for (int32_t i = 0; i < e.n_tokens; ++i)
        EXPECT_EQ(segs[k].tokens[i], ids[e.token_offset + i]);
      for (int64_t p = 0; p < e.cached_len + e.n_tokens; ++p)
        ASSERT_EQ(mirror[e.req_row * kLen + p], table.row(e.req_row)[p])
            << "step " << step << " row " << e.req_row << " position " << p;
    }
  }
  auto stop = decode_step(encode_stop());
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(stop->kind, WireKind::stop);
}

TEST(StepWire, CorruptMessagesAreErrors) {
  kv::ReqToTokenTable table(2, 8);
  sampling::SamplingState state;
  StepPlan plan;
  plan.entries.push_back({.seq_id = 1,
                          .req_row = 1,
                          .token_offset = 0,
                          .n_tokens = 2,
                          .cached_len = 0,
                          .is_prefill = true,
                          .sample = true,
                          .sampling = &state});
  plan.input_ids = {5, 6};
  plan.slots = {0, 1};
  std::vector<uint8_t> msg = encode_step(plan, plan.input_ids, table);
  for (size_t cut : {size_t{0}, size_t{3}, msg.size() / 2, msg.size() - 1})
    EXPECT_FALSE(decode_step(std::span<const uint8_t>(msg).first(cut)).ok()) << cut;
  std::vector<uint8_t> longer = msg;
  longer.push_back(0);
  EXPECT_FALSE(decode_step(longer).ok());
  auto ok = decode_step(msg);
  ASSERT_TRUE(ok.ok());
  std::vector<int32_t> small(2 * 1);  // a mirror too short for the row
  EXPECT_FALSE(apply_rows(*ok, small, 2, 1).ok());
}

}  // namespace
}  // namespace lightllm::engine
