// Decode CUDA graphs on the GPU (ctest label `cuda`): the same golden model is loaded twice,
// one copy eager (no graphs) and one with graphs (max batch 16), and both are fed the very same
// steps — same req_to_token rows and shuffled KV slots, teacher-forced with the eager copy's
// greedy tokens. Every family runs: the LLaMA family (LlamaModel) and every golden of the other
// families (the generic DecoderModel: ALiBi, learned positions, parallel residual, embedding
// norm, per-head q/k norms, biases, logit scale, partial and interleaved rotary). The schedule
// changes the batch so that graphs of several sizes run, padded (7 -> 8, 3 -> 4, 5 -> 8,
// 13 -> 16) and exact (1, 16), with prefill and mixed steps (eager in both) in between,
// requests finishing and new ones joining and reusing their slots (KV churn), and a 17-request
// step beyond the graph limit (eager). Every decode step's logits must agree within kTol of the
// row's largest |logit| (bf16 on both sides; the graph's padded GEMM and its kv-length bucket
// may change the summation order), and the greedy token must be the same wherever the eager
// top-2 margin exceeds kTieMargin. Then a long prompt runs a batch of 2 in its kv-length bucket
// (512; 256 for learned positions, whose table is shorter), and two last phases run short
// requests only and long ones only.
// The stats must count exactly the replays, captures and eager steps the schedule implies:
// rotary with per-request tables (dynamic NTK, longrope) replays only steps whose requests all
// use one table (all within the trained length; for longrope also all beyond it, the long
// table), and Qwen v1 (a family position step with host state) stays eager with every step
// counted. Steps of the graph copy rotate between forward() into host logits and
// start_forward/finish_forward into page-locked logits or into device logits (the runner's
// asynchronous paths; a graph step then points the device logits at its own rows). A layer-level
// check proves the rotary claim behind those replays bit for bit: self_attention with
// graph_attention's one table equals the eager per-request tables. Each model runs in a
// thread of its own, as the engine runs a model on its runner thread: the ops' per-thread
// device state (cuBLASLt handle, the resident rotary tables graphs read) starts fresh.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

#include <fstream>
#include <set>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/layers/cuda_graph.h"
#include "models/layers/step_staging.h"
#include "models/llama_family.h"
#include "models/model.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

using namespace lightllm;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 0.03;
constexpr double kTieMargin = 0.05;
constexpr int kMaxReqs = 24;
constexpr int64_t kStride = 512;     // req_to_token columns = the graphs' max kv_len
constexpr int64_t kCapacity = 2048;  // KV slots handed to requests
constexpr int kGraphMaxBatch = 16;

// The rotary tables of a golden's requests, from its config.json as transformers reads it:
// dynamic NTK rescales a sequence longer than max_position_embeddings; longrope uses the long
// factors for a sequence longer than original_max_position_embeddings.
struct RopeRule {
  std::string type;  // "dynamic", "longrope" or "" (one table for every request)
  int64_t limit = 0;
  // The one table a step whose requests have these kv lengths uses, or mixed.
  models::GraphRope table(const std::vector<int32_t>& kv_lens) const {
    const auto beyond =
        std::count_if(kv_lens.begin(), kv_lens.end(), [&](int32_t kv) { return kv > limit; });
    if (type.empty() || beyond == 0) return models::GraphRope::base;
    if (type == "longrope" && beyond == static_cast<int64_t>(kv_lens.size()))
      return models::GraphRope::longer;
    return models::GraphRope::mixed;
  }
};

RopeRule rope_rule(const std::string& dir) {
  std::ifstream f(dir + "/config.json");
  const nlohmann::json c = nlohmann::json::parse(f);
  const auto rs = c.find("rope_scaling");
  if (rs == c.end() || !rs->is_object()) return {};
  const std::string type = rs->value("rope_type", rs->value("type", std::string()));
  if (type == "dynamic") return {type, c.at("max_position_embeddings").get<int64_t>()};
  if (type == "longrope" || type == "su")
    return {"longrope", c.at("original_max_position_embeddings").get<int64_t>()};
  return {};
}

