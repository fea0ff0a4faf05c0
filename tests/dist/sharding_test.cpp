// tests/dist/sharding_test.cpp — the sharding math at N = 1, 2, 4, 8: which heads, rows and
// columns each rank gets for every projection kind (column-parallel q/k/v and gate/up,
// row-parallel o and down, vocab-parallel embedding and lm_head), that the ranks' parts tile
// the whole weight exactly, and the errors for shapes that do not split.
#include "dist/sharding.h"

#include <gtest/gtest.h>

#include <set>

#include "dist/fake_communicator.h"
#include "models/layers/tensor_parallel.h"

namespace lightllm::dist {
namespace {

using core::DType;
using core::Tensor;
using models::layers::TensorParallel;

TEST(Sharding, QueryHeadsTileAndKvHeadsFollowTheirQueryHeads) {
  struct Case {
    int n_heads, n_kv;
  };
  for (Case c : {Case{8, 8}, Case{8, 2}, Case{8, 1}, Case{32, 8}, Case{16, 4}, Case{64, 8}}) {
    for (int world : {1, 2, 4, 8}) {
      std::vector<int> owner(static_cast<size_t>(c.n_heads), -1);
      std::set<int> kv_seen;
      for (int r = 0; r < world; ++r) {
        auto s = shard_heads(c.n_heads, c.n_kv, r, world);
        ASSERT_TRUE(s.ok()) << c.n_heads << "/" << c.n_kv << " world " << world;
        EXPECT_EQ(s->n_q, c.n_heads / world);
        EXPECT_EQ(s->kv_replicated, c.n_kv < world);
        EXPECT_EQ(s->n_kv, c.n_kv < world ? 1 : c.n_kv / world);
        const int group = c.n_heads / c.n_kv;  // query heads per KV head (HF repeat_kv)
        for (int h = s->q_head0; h < s->q_head0 + s->n_q; ++h) {
          EXPECT_EQ(owner[static_cast<size_t>(h)], -1);
          owner[static_cast<size_t>(h)] = r;
          // The global KV head of query head h must be the local KV head the local GQA
          // mapping gives it: kv_head0 + (h - q_head0) / (n_q / n_kv).
          EXPECT_EQ(h / group, s->kv_head0 + (h - s->q_head0) / (s->n_q / s->n_kv));
        }
        for (int k = s->kv_head0; k < s->kv_head0 + s->n_kv; ++k) kv_seen.insert(k);
        EXPECT_EQ(s->q_rows(16), (Range{s->q_head0 * 16, s->n_q * 16}));
        EXPECT_EQ(s->kv_rows(16), (Range{s->kv_head0 * 16, s->n_kv * 16}));
      }
      for (int o : owner) EXPECT_GE(o, 0);
      EXPECT_EQ(static_cast<int>(kv_seen.size()), c.n_kv);
    }
  }
}

TEST(Sharding, HeadsThatDoNotSplitAreClearErrors) {
  auto a = shard_heads(6, 6, 0, 4);  // BLOOM's 6 heads over 4 ranks
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), core::StatusCode::invalid_argument);
  EXPECT_NE(a.status().message().find("6 attention heads"), std::string::npos);
  EXPECT_FALSE(shard_heads(12, 6, 0, 4).ok());  // 6 KV heads over 4 ranks
  EXPECT_FALSE(shard_heads(24, 3, 0, 8).ok());  // 3 KV heads cannot be replicated over 8
  EXPECT_FALSE(shard_heads(8, 2, 2, 2).ok());   // rank out of range
  EXPECT_FALSE(shard_heads(8, 3, 0, 1).ok());   // heads not a multiple of KV heads
}

