// The host side of decode CUDA graphs (src/models/layers/cuda_graph.h), on the CPU: captured
// batch sizes and padding, kv-length buckets, the fixed input layout, which steps a graph may
// run, the padded inputs pack_graph_decode builds (checked field by field against the
// StepBatch it came from), which models stay eager (graph_exclusion) and how a model's
// configuration turns graphs on or keeps them off (configure_for_model). Replay itself is tested on
// the GPU (tests/cuda/cuda_graph_test.cpp).
#include <numeric>

#include <gtest/gtest.h>

#include "models/layers/cuda_graph.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

using namespace lightllm;
using models::InputLayout;

namespace {

TEST(GraphBuckets, BatchSizesAscendEndAtTheMaxAndCoverEveryBatch) {
  EXPECT_TRUE(models::graph_batch_sizes(0).empty());
  EXPECT_EQ(models::graph_batch_sizes(1), (std::vector<int>{1}));
  EXPECT_EQ(models::graph_batch_sizes(20), (std::vector<int>{1, 2, 4, 8, 16, 20}));
  EXPECT_EQ(models::graph_batch_sizes(128),
            (std::vector<int>{1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128}));
  EXPECT_EQ(models::graph_batch_sizes(300),
            (std::vector<int>{1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 300}));
  for (int max : {1, 3, 17, 128, 200, 513}) {
    const std::vector<int> sizes = models::graph_batch_sizes(max);
    ASSERT_FALSE(sizes.empty());
    EXPECT_EQ(sizes.back(), max);
    EXPECT_TRUE(std::is_sorted(sizes.begin(), sizes.end()));
    EXPECT_EQ(std::adjacent_find(sizes.begin(), sizes.end()), sizes.end()) << "duplicates";
    for (int n = 1; n <= max; ++n) {
      const int b = models::graph_padded_batch(sizes, n);
      ASSERT_GE(b, n);
      // b is the smallest captured size that fits n
      EXPECT_TRUE(std::find(sizes.begin(), sizes.end(), b) != sizes.end());
      for (int s : sizes) {
        if (s >= n) {
          EXPECT_LE(b, s);
        }
      }
    }
    EXPECT_EQ(models::graph_padded_batch(sizes, max + 1), 0);
  }
}

TEST(GraphBuckets, KvBucketsArePowersOfTwoCappedAtTheLimit) {
  EXPECT_EQ(models::graph_kv_bucket(1, 4096), models::kMinKvBucket);
  EXPECT_EQ(models::graph_kv_bucket(256, 4096), 256);
  EXPECT_EQ(models::graph_kv_bucket(257, 4096), 512);
  EXPECT_EQ(models::graph_kv_bucket(3000, 4096), 4096);
  EXPECT_EQ(models::graph_kv_bucket(3000, 3500), 3500);  // capped at a non-power-of-two limit
  EXPECT_EQ(models::graph_kv_bucket(100, 64), 0);        // longer than the limit: no graph
  EXPECT_EQ(models::graph_kv_bucket(10, 64), 64);
  for (int kv = 1; kv <= 5000; kv += 37) {
    const int b = models::graph_kv_bucket(kv, 5000);
    EXPECT_GE(b, kv);
    EXPECT_LE(b, 5000);
  }
}

TEST(GraphBuckets, InputLayoutRegionsDoNotOverlap) {
  const InputLayout l{.max_batch = 48, .stride = 300};
  EXPECT_EQ(l.positions() - l.ids(), 48);
  EXPECT_EQ(l.slots() - l.positions(), 48);
  EXPECT_EQ(l.q_start() - l.slots(), 48);
  EXPECT_EQ(l.kv_len() - l.q_start(), 49);  // q_start has max_batch + 1 entries
  EXPECT_EQ(l.req_row() - l.kv_len(), 48);
  EXPECT_EQ(l.feed() - l.req_row(), 48);
  EXPECT_EQ(l.header_size() - l.feed(), 96);  // [2, max_batch]
  EXPECT_GE(l.req_to_token(), l.header_size());
  EXPECT_EQ(l.req_to_token() % 64, 0);  // 256-byte aligned rows start
  EXPECT_EQ(l.total(), l.req_to_token() + 49 * 300);
}

// A table of 4 request rows (stride 64) with distinct slots, and a builder over it.
struct Fixture {
  static constexpr int64_t kStride = 64, kCapacity = 1000, kVocab = 50;
  std::vector<int32_t> table = std::vector<int32_t>(4 * kStride);
  models::StepBatchBuilder builder{table.data(), kStride};
  Fixture() {
    for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>((i * 37 + 5) % 997);
  }
};

TEST(GraphDecodeStep, OnlyOneTokenPerRequestWithEveryRowsLogitsQualifies) {
  Fixture f;
  const int32_t a[] = {3}, b[] = {7}, pre[] = {1, 2, 3};
  std::vector<models::StepSegment> decode = {{.req_row = 2, .tokens = a, .cached_len = 10},
                                             {.req_row = 0, .tokens = b, .cached_len = 4}};
  EXPECT_TRUE(models::is_graph_decode_step(f.builder.build(decode)));
  std::vector<models::StepSegment> mixed = {{.req_row = 2, .tokens = a, .cached_len = 10},
                                            {.req_row = 0, .tokens = pre, .cached_len = 0}};
  EXPECT_FALSE(models::is_graph_decode_step(f.builder.build(mixed)));
  std::vector<models::StepSegment> no_logits = {
      {.req_row = 2, .tokens = a, .cached_len = 10, .wants_logits = false},
      {.req_row = 0, .tokens = b, .cached_len = 4}};
  EXPECT_FALSE(models::is_graph_decode_step(f.builder.build(no_logits)));
  EXPECT_FALSE(models::is_graph_decode_step(f.builder.build({})));
}

TEST(GraphDecodeStep, PackedInputsArePaddedAndMatchTheBatch) {
  Fixture f;
  const int32_t t0[] = {3}, t1[] = {7}, t2[] = {11};
  std::vector<models::StepSegment> segs = {{.req_row = 2, .tokens = t0, .cached_len = 10},
                                           {.req_row = 0, .tokens = t1, .cached_len = 4},
                                           {.req_row = 3, .tokens = t2, .cached_len = 0}};
  const models::StepBatch& batch = f.builder.build(segs);
  const InputLayout l{.max_batch = 8, .stride = 32};
  const int64_t scratch = 999;
  std::vector<int32_t> staging;
  models::PackedDecode p;
  ASSERT_TRUE(models::pack_graph_decode(batch, l, 4, Fixture::kVocab, Fixture::kCapacity, scratch,
                                        staging, p)
                  .ok());
  ASSERT_EQ(p.padded, 4);
  ASSERT_EQ(static_cast<int64_t>(p.header.size()), l.header_size());
  EXPECT_EQ(p.packed.max_kv_len, 11);
  auto h = [&](int64_t off, int r) { return p.header[static_cast<size_t>(off + r)]; };
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(h(l.ids(), r), batch.token_ids.data<int32_t>()[r]);
    EXPECT_EQ(h(l.positions(), r), batch.positions.data<int32_t>()[r]);
    EXPECT_EQ(h(l.slots(), r), batch.out_slots.data<int32_t>()[r]);
    EXPECT_EQ(h(l.kv_len(), r), batch.attn.kv_len[r]);
    EXPECT_EQ(h(l.req_row(), r), r);
    // row r of the compacted req_to_token holds request r's slots
    const int32_t* want = f.table.data() + int64_t{batch.attn.req_row[r]} * Fixture::kStride;
    const int32_t* got = staging.data() + p.packed.off_r2t + int64_t{r} * p.packed.stride;
    for (int j = 0; j < batch.attn.kv_len[r]; ++j) EXPECT_EQ(got[j], want[j]) << r << "," << j;
  }
  // the padding row: token 0 at position 0, K/V to the scratch slot, attends to itself only
  EXPECT_EQ(h(l.ids(), 3), 0);
  EXPECT_EQ(h(l.positions(), 3), 0);
  EXPECT_EQ(h(l.slots(), 3), scratch);
  EXPECT_EQ(h(l.kv_len(), 3), 1);
  EXPECT_EQ(h(l.req_row(), 3), l.padding_row());
  for (int r = 0; r <= 4; ++r) EXPECT_EQ(h(l.q_start(), r), r);
}

