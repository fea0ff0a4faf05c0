// tests/dist/tp_runner_test.cpp — the tensor-parallel runner and the multi-node protocol on
// the CPU: node 0 (start_tp_leader + TpRunner, 2 local ranks) and node 1 (follow_tp_leader,
// 2 ranks) as two threads joined over the TCP rendezvous on localhost, with host
// communicators instead of NCCL. The router drives random requests (prefix-cache hits,
// chunked prefill); the greedy tokens equal ModelRunner's (TP = 1), and node 1's ranks see
// the same logits as node 0's for every step (its req_to_token mirror is right).
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "dist/tcp_channel.h"
#include "engine/engine_harness.h"
#include "engine/router/router.h"
#include "engine/runner/model_runner.h"
#include "engine/runner/tp_runner.h"

namespace lightllm::engine {
namespace {

const std::string kLlama = std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/llama-f32";

// Ranks of one process sharing host f32 buffers; each collective is two barriers.
class HostGroup {
 public:
  explicit HostGroup(int world) : world_(world), slots_(static_cast<size_t>(world)) {}
  int world() const { return world_; }

  // Every rank deposits x; `combine` reads all deposits; then every rank leaves.
  core::Status exchange(int rank, const core::Tensor& x,
                        const std::function<void(const std::vector<core::Tensor>&)>& combine) {
    if (x.dtype() != core::DType::f32 || x.device() != core::Device::cpu)
      return core::invalid_argument("host group: f32 host tensors only, got {}", x.describe());
    slots_[static_cast<size_t>(rank)] = x;
    LLM_RETURN_IF_ERROR(barrier());
    for (int r = 0; r < world_; ++r)
      if (slots_[static_cast<size_t>(r)].numel() != x.numel())
        return core::invalid_argument("host group: ranks disagree on the tensor size");
    combine(slots_);
    return barrier();
  }

 private:
  core::Status barrier() {
    std::unique_lock lock(mu_);
    const uint64_t gen = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return {};
    }
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return generation_ != gen; }))
      return core::internal_error("host group: a rank did not arrive");
    return {};
  }
  int world_;
  std::vector<core::Tensor> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class HostComm final : public dist::Communicator {
 public:
  HostComm(std::shared_ptr<HostGroup> g, int rank) : g_(std::move(g)), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return g_->world(); }
  core::Status all_reduce_sum(core::Tensor& x) override {
    std::vector<float> sum(static_cast<size_t>(x.numel()));
    LLM_RETURN_IF_ERROR(g_->exchange(rank_, x, [&](const std::vector<core::Tensor>& all) {
      for (const core::Tensor& t : all)  // rank order: the same sum on every rank
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += t.data<float>()[i];
    }));
    std::copy(sum.begin(), sum.end(), x.data<float>());
    return {};
  }
  core::Status all_gather(const core::Tensor& x, core::Tensor& out) override {
    return g_->exchange(rank_, x, [&](const std::vector<core::Tensor>& all) {
      for (size_t r = 0; r < all.size(); ++r)
        std::copy_n(all[r].data<float>(), x.numel(), out.data<float>() + r * x.numel());
    });
  }
  core::Status broadcast(core::Tensor& x, int root) override {
    std::vector<float> v(static_cast<size_t>(x.numel()));
    LLM_RETURN_IF_ERROR(g_->exchange(rank_, x, [&](const std::vector<core::Tensor>& all) {
      std::copy_n(all[static_cast<size_t>(root)].data<float>(), x.numel(), v.data());
    }));
    std::copy(v.begin(), v.end(), x.data<float>());
    return {};
  }

 private:
  std::shared_ptr<HostGroup> g_;
  int rank_;
};

// The id names a HostGroup of this process (both "nodes" are threads here).
CommBackend host_backend() {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<HostGroup>> groups;  // by id bytes
  static uint8_t next = 0;
  return {.new_id = []() -> core::Result<std::vector<uint8_t>> {
            std::lock_guard lock(mu);
            return std::vector<uint8_t>(128, ++next);
          },
          .factory = [](int tp, const std::vector<uint8_t>& id) -> core::Result<CommFactory> {
            std::shared_ptr<HostGroup> g;
            {
              std::lock_guard lock(mu);
              auto& slot = groups[std::string(id.begin(), id.end())];
              if (!slot) slot = std::make_shared<HostGroup>(tp);
              g = slot;
            }
            return CommFactory([g](int rank) -> core::Result<std::unique_ptr<dist::Communicator>> {
              return std::unique_ptr<dist::Communicator>(new HostComm(g, rank));
            });
          }};
}

router::RouterConfig router_config() {
  router::RouterConfig rc;
  rc.max_total_tokens = 2048;
  rc.running_max_req_size = 16;
  rc.max_req_total_len = 160;
  rc.chunked_prefill_size = 24;
  return rc;
}

// Runs `reqs` through router + executor to the end; each sequence's tokens, and the sampled
// tokens of every step (in entry order).
struct RunLog {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, std::vector<int32_t>> step_tokens;
};
void run_wave(router::Router& router, StepExecutor& exec, const std::vector<GenerateRequest>& reqs,
              uint64_t id, RunLog& log) {
  for (const auto& r : reqs) {
    router::SequenceSpec spec{
        .seq_id = id, .group_id = id, .prompt = r.prompt_ids, .params = r.params};
    EXPECT_TRUE(router.submit(std::move(spec)).ok());
    ++id;
  }
  while (router.has_work()) {
    auto plan = router.plan();
    EXPECT_TRUE(plan.ok()) << plan.status().to_string();
    if (!plan.ok()) break;
    if (plan->empty()) continue;
    auto result = exec.execute(*plan);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    if (!result.ok()) break;
    for (const SampledToken& t : result->sampled) log.step_tokens[plan->step_id].push_back(t.token);
    EXPECT_TRUE(router.commit(*result).ok());
    for (const router::SeqEvent& ev : router.take_events())
      if (ev.has_token) log.tokens[ev.seq_id].push_back(ev.token.token);
  }
}