TEST(Sharding, EvenSplitAndVocab) {
  for (int world : {1, 2, 4, 8}) {
    int64_t next = 0;
    for (int r = 0; r < world; ++r) {
      auto s = even_split(128, r, world, "intermediate");
      ASSERT_TRUE(s.ok());
      EXPECT_EQ(s->start, next);
      EXPECT_EQ(s->size, 128 / world);
      next += s->size;
    }
    EXPECT_EQ(next, 128);
    for (int64_t vocab : {512, 513, 30, 5}) {
      int64_t covered = 0;
      for (int r = 0; r < world; ++r) {
        const VocabShard v = shard_vocab(vocab, r, world);
        EXPECT_EQ(v.padded, (vocab + world - 1) / world);
        EXPECT_EQ(v.start, std::min<int64_t>(r * v.padded, vocab));
        EXPECT_LE(v.size, v.padded);
        EXPECT_GE(v.size, 0);
        EXPECT_EQ(v.start, covered);
        covered += v.size;
      }
      EXPECT_EQ(covered, vocab);
    }
  }
  auto bad = even_split(130, 0, 4, "MLP intermediate size");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("MLP intermediate size 130"), std::string::npos);
}

// A [rows, cols] f32 weight whose element (i, j) is tag*1e6 + i*1000 + j.
Tensor tagged(int64_t rows, int64_t cols, int tag) {
  Tensor t = Tensor::empty({rows, cols}, DType::f32);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      t.data<float>()[i * cols + j] = static_cast<float>(tag * 1000000 + i * 1000 + j);
  return t;
}
float at(const Tensor& t, int64_t i, int64_t j) {
  return t.data<float>()[i * t.dim(1) + j];
}

TEST(Sharding, EveryProjectionKindGetsItsRowsOrColumns) {
  const int n_heads = 8, n_kv = 2, D = 4;
  const int64_t H = 16, I = 24, V = 13;
  for (int world : {1, 2, 4, 8}) {
    auto comms = make_fake_group(world);
    for (int r = 0; r < world; ++r) {
      const ShardSpec spec{r, world, comms[static_cast<size_t>(r)].get()};
      auto tp = TensorParallel::make(spec, "Test", n_heads, n_kv, V);
      ASSERT_TRUE(tp.ok()) << tp.status().to_string();
      const HeadShard& hs = tp->heads();
      models::layers::AttentionWeights a;
      a.wq = tagged(n_heads * D, H, 1), a.wk = tagged(n_kv * D, H, 2);
      a.wv = tagged(n_kv * D, H, 3), a.wo = tagged(H, n_heads * D, 4);
      a.bq = tagged(n_heads * D, 1, 5).reshape({n_heads * D});
      a.bo = tagged(H, 1, 6).reshape({H});
      a.q_norm = tagged(n_heads, D, 7), a.k_norm = tagged(n_kv, D, 8);
      ASSERT_TRUE(tp->shard_attention(a, D).ok());
      // column-parallel: rows of the rank's heads
      ASSERT_EQ(a.wq.dim(0), hs.n_q * D);
      EXPECT_EQ(at(a.wq, 0, 3), 1000000 + hs.q_head0 * D * 1000 + 3);
      ASSERT_EQ(a.wk.dim(0), hs.n_kv * D);
      EXPECT_EQ(at(a.wk, D - 1, 0), 2000000 + ((hs.kv_head0 + 1) * D - 1) * 1000);
      EXPECT_EQ(at(a.wv, 0, 0), 3000000 + hs.kv_head0 * D * 1000);
      EXPECT_EQ(a.bq.dim(0), hs.n_q * D);
      EXPECT_EQ(a.bq.data<float>()[1], 5000000 + (hs.q_head0 * D + 1) * 1000);
      EXPECT_EQ(at(a.q_norm, 0, 2), 7000000 + hs.q_head0 * 1000 + 2);
      EXPECT_EQ(at(a.k_norm, 0, 1), 8000000 + hs.kv_head0 * 1000 + 1);
      // row-parallel: the rank's columns of every row, bias on rank 0 only
      ASSERT_EQ(a.wo.dim(0), H);
      ASSERT_EQ(a.wo.dim(1), hs.n_q * D);
      for (int64_t j = 0; j < a.wo.dim(1); ++j)
        EXPECT_EQ(at(a.wo, 5, j), 4000000 + 5 * 1000 + hs.q_head0 * D + j);
      EXPECT_EQ(a.bo.defined(), r == 0);

      models::layers::GatedMlpWeights m;
      m.gate = tagged(I, H, 1), m.up = tagged(I, H, 2), m.down = tagged(H, I, 3);
      m.up_bias = tagged(I, 1, 4).reshape({I}), m.down_bias = tagged(H, 1, 5).reshape({H});
      ASSERT_TRUE(tp->shard_mlp(m).ok());
      const int64_t per = I / world, i0 = r * per;
      ASSERT_EQ(m.gate.dim(0), per);
      EXPECT_EQ(at(m.gate, 0, 0), 1000000 + i0 * 1000);
      EXPECT_EQ(at(m.up, per - 1, 2), 2000000 + (i0 + per - 1) * 1000 + 2);
      EXPECT_EQ(m.up_bias.data<float>()[0], 4000000 + i0 * 1000);
      ASSERT_EQ(m.down.dim(1), per);
      EXPECT_EQ(at(m.down, 3, per - 1), 3000000 + 3 * 1000 + i0 + per - 1);
      EXPECT_EQ(m.down_bias.defined(), r == 0);

      // vocab-parallel: [padded + 1, H] embedding (zero padding and zero row), lm_head rows
      for (bool tied : {false, true}) {
        Tensor embed = tagged(V, H, 1), lm = tied ? embed : tagged(V, H, 2);
        ASSERT_TRUE(tp->shard_vocab(embed, lm, tied).ok());
        const VocabShard& v = tp->vocab();
        if (world == 1) {
          EXPECT_EQ(embed.dim(0), V);
          continue;
        }
        ASSERT_EQ(embed.dim(0), v.padded + 1);
        ASSERT_EQ(lm.dim(0), v.padded);
        for (int64_t i = 0; i <= v.padded; ++i) {
          const bool real = i < v.size;
          EXPECT_EQ(at(embed, i, 1), real ? 1000000 + (v.start + i) * 1000 + 1 : 0.0f);
          if (i < v.padded) {
            EXPECT_EQ(at(lm, i, 1),
                      real ? (tied ? 1 : 2) * 1000000 + (v.start + i) * 1000 + 1 : 0.0f);
          }
        }
        if (tied) {
          EXPECT_EQ(lm.raw(), embed.raw());
        }
      }
      models::ModelShape shape{.n_heads = n_heads, .n_kv_heads = n_kv};
      tp->shard_shape(shape);
      EXPECT_EQ(shape.n_heads, hs.n_q);
      EXPECT_EQ(shape.n_kv_heads, hs.n_kv);
      EXPECT_EQ(shape.tp_world, world);
      const std::vector<float> slopes = {0, 1, 2, 3, 4, 5, 6, 7};
      const std::vector<float> mine = tp->local_heads(slopes);
      ASSERT_EQ(static_cast<int>(mine.size()), hs.n_q);
      EXPECT_EQ(mine[0], static_cast<float>(hs.q_head0));
    }
  }
}