TEST(GraphDecodeStep, PackingRejectsWhatAGraphCannotRun) {
  Fixture f;
  const int32_t t0[] = {3}, t1[] = {7}, bad_id[] = {Fixture::kVocab};
  std::vector<models::StepSegment> two = {{.req_row = 2, .tokens = t0, .cached_len = 40},
                                          {.req_row = 0, .tokens = t1, .cached_len = 4}};
  const InputLayout l{.max_batch = 8, .stride = 32};
  std::vector<int32_t> staging;
  models::PackedDecode p;
  auto pack = [&](const models::StepBatch& b, const InputLayout& lay, int padded, int64_t scratch) {
    return models::pack_graph_decode(b, lay, padded, Fixture::kVocab, Fixture::kCapacity, scratch,
                                     staging, p);
  };
  // kv_len 41 > stride 32
  EXPECT_FALSE(pack(f.builder.build(two), l, 2, 999).ok());
  const InputLayout wide{.max_batch = 8, .stride = 64};
  EXPECT_TRUE(pack(f.builder.build(two), wide, 2, 999).ok());
  EXPECT_FALSE(pack(f.builder.build(two), wide, 1, 999).ok());   // padded below n
  EXPECT_FALSE(pack(f.builder.build(two), wide, 9, 999).ok());   // above the capacity
  EXPECT_FALSE(pack(f.builder.build(two), wide, 2, 1000).ok());  // scratch outside the pool
  EXPECT_FALSE(pack(f.builder.build(two), wide, 2, -1).ok());
  std::vector<models::StepSegment> bad = {{.req_row = 1, .tokens = bad_id, .cached_len = 0}};
  EXPECT_FALSE(pack(f.builder.build(bad), wide, 1, 999).ok());  // id outside the vocabulary
}