struct Seq {
  int row = -1;
  int32_t len = 0;
  std::vector<int32_t> feed;
  bool active = false;
};

class Driver {
 public:
  // `graphs`: the graph copy may replay decode steps at all (not excluded); `rope`: its tables.
  Driver(models::Model& eager, models::Model& graphed, bool graphs, RopeRule rope)
      : eager_(eager),
        graphed_(graphed),
        graphs_(graphs),
        rope_(std::move(rope)),
        table_(static_cast<size_t>(kMaxReqs * kStride), -1),
        builder_(table_.data(), kStride),
        rng_(11) {
    const auto& s = eager.shape();
    auto a = models::KvStorage::allocate_on(core::Device::cuda, s.n_layers, kCapacity, s.n_kv_heads,
                                            s.head_dim, eager.activation_dtype());
    auto b = models::KvStorage::allocate_on(core::Device::cuda, s.n_layers, kCapacity + 1,
                                            s.n_kv_heads, s.head_dim, graphed.activation_dtype());
    if (!a.ok() || !b.ok()) throw std::runtime_error("KV allocation failed");
    kv_eager_ = std::move(a).value();
    kv_graph_ = std::move(b).value();
    kv_graph_.scratch_slot = kCapacity;  // never handed to a request
    free_.resize(kCapacity);
    std::iota(free_.begin(), free_.end(), 0);
    std::shuffle(free_.begin(), free_.end(), rng_);
    seqs_.resize(kMaxReqs);
  }