// Two waves of the same requests: the second one is served from the prefix cache.
RunLog run(router::Router& router, StepExecutor& exec, const std::vector<GenerateRequest>& reqs) {
  RunLog log;
  for (uint64_t wave = 0; wave < 2; ++wave) run_wave(router, exec, reqs, 1 + wave * 1000, log);
  EXPECT_GT(router.stats().prefix_hit_tokens, 0u);
  return log;
}

int free_port() {
  auto l = dist::TcpListener::listen("127.0.0.1", 0);
  return l.ok() ? l->port() : 0;
}

TEST(TpRunner, TwoNodesOfTwoRanksMatchTheSingleRunner) {
  auto reqs = test_util::random_requests(10, 200, 60, 12, 3);
  for (size_t i = 0; i < reqs.size(); i += 3) {  // shared prefixes: prefix-cache rows
    if (i + 1 < reqs.size())
      reqs[i + 1].prompt_ids.insert(reqs[i + 1].prompt_ids.begin(), reqs[i].prompt_ids.begin(),
                                    reqs[i].prompt_ids.end());
  }
  for (auto& r : reqs) r.params.ignore_eos = true;

  // TP = 1 reference.
  RunLog want;
  {
    router::Router router(router_config());
    auto model = models::load_model(kLlama);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const auto& s = (*model)->shape();
    auto kv = models::KvStorage::allocate_on(core::Device::cpu, s.n_layers, 2048, s.n_kv_heads,
                                             s.head_dim, core::DType::f32);
    ASSERT_TRUE(kv.ok());
    ModelRunner runner(std::move(model).value(), std::move(kv).value(), router.req_to_token());
    want = run(router, runner, reqs);
  }
  ASSERT_EQ(want.tokens.size(), 2 * reqs.size());

  EngineConfig cfg;
  cfg.model_dir = kLlama;
  cfg.device = "cpu";
  cfg.tp = 4;
  cfg.nnodes = 2;
  cfg.nccl_host = "127.0.0.1";
  cfg.nccl_port = free_port();
  ASSERT_GT(cfg.nccl_port, 0);

  std::mutex mu;
  std::map<uint64_t, std::vector<int32_t>> follower_argmax;  // step -> argmax of each row
  core::Status follower_status;
  std::thread follower([&] {
    EngineConfig f = cfg;
    f.node_rank = 1;
    follower_status =
        follow_tp_leader(f, host_backend(), [&](uint64_t step, const core::Tensor& logits) {
          std::vector<int32_t> rows;
          for (int64_t r = 0; r < logits.dim(0); ++r) {
            const float* p = logits.data<float>() + r * logits.dim(1);
            rows.push_back(static_cast<int32_t>(std::max_element(p, p + logits.dim(1)) - p));
          }
          std::lock_guard lock(mu);
          follower_argmax[step] = rows;
        });
  });

  RunLog got;
  {
    auto leader = start_tp_leader(cfg, host_backend());
    ASSERT_TRUE(leader.ok()) << leader.status().to_string();
    auto free = tp_min_free_memory(*leader);
    ASSERT_TRUE(free.ok()) << free.status().to_string();
    EXPECT_EQ(*free, 0);  // CPU ranks report no device memory
    router::Router router(router_config());
    ASSERT_TRUE(tp_allocate_kv(*leader, 2048, core::DType::f32, router.req_to_token()).ok());
    TpRunner runner(std::move(leader->group), std::move(leader->followers), router.req_to_token());
    got = run(router, runner, reqs);
  }  // the runner sends `stop`: the follower returns
  follower.join();
  EXPECT_TRUE(follower_status.ok()) << follower_status.to_string();

  EXPECT_EQ(got.tokens, want.tokens);
  std::lock_guard lock(mu);
  EXPECT_EQ(follower_argmax.size(), got.step_tokens.size());
  for (const auto& [step, tokens] : got.step_tokens)
    EXPECT_EQ(follower_argmax[step], tokens) << "node 1 ran step " << step << " differently";
}

TEST(TpRunner, AFollowerThatFailsToStartFailsNodeZerosStart) {
  EngineConfig cfg;
  cfg.model_dir = kLlama;
  cfg.device = "cpu";
  cfg.tp = 2;
  cfg.nnodes = 2;
  cfg.nccl_host = "127.0.0.1";
  cfg.nccl_port = free_port();
  core::Status follower_status;
  std::thread follower([&] {
    EngineConfig f = cfg;
    f.node_rank = 1;
    CommBackend broken = host_backend();
    broken.factory = [](int, const std::vector<uint8_t>&) -> core::Result<CommFactory> {
      return CommFactory([](int rank) -> core::Result<std::unique_ptr<dist::Communicator>> {
        return core::internal_error("rank {} has no communicator", rank);
      });
    };
    follower_status = follow_tp_leader(f, broken);
  });
  auto leader = start_tp_leader(cfg, host_backend());
  ASSERT_TRUE(leader.ok()) << leader.status().to_string();
  auto free = tp_min_free_memory(*leader);
  follower.join();
  ASSERT_FALSE(free.ok());
  EXPECT_NE(free.status().message().find("node 1"), std::string::npos) << free.status().to_string();
  EXPECT_NE(free.status().message().find("rank 1 has no communicator"), std::string::npos)
      << free.status().to_string();
  EXPECT_FALSE(follower_status.ok());
}

}  // namespace
}  // namespace lightllm::engine