// Ids the step takes from the device (the previous step's samples, still there): -1 on the
// host, not range-checked, their (row, source) pairs packed for ops::upload_step — in the
// eager layout (pack_step) and in the graph header.
TEST(GraphDecodeStep, DeviceFedIdsArePackedAsRowsThenSources) {
  Fixture f;
  const int32_t t0[] = {-1}, t1[] = {7}, t2[] = {-1};
  std::vector<models::StepSegment> segs = {{.req_row = 2, .tokens = t0, .cached_len = 10},
                                           {.req_row = 0, .tokens = t1, .cached_len = 4},
                                           {.req_row = 3, .tokens = t2, .cached_len = 2}};
  models::StepBatch batch = f.builder.build(segs);
  int32_t samples[6] = {};  // stands for the device ids: only the metadata is read on the host
  const core::Tensor sampled =
      core::Tensor::view(samples, {6}, core::DType::i32, core::Device::cuda);
  batch.device_feed = {.sampled = sampled, .rows = {0, 2}, .sources = {5, 1}};
  std::vector<int32_t> h;
  auto packed = models::pack_step(batch, Fixture::kVocab, Fixture::kCapacity, h);
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  ASSERT_EQ(packed->n_feed, 2);
  EXPECT_EQ(packed->total, packed->off_feed + 4);
  const std::vector<int32_t> feed(h.begin() + packed->off_feed, h.end());
  EXPECT_EQ(feed, (std::vector<int32_t>{0, 2, 5, 1}));

  const InputLayout l{.max_batch = 8, .stride = 32};
  std::vector<int32_t> staging;
  models::PackedDecode p;
  ASSERT_TRUE(
      models::pack_graph_decode(batch, l, 4, Fixture::kVocab, Fixture::kCapacity, 999, staging, p)
          .ok());
  EXPECT_EQ(p.packed.n_feed, 2);
  EXPECT_EQ(std::vector<int32_t>(p.header.begin() + l.feed(), p.header.begin() + l.feed() + 4),
            (std::vector<int32_t>{0, 2, 5, 1}));
  EXPECT_EQ(p.header[static_cast<size_t>(l.ids() + 1)], 7);

  // Rows must ascend and name a -1 id; sources must be rows of `sampled`; without a feed a -1
  // id is out of the vocabulary.
  models::StepBatch bad = batch;
  bad.device_feed.rows = {2, 0};
  EXPECT_FALSE(models::pack_step(bad, Fixture::kVocab, Fixture::kCapacity, h).ok());
  bad.device_feed = {.sampled = sampled, .rows = {0, 2}, .sources = {5, 6}};
  EXPECT_FALSE(models::pack_step(bad, Fixture::kVocab, Fixture::kCapacity, h).ok());
  bad.device_feed = {.sampled = sampled, .rows = {0}, .sources = {5}};
  EXPECT_FALSE(models::pack_step(bad, Fixture::kVocab, Fixture::kCapacity, h).ok());
  bad.device_feed = {.sampled = core::Tensor::view(samples, {6}, core::DType::i32),
                     .rows = {0, 2},
                     .sources = {5, 1}};  // samples on the host: not a device feed
  EXPECT_FALSE(models::pack_step(bad, Fixture::kVocab, Fixture::kCapacity, h).ok());
}