  // Starts a request on a free row with a random prompt of `len` tokens.
  void start(int len) {
    for (int r = 0; r < kMaxReqs; ++r) {
      Seq& s = seqs_[static_cast<size_t>(r)];
      if (s.active) continue;
      s = Seq{.row = r, .len = 0, .active = true};
      std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(eager_.shape().vocab) - 1);
      for (int i = 0; i < len; ++i) s.feed.push_back(id(rng_));
      return;
    }
    throw std::runtime_error("no free request row");
  }
  // Ends the first `n` active requests; their slots go back to the pool in random order.
  void finish(int n) {
    for (Seq& s : seqs_) {
      if (n == 0) break;
      if (!s.active) continue;
      std::vector<int32_t> slots(table_.begin() + s.row * kStride,
                                 table_.begin() + s.row * kStride + s.len);
      std::shuffle(slots.begin(), slots.end(), rng_);
      free_.insert(free_.end(), slots.begin(), slots.end());
      s.active = false;
      --n;
    }
  }
  int active() const {
    return static_cast<int>(
        std::count_if(seqs_.begin(), seqs_.end(), [](auto& s) { return s.active; }));
  }

  // One step over every active request on both models; compares the logits.
  void step() {
    std::vector<models::StepSegment> segs;
    std::vector<Seq*> order;
    bool decode_only = true;
    for (Seq& s : seqs_) {
      if (!s.active) continue;
      for (size_t i = 0; i < s.feed.size(); ++i) {
        ASSERT_FALSE(free_.empty());
        table_[static_cast<size_t>(s.row * kStride + s.len) + i] = free_.back();
        free_.pop_back();
      }
      decode_only = decode_only && s.feed.size() == 1;
      segs.push_back({.req_row = s.row, .tokens = s.feed, .cached_len = s.len});
      order.push_back(&s);
    }
    const models::StepBatch& batch = builder_.build(segs);
    const int64_t n = static_cast<int64_t>(order.size()), vocab = eager_.shape().vocab;
    expect(decode_only, batch);
    core::Tensor le = core::Tensor::empty({n, vocab}, core::DType::f32);
    auto st = eager_.forward(batch, kv_eager_, le);
    ASSERT_TRUE(st.ok()) << st.to_string();
    // Steps 1, 4, 7, ... take the asynchronous path into page-locked logits, steps 2, 5, 8, ...
    // into device logits (device sampling), the others forward().
    core::Tensor lg;
    if (steps_ % 3 == 1) {
      auto pinned = ops::empty_pinned({n, vocab}, core::DType::f32);
      ASSERT_TRUE(pinned.ok()) << pinned.status().to_string();
      lg = std::move(pinned).value();
      st = graphed_.start_forward(batch, kv_graph_, lg);
      ASSERT_TRUE(st.ok()) << st.to_string();
      st = graphed_.finish_forward();
    } else if (steps_ % 3 == 2) {
      auto dev = ops::empty_on(core::Device::cuda, {n, vocab}, core::DType::f32);
      ASSERT_TRUE(dev.ok()) << dev.status().to_string();
      core::Tensor on_device = std::move(dev).value();
      st = graphed_.start_forward(batch, kv_graph_, on_device);
      ASSERT_TRUE(st.ok()) << st.to_string();
      ASSERT_TRUE(graphed_.finish_forward().ok());
      ASSERT_EQ(on_device.device(), core::Device::cuda);
      ASSERT_EQ(on_device.shape(), (core::Shape{n, vocab}));
      lg = core::Tensor::empty({n, vocab}, core::DType::f32);
      st = ops::copy_to_host(on_device, lg);
    } else {
      lg = core::Tensor::empty({n, vocab}, core::DType::f32);
      st = graphed_.forward(batch, kv_graph_, lg);
    }
    ASSERT_TRUE(st.ok()) << st.to_string();
    for (int64_t r = 0; r < n; ++r) {
      const float* e = le.data<float>() + r * vocab;
      const float* g = lg.data<float>() + r * vocab;
      double scale = 1e-30, err = 0;
      for (int64_t i = 0; i < vocab; ++i) scale = std::max(scale, std::abs(double{e[i]}));
      for (int64_t i = 0; i < vocab; ++i) err = std::max(err, std::abs(double{g[i]} - e[i]));
      worst_ = std::max(worst_, err / scale);
      EXPECT_LE(err / scale, kTol) << "step " << steps_ << " row " << r << " of " << n
                                   << (decode_only ? " (decode)" : " (prefill/mixed)");
      const int32_t best_e = static_cast<int32_t>(std::max_element(e, e + vocab) - e);
      const int32_t best_g = static_cast<int32_t>(std::max_element(g, g + vocab) - g);
      float second = -1e30f;
      for (int64_t i = 0; i < vocab; ++i)
        if (i != best_e) second = std::max(second, e[i]);
      if (e[best_e] - second > kTieMargin) {
        ++compared_;
        EXPECT_EQ(best_g, best_e) << "step " << steps_ << " row " << r;
      }
      Seq& s = *order[static_cast<size_t>(r)];
      s.len += static_cast<int32_t>(s.feed.size());
      s.feed = {best_e};  // teacher-forced: both copies continue with the eager token
    }
    ++steps_;
  }

  double worst() const { return worst_; }
  int compared() const { return compared_; }
  int steps() const { return steps_; }
  // What the schedule so far implies for the graph copy's stats.
  models::CudaGraphStats expected() const {
    return {.captured = static_cast<int64_t>(keys_.size()),
            .replays = replays_,
            .eager_steps = steps_ - replays_};
  }
  // Replayed steps that used longrope's long table.
  int long_table_replays() const { return long_replays_; }

 private:
  // Counts `batch` as a replay (under its graph's key) or an eager step of the graph copy.
  void expect(bool decode_only, const models::StepBatch& batch) {
    const int32_t n = batch.attn.n_reqs;
    std::vector<int32_t> kv(batch.attn.kv_len, batch.attn.kv_len + n);
    const int32_t max_kv = kv.empty() ? 0 : *std::max_element(kv.begin(), kv.end());
    const models::GraphRope table = rope_.table(kv);
    if (!graphs_ || !decode_only || n > kGraphMaxBatch || max_kv > kStride ||
        table == models::GraphRope::mixed)
      return;
    ++replays_;
    if (table == models::GraphRope::longer) ++long_replays_;
    keys_.insert({models::graph_padded_batch(models::graph_batch_sizes(kGraphMaxBatch), n),
                  models::graph_kv_bucket(max_kv, kStride), static_cast<int>(table)});
  }

  models::Model& eager_;
  models::Model& graphed_;
  bool graphs_;
  RopeRule rope_;
  std::set<std::tuple<int, int, int>> keys_;  // (padded batch, kv bucket, rotary table)
  int64_t replays_ = 0;
  int long_replays_ = 0;
  std::vector<int32_t> table_;
  models::StepBatchBuilder builder_;
  models::KvStorage kv_eager_, kv_graph_;
  std::vector<int32_t> free_;
  std::vector<Seq> seqs_;
  std::mt19937 rng_;
  double worst_ = 0;
  int compared_ = 0;
  int steps_ = 0;
};