TEST(Sharding, OutOfShardIdsMapToTheZeroRow) {
  auto comms = make_fake_group(4);
  auto tp = TensorParallel::make({1, 4, comms[1].get()}, "Test", 4, 4, 10);  // 3 rows each
  ASSERT_TRUE(tp.ok());
  std::vector<int32_t> ids = {0, 3, 4, 5, 6, 9};
  models::StepBatch b;
  b.token_ids = Tensor::view(ids.data(), {6}, DType::i32);
  auto local = tp->local_token_ids(b);
  ASSERT_TRUE(local.ok());
  const int32_t* l = local->token_ids.data<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(l, l + 6), (std::vector<int32_t>{3, 0, 1, 2, 3, 3}));
  ids[0] = 10;
  EXPECT_EQ(tp->local_token_ids(b).status().code(), core::StatusCode::invalid_argument);
}

TEST(Sharding, ASpecWithoutTheRightCommunicatorIsAnError) {
  EXPECT_FALSE(TensorParallel::make({0, 2, nullptr}, "Test", 4, 4, 10).ok());
  auto comms = make_fake_group(2);
  EXPECT_FALSE(TensorParallel::make({0, 2, comms[1].get()}, "Test", 4, 4, 10).ok());
  auto bad = TensorParallel::make({0, 8, nullptr}, "Test", 4, 4, 10);
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace lightllm::dist