TEST(GraphDecodeStep, DisabledGraphsAcceptNothing) {
  Fixture f;
  const int32_t t0[] = {3};
  std::vector<models::StepSegment> one = {{.req_row = 0, .tokens = t0, .cached_len = 4}};
  models::KvStorage kv = models::KvStorage::allocate(1, 16, 1, 16, core::DType::f32);
  kv.scratch_slot = 15;
  models::DecodeGraphs graphs;
  graphs.configure({.max_batch = 0, .max_kv_len = 64}, {.vocab = Fixture::kVocab});
  EXPECT_FALSE(graphs.enabled());
  EXPECT_FALSE(graphs.accepts(f.builder.build(one), kv));
  graphs.note_eager_step();
  EXPECT_EQ(graphs.stats().eager_steps, 0);  // only counted while graphs are on
}

TEST(GraphExclusion, OnlyTensorParallelAndFamilyPositionStepsKeepAModelEager) {
  models::layers::AttentionShape a{.n_heads = 4, .n_kv_heads = 2, .head_dim = 16};
  a.rope.rotary_dim = 16;
  for (ops::RopeScaling rs :
       {ops::RopeScaling::none, ops::RopeScaling::linear, ops::RopeScaling::llama3,
        ops::RopeScaling::dynamic_ntk, ops::RopeScaling::longrope}) {
    a.rope.scaling = rs;  // per-request tables are decided per step (graph_rope_table)
    EXPECT_EQ(models::graph_exclusion(a, false), "");
    EXPECT_NE(models::graph_exclusion(a, true), "") << "tensor-parallel shards stay eager";
  }
  a.position_fn = [](const models::StepBatch&, core::Tensor&, core::Tensor&) {
    return core::Status{};
  };
  EXPECT_NE(models::graph_exclusion(a, false), "") << "a family position step keeps host state";
}

// A decode step of requests with the given cached lengths (kv_len = cached + 1).
const models::StepBatch& decode_step(Fixture& f, std::vector<int32_t> cached) {
  static const int32_t tok[] = {3};
  std::vector<models::StepSegment> segs;
  for (size_t r = 0; r < cached.size(); ++r)
    segs.push_back({.req_row = static_cast<int32_t>(r), .tokens = tok, .cached_len = cached[r]});
  return f.builder.build(segs);
}

TEST(GraphRope, OneTableForEveryRequestAsTheEagerStepChoosesIt) {
  using models::GraphRope;
  Fixture f;
  models::layers::AttentionShape a{.n_heads = 2, .n_kv_heads = 2, .head_dim = 8};
  a.rope.rotary_dim = 8;
  a.rope.original_max_position = 16;
  for (ops::RopeScaling rs :
       {ops::RopeScaling::none, ops::RopeScaling::linear, ops::RopeScaling::llama3}) {
    a.rope.scaling = rs;  // one table whatever the lengths
    EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {3, 40})), GraphRope::base);
  }
  a.rope.scaling = ops::RopeScaling::dynamic_ntk;  // unscaled while kv_len <= 16
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {3, 15})), GraphRope::base);
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {3, 16})), GraphRope::mixed);
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {20, 40})), GraphRope::mixed);
  a.rope.scaling = ops::RopeScaling::longrope;  // short within 16, long beyond
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {3, 15})), GraphRope::base);
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {16, 40})), GraphRope::longer);
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {15, 16})), GraphRope::mixed);
  a.use_rope = false;  // ALiBi / learned positions
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {15, 16})), GraphRope::base);
  a.use_rope = true;
  a.position_fn = [](const models::StepBatch&, core::Tensor&, core::Tensor&) {
    return core::Status{};
  };
  EXPECT_EQ(models::graph_rope_table(a, decode_step(f, {3})), GraphRope::mixed);
}