std::string golden_dir(const char* name) {
  return std::string(LIGHTLLM_TEST_DATA_DIR) + "/models/" + name;
}

std::vector<std::string> llama_family_goldens() {
  std::vector<std::string> dirs;
  for (const char* name :
       {"llama-bf16", "llama-f32", "llama-rope-linear-bf16", "llama-rope-llama3-bf16",
        "llama-rope-dynamic-bf16", "mistral-bf16", "qwen2-bf16", "internlm-bf16", "minicpm-bf16"})
    dirs.push_back(golden_dir(name));
  return dirs;
}

// Every golden (as model_cuda_test finds them: a folder with golden.json) whose architecture is
// not one of the LLaMA family's: the families of the generic decoder, f32 and bf16.
std::vector<std::string> decoder_family_goldens() {
  const std::vector<std::string> llama = models::llama_family_architectures();
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(golden_dir(""))) {
    if (!fs::exists(e.path() / "golden.json")) continue;
    std::ifstream f(e.path() / "config.json");
    const std::string arch = nlohmann::json::parse(f).at("architectures").at(0).get<std::string>();
    if (std::find(llama.begin(), llama.end(), arch) == llama.end())
      dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// Decode steps that graph_exclusion() keeps eager: Qwen v1's position step (host state per
// request row).
bool excluded(const std::string& dir) {
  return fs::path(dir).filename().string().find("qwen1") != std::string::npos;
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

void replay_matches_eager(const std::string& dir) {
  auto eager = models::load_model(dir, core::Device::cuda);
  ASSERT_TRUE(eager.ok()) << eager.status().to_string();
  auto graphed = models::load_model(dir, core::Device::cuda);
  ASSERT_TRUE(graphed.ok()) << graphed.status().to_string();
  ASSERT_TRUE(
      (*graphed)->set_cuda_graphs({.max_batch = kGraphMaxBatch, .max_kv_len = kStride}).ok());
  const RopeRule rope = rope_rule(dir);
  Driver d(**eager, **graphed, !excluded(dir), rope);

  for (int i = 0; i < 7; ++i) d.start(3 + 3 * i);  // prompts of 3..21 tokens
  d.step();                                        // prefill (eager)
  for (int i = 0; i < 6; ++i) d.step();            // 7 -> graph of 8
  d.finish(4);
  for (int i = 0; i < 4; ++i) d.step();  // 3 -> graph of 4
  d.start(5);
  d.start(9);
  d.step();                              // mixed: 2 prefills + 3 decodes (eager)
  for (int i = 0; i < 5; ++i) d.step();  // 5 -> 8, slots reused from finished requests
  d.finish(d.active() - 1);
  for (int i = 0; i < 4; ++i) d.step();  // 1 -> graph of 1
  while (d.active() < 13) d.start(4);
  d.step();                              // mixed
  for (int i = 0; i < 4; ++i) d.step();  // 13 -> 16
  while (d.active() < 16) d.start(2);
  d.step();
  for (int i = 0; i < 3; ++i) d.step();  // 16 exactly
  d.start(3);
  d.step();
  for (int i = 0; i < 3; ++i) d.step();  // 17 > graph max: eager in both
  d.finish(d.active());
  // Learned positions (GPTBigCode) end at the table: the long prompt stays inside it.
  const models::ModelShape& shape = (*eager)->shape();
  const bool learned_positions = shape.architecture == "GPTBigCodeForCausalLM";
  const int long_prompt = learned_positions ? static_cast<int>(shape.max_context) - 8 : 300;
  ASSERT_GT(long_prompt, 100);
  d.start(long_prompt);
  d.start(10);
  d.step();                              // prefill
  for (int i = 0; i < 3; ++i) d.step();  // 2 -> graph of 2 in the long prompt's kv bucket
  d.finish(d.active());
  for (int i = 0; i < 3; ++i) d.start(3);
  d.step();                              // prefill
  for (int i = 0; i < 4; ++i) d.step();  // 3 -> 4, every kv_len <= 8: the trained length
  d.finish(d.active());
  d.start(60);
  d.start(70);
  d.step();                              // prefill
  for (int i = 0; i < 3; ++i) d.step();  // 2 -> 2 in bucket 256, kv_len 61..73: beyond it

  const models::CudaGraphStats st = (*graphed)->cuda_graph_stats();
  const models::CudaGraphStats want = d.expected();
  std::cout << fs::path(dir).filename().string() << ": max logit error " << d.worst()
            << ", greedy compared " << d.compared() << ", graphs captured " << st.captured
            << ", replays " << st.replays << " (long rotary table " << d.long_table_replays()
            << "), eager steps " << st.eager_steps << "\n";
  EXPECT_GT(d.compared(), 100);
  EXPECT_EQ(st.captured, want.captured);
  EXPECT_EQ(st.replays, want.replays);
  EXPECT_EQ(st.eager_steps, want.eager_steps);
  if (excluded(dir)) {
    EXPECT_EQ(st.replays, 0) << "these decode steps must not use graphs";
    EXPECT_EQ(st.eager_steps, d.steps()) << "every step eager, counted while graphs are requested";
  } else if (rope.type.empty()) {
    // (batch, kv bucket): (8, 256), (4, 256), (1, 256), (16, 256), (2, 512 or 256), and
    // (2, 256) for the last phase unless the long prompt's phase captured it already
    EXPECT_EQ(st.captured, learned_positions ? 5 : 6);
    EXPECT_EQ(st.replays, 36);      // 6 + 4 + 5 + 4 + 4 + 3 + 3 + 4 + 3 decode-only steps within 16
    EXPECT_EQ(st.eager_steps, 11);  // 4 prefill + 4 mixed + 3 steps of 17
  } else {
    EXPECT_GE(st.replays, 4) << "the short phase replays with the unscaled table";
    if (rope.type == "longrope") {
      EXPECT_GE(d.long_table_replays(), 3) << "the long phase";
    }
  }
}

class CudaGraphReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaGraphReplay, MatchesEagerAcrossBatchSizesPaddingAndKvChurn) {
  std::thread t([dir = GetParam()] { replay_matches_eager(dir); });
  t.join();
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGraphReplay, ::testing::ValuesIn(llama_family_goldens()),
                         name_of);
INSTANTIATE_TEST_SUITE_P(DecoderFamilies, CudaGraphReplay,
                         ::testing::ValuesIn(decoder_family_goldens()), name_of);

// The attention layer with per-request rotary tables (longrope, dynamic NTK) over one decode
// step, eagerly (layers/attention.cpp: a rotary launch per request with its own table) and in the
// form graphs run it (graph_attention of the table graph_rope_table picks: one launch over every
// row): same staged batch, weights, KV pool and inputs, so the outputs must be equal bit for bit.
TEST(GraphRopeLayer, OneTableLaunchEqualsThePerRequestTablesBitForBit) {
  std::thread t([] {
    constexpr int kHeads = 4, kKvHeads = 2, kHeadDim = 32, kHidden = 64;
    constexpr int64_t kRowStride = 256, kSlots = 8 * kRowStride;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    auto random_dev = [&](core::Shape shape) {
      core::Tensor h = core::Tensor::empty(shape, core::DType::f32);
      for (int64_t i = 0; i < h.numel(); ++i) h.data<float>()[i] = normal(rng);
      auto d = ops::to_device(h, core::Device::cuda, core::DType::bf16);
      if (!d.ok()) throw std::runtime_error(d.status().to_string());
      return std::move(d).value();
    };
    models::layers::AttentionWeights w{.wq = random_dev({kHeads * kHeadDim, kHidden}),
                                       .wk = random_dev({kKvHeads * kHeadDim, kHidden}),
                                       .wv = random_dev({kKvHeads * kHeadDim, kHidden}),
                                       .wo = random_dev({kHidden, kHeads * kHeadDim})};
    auto kv = models::KvStorage::allocate_on(core::Device::cuda, 1, kSlots, kKvHeads, kHeadDim,
                                             core::DType::bf16);
    ASSERT_TRUE(kv.ok()) << kv.status().to_string();
    std::vector<int32_t> table(static_cast<size_t>(8 * kRowStride));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);  // distinct slots in random order
    models::StepBatchBuilder builder(table.data(), kRowStride);
    models::Workspace ws;
    ws.set_device(core::Device::cuda, core::DType::bf16);

    struct Case {
      ops::RopeScaling scaling;
      std::vector<int32_t> cached;  // kv_len = cached + 1
      models::GraphRope want;
    };
    const Case cases[] = {
        {ops::RopeScaling::longrope, {3, 20, 47}, models::GraphRope::base},      // short factors
        {ops::RopeScaling::longrope, {48, 90, 200}, models::GraphRope::longer},  // long factors
        {ops::RopeScaling::dynamic_ntk, {0, 30, 47}, models::GraphRope::base},   // unscaled
    };
    for (const Case& c : cases) {
      models::layers::AttentionShape a{
          .n_heads = kHeads, .n_kv_heads = kKvHeads, .head_dim = kHeadDim};
      a.rope.rotary_dim = kHeadDim;
      a.rope.original_max_position = 48;
      a.rope.scaling = c.scaling;
      if (c.scaling == ops::RopeScaling::longrope) {
        for (int i = 0; i < kHeadDim / 2; ++i) {
          a.rope.short_factor.push_back(1.0f + 0.1f * static_cast<float>(i));
          a.rope.long_factor.push_back(2.0f + 0.7f * static_cast<float>(i));
        }
        a.rope.attention_factor = 1.19;
      } else {
        a.rope.factor = 2.0;
      }
      models::layers::init_rope(a);
      const int32_t tok[] = {1};
      std::vector<models::StepSegment> segs;
      for (size_t r = 0; r < c.cached.size(); ++r)
        segs.push_back(
            {.req_row = static_cast<int32_t>(r), .tokens = tok, .cached_len = c.cached[r]});
      const models::StepBatch& host = builder.build(segs);
      const models::GraphRope picked = models::graph_rope_table(a, host);
      ASSERT_EQ(picked, c.want);
      const models::layers::AttentionShape g = models::graph_attention(a, picked);
      auto staged = models::stage_step(host, 2, kSlots, ws);
      ASSERT_TRUE(staged.ok()) << staged.status().to_string();
      staged->attn.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
      const int64_t n = host.n_tokens();
      const core::Tensor h = random_dev({n, kHidden});
      std::vector<core::Tensor> outs;
      for (const models::layers::AttentionShape* shape :
           {static_cast<const models::layers::AttentionShape*>(&a), &g}) {
        auto out = ops::empty_on(core::Device::cuda, {n, kHidden}, core::DType::bf16);
        ASSERT_TRUE(out.ok());
        auto st = models::layers::self_attention(w, *shape, h, *staged, kv->layers[0], ws, *out);
        ASSERT_TRUE(st.ok()) << st.to_string();
        core::Tensor back = core::Tensor::empty({n, kHidden}, core::DType::f32);
        ASSERT_TRUE(ops::copy_to_host_f32(*out, back).ok());
        outs.push_back(back);
      }
      // bf16 -> f32 is exact: equal floats are equal bf16 bits
      EXPECT_EQ(std::memcmp(outs[0].raw(), outs[1].raw(), outs[0].nbytes()), 0)
          << "rope scaling " << static_cast<int>(c.scaling) << ", table "
          << static_cast<int>(picked);
      double sum = 0;
      for (int64_t i = 0; i < outs[0].numel(); ++i) sum += std::abs(outs[0].data<float>()[i]);
      EXPECT_GT(sum, 0.0) << "the layer computed something";
    }
  });
  t.join();
}

}  // namespace