TEST(GraphRope, GraphAttentionRotatesEveryRowWithTheChosenTable) {
  using models::GraphRope;
  models::layers::AttentionShape a{.n_heads = 2, .n_kv_heads = 2, .head_dim = 8};
  a.rope.rotary_dim = 8;
  a.rope.original_max_position = 16;
  a.rope.scaling = ops::RopeScaling::longrope;
  a.rope.short_factor = {1, 2, 3, 4};
  a.rope.long_factor = {5, 6, 7, 8};
  a.rope.attention_factor = 1.25;
  models::layers::init_rope(a);
  ASSERT_NE(a.inv_freq, a.inv_freq_long);
  const auto base = models::graph_attention(a, GraphRope::base);
  const auto longer = models::graph_attention(a, GraphRope::longer);
  for (const auto* g : {&base, &longer}) {
    EXPECT_EQ(g->rope.scaling, ops::RopeScaling::none);  // one rotary launch over every row
    EXPECT_EQ(g->rope.attention_factor, a.rope.attention_factor);
    EXPECT_EQ(g->rope.rotary_dim, a.rope.rotary_dim);
  }
  EXPECT_EQ(base.inv_freq, a.inv_freq);  // exactly the eager tables
  EXPECT_EQ(longer.inv_freq, a.inv_freq_long);

  a.rope.scaling = ops::RopeScaling::dynamic_ntk;
  a.rope.factor = 2;
  models::layers::init_rope(a);
  const auto dyn = models::graph_attention(a, GraphRope::base);
  EXPECT_EQ(dyn.rope.scaling, ops::RopeScaling::none);
  // the table eager computes per request for every kv_len within original_max_position
  for (int64_t kv : {1, 7, 16}) EXPECT_EQ(dyn.inv_freq, ops::rope_inv_freq(a.rope, kv));

  a.rope.scaling = ops::RopeScaling::llama3;  // not per request: unchanged
  const auto same = models::graph_attention(a, GraphRope::base);
  EXPECT_EQ(same.rope.scaling, ops::RopeScaling::llama3);
  EXPECT_EQ(same.inv_freq, a.inv_freq);
}

TEST(GraphExclusion, ConfigureForModelTurnsGraphsOnOnlyForCapturableCudaModels) {
  Fixture f;
  const int32_t t0[] = {3};
  std::vector<models::StepSegment> one = {{.req_row = 0, .tokens = t0, .cached_len = 4}};
  models::KvStorage kv = models::KvStorage::allocate(1, 16, 1, 16, core::DType::f32);
  kv.scratch_slot = 15;
  const models::DecodeGraphShape shape{.vocab = Fixture::kVocab};
  const models::CudaGraphOptions on{.max_batch = 8, .max_kv_len = 0};
  models::layers::AttentionShape attn{.n_heads = 1, .n_kv_heads = 1, .head_dim = 16};
  attn.rope.rotary_dim = 16;
  models::layers::AttentionShape qwen = attn;  // a family position step: excluded
  qwen.position_fn = [](const models::StepBatch&, core::Tensor&, core::Tensor&) {
    return core::Status{};
  };
  models::DecodeGraphs graphs;

  // Capturable: on when the build has CUDA; max_kv_len 0 takes the model's context (32).
  graphs.configure_for_model(on, core::Device::cuda, 32, shape, attn, false);
  EXPECT_EQ(graphs.enabled(), ops::cuda_built());
  EXPECT_EQ(graphs.accepts(f.builder.build(one), kv), ops::cuda_built());
  std::vector<models::StepSegment> long_one = {{.req_row = 0, .tokens = t0, .cached_len = 40}};
  EXPECT_FALSE(graphs.accepts(f.builder.build(long_one), kv)) << "kv_len 41 > max_context 32";
  // dynamic NTK: accepted within original_max_position only
  models::layers::AttentionShape dyn = attn;
  dyn.rope.scaling = ops::RopeScaling::dynamic_ntk;
  dyn.rope.original_max_position = 4;
  graphs.configure_for_model(on, core::Device::cuda, 32, shape, dyn, false);
  EXPECT_FALSE(graphs.accepts(f.builder.build(one), kv)) << "kv_len 5 > 4: a table of its own";
  std::vector<models::StepSegment> short_one = {{.req_row = 0, .tokens = t0, .cached_len = 3}};
  EXPECT_EQ(graphs.accepts(f.builder.build(short_one), kv), ops::cuda_built());

  // Excluded: off although requested, and every step counts as eager.
  for (auto [a, tp] : {std::pair{qwen, false}, std::pair{attn, true}}) {
    graphs.configure_for_model(on, core::Device::cuda, 64, shape, a, tp);
    EXPECT_FALSE(graphs.enabled());
    EXPECT_FALSE(graphs.accepts(f.builder.build(one), kv));
    graphs.note_eager_step();
    graphs.note_eager_step();
    EXPECT_EQ(graphs.stats().eager_steps, 2);
    EXPECT_EQ(graphs.stats().replays, 0);
  }

  // Not requested, or a model on the CPU: off, nothing counted.
  for (auto [opts, device] :
       {std::pair{models::CudaGraphOptions{.max_batch = 0}, core::Device::cuda},
        std::pair{on, core::Device::cpu}}) {
    for (const auto& a : {qwen, attn}) {
      graphs.configure_for_model(opts, device, 64, shape, a, false);
      EXPECT_FALSE(graphs.enabled());
      graphs.note_eager_step();
      EXPECT_EQ(graphs.stats().eager_steps, 0);
    }
  }
}

}  // namespace
