// tests/cuda/test_decode_attention.cpp — split-K decode attention over random token slots vs the
// f64 reference: batch sizes 1/7/83, context lengths 0..769 (mixed in one batch), head_dim
// 16-128, GQA group 1/2/4/6/8, bf16/f16 KV and int8 KV with per-(slot, head) scales, ALiBi,
// max_kv_len above the real lengths (a CUDA-graph bucket bound: empty splits), one split (written
// without the reduction kernel) and forced split counts, chunks of 2 tiles a warp over 4 or 8
// warps kept resident in shared memory, the batch-1 split rule, every case launched twice on the
// same workspace (same bits); CUDA-graph replay (the reduction kernel is a programmatic dependent
// launch on sm_90+) against eager launches, with new lengths and twice in a row. (Decode has no
// sliding window: the ops layer runs windowed models' decode through the prefill kernel.)
#include <algorithm>
#include <utility>

#include "attention_ref.h"
#include "cuda_test_util.h"
#include "kernels/cuda/decode_attention.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

struct DecodeCase {
  int n_reqs, n_heads, n_kv_heads, head_dim;
  bool int8;
  int forced_splits;  // 0: automatic
  bool alibi = false;
  int extra_max_len = 0;  // max_kv_len = longest kv_len + this (graph bucket upper bound)
  int fixed_len = 0;      // > 0: every request's kv_len (else picked by the seed)
};

void run_decode(DType dt, const DecodeCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> kv_len(static_cast<size_t>(c.n_reqs));
  const int lens[] = {1, 7, 83, 769, 300, 2};
  for (size_t r = 0; r < kv_len.size(); ++r)
    kv_len[r] = c.fixed_len > 0 ? c.fixed_len : lens[(r + seed) % 6];
  if (c.n_reqs > 2) kv_len[1] = 0;  // an empty request yields zeros
  const int max_len = *std::max_element(kv_len.begin(), kv_len.end());
  SlotLayout s = make_slots(kv_len, seed, c.extra_max_len);
  const std::vector<float> slopes = alibi_slopes(c.n_heads);
  auto dslopes = upload(slopes);
  const int D = c.head_dim;
  const size_t cache_elems = static_cast<size_t>(s.n_slots) * c.n_kv_heads * D;
  const size_t q_elems = static_cast<size_t>(c.n_reqs) * c.n_heads * D;
  auto q = random_values(dt, q_elems, -1.f, 1.f, seed + 1);
  std::vector<float> k, v, ks, vs;
  std::vector<int8_t> k8(cache_elems), v8(cache_elems);
  DeviceBuffer dk, dv, dks, dvs;
  if (c.int8) {
    std::uniform_int_distribution<int> qd(-127, 127);
    std::uniform_real_distribution<float> sd(0.002f, 0.02f);
    for (size_t i = 0; i < cache_elems; ++i) {
      k8[i] = static_cast<int8_t>(qd(rng));
      v8[i] = static_cast<int8_t>(qd(rng));
    }
    ks.resize(static_cast<size_t>(s.n_slots) * c.n_kv_heads);
    vs.resize(ks.size());
    for (auto& x : ks) x = sd(rng);
    for (auto& x : vs) x = sd(rng) * 5;
    dk = upload(k8);
    dv = upload(v8);
    dks = upload(ks);
    dvs = upload(vs);
  } else {
    k = random_values(dt, cache_elems, -1.f, 1.f, seed + 2);
    v = random_values(dt, cache_elems, -1.f, 1.f, seed + 3);
    dk = upload_half(dt, k);
    dv = upload_half(dt, v);
  }
  auto dq = upload_half(dt, q);
  auto drt = upload(s.req_to_token), drow = upload(s.req_row), dlen = upload(kv_len);
  auto dout = zeros(q_elems * 2);
  kc::DecodeAttentionParams p{.dtype = dt,
                              .kv_int8 = c.int8,
                              .q = dq.data(),
                              .k_cache = dk.data(),
                              .v_cache = dv.data(),
                              .k_scale = c.int8 ? dks.as<float>() : nullptr,
                              .v_scale = c.int8 ? dvs.as<float>() : nullptr,
                              .req_to_token = drt.as<int32_t>(),
                              .req_row = drow.as<int32_t>(),
                              .kv_len = dlen.as<int32_t>(),
                              .out = dout.data(),
                              .n_reqs = c.n_reqs,
                              .n_heads = c.n_heads,
                              .n_kv_heads = c.n_kv_heads,
                              .head_dim = D,
                              .req_to_token_stride = s.stride,
                              .max_kv_len = max_len + c.extra_max_len,
                              .softmax_scale = static_cast<float>(1.0 / std::sqrt(double(D))),
                              .n_splits = c.forced_splits,
                              .alibi_slopes = c.alibi ? dslopes.as<float>() : nullptr};
  // A missing workspace is an error, not a crash.
  EXPECT_EQ(kc::decode_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
  auto ws = zeros(kc::decode_attention_workspace_bytes(p));
  p.workspace = ws.data();
  p.workspace_bytes = kc::decode_attention_workspace_bytes(p);
  auto st = kc::decode_attention(p, nullptr);
  ASSERT_TRUE(st.ok()) << st.to_string();
  sync_ok();
  auto got = download_half(dt, dout, q_elems);
  // A second launch on the same workspace gives the same bits (no state survives a launch).
  ASSERT_TRUE(kc::decode_attention(p, nullptr).ok());
  sync_ok();
  EXPECT_TRUE(download_half(dt, dout, q_elems) == got) << "second launch differs";

  std::vector<double> want(q_elems);
  const int group = c.n_heads / c.n_kv_heads;
  for (int r = 0; r < c.n_reqs; ++r) {
    const int32_t* row = &s.req_to_token[static_cast<size_t>(s.req_row[static_cast<size_t>(r)]) *
                                         static_cast<size_t>(s.stride)];
    for (int h = 0; h < c.n_heads; ++h) {
      const int kvh = h / group;
      auto at = [&](const std::vector<float>& cache, const std::vector<int8_t>& c8,
                    const std::vector<float>& sc) {
        return [&, kvh](int j, int e) -> double {
          const size_t off = (static_cast<size_t>(row[j]) * c.n_kv_heads + kvh);
          if (c.int8) return double(c8[off * D + e]) * sc[off];
          return cache[off * D + e];
        };
      };
      const size_t o = (static_cast<size_t>(r) * c.n_heads + h) * D;
      const int len = kv_len[static_cast<size_t>(r)];
      attend_ref(&q[o], D, len, len - 1, true, 0, 1.0 / std::sqrt(double(D)), at(k, k8, ks),
                 at(v, v8, vs), &want[o], c.alibi ? double(slopes[static_cast<size_t>(h)]) : 0.0);
    }
  }
  const double vmax = c.int8 ? 127 * 0.1 : 1.0;
  expect_close(got, want, tol_for(dt, vmax),
               "decode reqs=" + std::to_string(c.n_reqs) + " heads=" + std::to_string(c.n_heads) +
                   "/" + std::to_string(c.n_kv_heads) + " d=" + std::to_string(D) +
                   (c.int8 ? " int8" : "") + (c.alibi ? " alibi" : "") + " max_kv_len+" +
                   std::to_string(c.extra_max_len) +
                   " splits=" + std::to_string(kc::decode_attention_splits(p)));
}

class DecodeAttention : public ::testing::TestWithParam<DType> {};

TEST_P(DecodeAttention, MatchesReferenceOnOddShapes) {
  const DecodeCase cases[] = {
      {1, 8, 8, 64, false, 0},     {7, 32, 8, 128, false, 0}, {83, 32, 4, 128, false, 0},
      {7, 8, 1, 64, false, 0},     {5, 16, 2, 128, false, 0},  // group 8, MQA, group 8 (hb 8)
      {3, 12, 2, 64, false, 0},                                // group 6 -> 1 head per block
      {4, 10, 2, 80, false, 0},    {4, 12, 4, 96, false, 0},  {7, 32, 8, 128, false, 1},
      {7, 32, 8, 128, false, 128},  // forced split counts
  };
  uint32_t seed = 100;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

TEST_P(DecodeAttention, Int8KvMatchesReference) {
  const DecodeCase cases[] = {{1, 8, 8, 64, true, 0},
                              {7, 32, 8, 128, true, 0},
                              {83, 32, 4, 128, true, 0},
                              {3, 8, 1, 64, true, 0}};
  uint32_t seed = 200;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

TEST_P(DecodeAttention, AlibiMatchesReference) {
  const DecodeCase cases[] = {{1, 8, 8, 64, false, 0, true},
                              {7, 32, 32, 128, false, 0, true},  // BLOOM-like MHA
                              {83, 32, 4, 128, false, 0, true},
                              {5, 16, 2, 128, true, 0, true},  // int8 + ALiBi
                              {4, 10, 2, 80, false, 0, true}};
  uint32_t seed = 250;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

// CUDA graphs capture a decode step with max_kv_len at a bucket's upper bound: the result
// must not depend on how far above the real lengths it is.
TEST_P(DecodeAttention, MaxKvLenAboveRealLengths) {
  const DecodeCase cases[] = {{7, 32, 8, 128, false, 0, false, 1000},
                              {1, 32, 8, 128, false, 0, false, 3327},
                              {7, 32, 8, 128, true, 0, false, 4096},
                              {3, 8, 8, 64, false, 16, true, 77}};
  uint32_t seed = 270;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

// One split (the split kernel writes the output itself) and forced split counts, mixed with
// int8, ALiBi, odd head dims / groups and a graph bound far above the lengths.
TEST_P(DecodeAttention, SplitCountsMatchReference) {
  const DecodeCase cases[] = {
      {7, 32, 8, 128, false, 1},
      {7, 32, 8, 128, false, 3},
      {83, 32, 4, 128, false, 2},
      {5, 16, 2, 128, true, 1, true},
      {7, 32, 32, 64, false, 1},
      {4, 10, 2, 80, false, 7},
      {1, 32, 8, 128, false, 0, false, 3327},
      {3, 12, 2, 64, false, 1},
      {7, 8, 1, 128, true, 5, true, 200},
  };
  uint32_t seed = 300;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

// Chunks of 65-256 tokens in a small grid keep all their tiles resident in shared memory (2 a
// warp: 4 warps up to 128 tokens, 8 warps up to 256; the cached rows copied before the PDL
// wait): one or several splits, the batch-1 rule's one split, MHA, int8, ALiBi and a graph bound
// above the length. Seeds pick the length unless fixed: 300 (seed % 6 == 4) or 83.
TEST_P(DecodeAttention, ResidentTilesMatchReference) {
  const std::pair<DecodeCase, uint32_t> cases[] = {
      {{1, 32, 8, 128, false, 2}, 304},                  // chunk 150: 8 warps of 2 tiles
      {{1, 32, 8, 128, false, 3}, 310},                  // chunk 100: 4 warps of 2 tiles
      {{1, 32, 8, 128, false, 1}, 302},                  // one split of 83 tokens
      {{1, 32, 32, 128, false, 2}, 316},                 // MHA, 64 blocks
      {{1, 32, 8, 128, true, 2}, 322},                   // int8
      {{1, 16, 2, 64, false, 1, true, 150}, 326},        // ALiBi, 83 tokens under a 233 bound
      {{1, 32, 8, 128, false, 0, false, 0, 200}, 330},   // the rule: one split, 13 tiles
      {{1, 32, 32, 128, false, 0, false, 0, 256}, 331},  // ... MHA, all 16 tiles
      {{1, 32, 8, 128, true, 0, false, 0, 129}, 332},    // ... int8, 9 tiles
      {{1, 32, 8, 128, true, 0, false, 20, 150}, 333},   // ... int8 under a 170 bound
  };
  for (const auto& [c, seed] : cases) run_decode(GetParam(), c, seed);
}

// The split rule at batch 1: 129-256 tokens (16-bit or int8 K/V) in a small grid (at most half
// the SMs' worth of blocks), one split with resident tiles and no reduction; shorter and longer
// contexts, larger batches and large grids keep the general rule (one split up to 64 tokens).
TEST(DecodeAttentionSplits, BatchOne129To256TokensTakesOneSplit) {
  kc::DecodeAttentionParams p{.n_reqs = 1, .n_heads = 32, .n_kv_heads = 8, .head_dim = 128};
  for (int len : {129, 200, 256}) {
    p.max_kv_len = len;
    EXPECT_EQ(kc::decode_attention_splits(p), 1) << "max_kv_len " << len;
    EXPECT_TRUE(kc::decode_attention_grid_is_small(p));
  }
  p.max_kv_len = 64;
  EXPECT_EQ(kc::decode_attention_splits(p), 1);
  p.max_kv_len = 128;
  EXPECT_EQ(kc::decode_attention_splits(p), 2);
  p.max_kv_len = 257;
  EXPECT_GT(kc::decode_attention_splits(p), 1);
  p.max_kv_len = 256;
  p.kv_int8 = true;
  EXPECT_EQ(kc::decode_attention_splits(p), 1);
  p.kv_int8 = false;
  p.n_kv_heads = 32;  // MHA: 32 blocks
  EXPECT_EQ(kc::decode_attention_splits(p), 1);
  p.n_heads = p.n_kv_heads = 80;  // 80 blocks a split: more than half of any H100 / H200's SMs
  EXPECT_GT(kc::decode_attention_splits(p), 1);
  p.n_heads = 32;
  p.n_kv_heads = 8;
  p.n_reqs = 4;
  EXPECT_GT(kc::decode_attention_splits(p), 1);
}

// Head dims 16-128 and head groups 1/2/6/8 with 16-bit and int8 KV (the tensor-core kernel's
// int8 path permutes the dims of K and V; every head dim has its own fragment mapping).
TEST_P(DecodeAttention, HeadDimsAndGroupsWithInt8) {
  const DecodeCase cases[] = {
      {3, 8, 8, 16, false, 0}, {3, 8, 4, 32, false, 3},
      {3, 8, 8, 16, true, 0},  {4, 8, 4, 32, true, 0},
      {4, 10, 2, 80, true, 0}, {4, 12, 4, 96, true, 7},
      {3, 12, 2, 64, true, 0}, {7, 16, 2, 128, true, 1, true, 300},
  };
  uint32_t seed = 400;
  for (const auto& c : cases) run_decode(GetParam(), c, seed++);
}

// A CUDA graph captured once replays exactly what an eager launch computes, also after the
// per-step inputs (kv_len) change on the device and when replayed twice in a row: with several
// splits the reduction kernel is a programmatic dependent launch (sm_90+), with one split there
// is no reduction.
TEST_P(DecodeAttention, GraphReplayMatchesEager) {
  const DType dt = GetParam();
  for (bool int8 : {false, true}) {
    for (int splits : {1, 3, 8}) {
      const int n_reqs = 5, H = 32, KVH = 8, D = 128;
      std::vector<int32_t> kv_len = {300, 1, 769, 83, 0};
      const std::vector<int32_t> kv_len_next = {301, 2, 770, 84, 1};  // the next step's
      const int max_len = 800;
      SlotLayout s = make_slots(kv_len_next, 17, max_len - 770);
      const size_t cache = static_cast<size_t>(s.n_slots) * KVH * D;
      const size_t q_elems = static_cast<size_t>(n_reqs) * H * D;
      std::vector<int8_t> k8, v8;
      std::vector<float> ks, vs;
      random_int8_kv(cache, static_cast<size_t>(s.n_slots) * KVH, 0.002f, 0.02f, 5, k8, ks);
      random_int8_kv(cache, static_cast<size_t>(s.n_slots) * KVH, 0.002f, 0.02f, 6, v8, vs);
      auto dk = int8 ? upload(k8) : upload_half(dt, random_values(dt, cache, -1.f, 1.f, 7));
      auto dv = int8 ? upload(v8) : upload_half(dt, random_values(dt, cache, -1.f, 1.f, 8));
      auto dks = upload(ks), dvs = upload(vs);
      auto dq = upload_half(dt, random_values(dt, q_elems, -1.f, 1.f, 9));
      auto drt = upload(s.req_to_token), drow = upload(s.req_row), dlen = upload(kv_len);
      auto out_eager = zeros(q_elems * 2), out_graph = zeros(q_elems * 2);
      kc::DecodeAttentionParams p{.dtype = dt,
                                  .kv_int8 = int8,
                                  .q = dq.data(),
                                  .k_cache = dk.data(),
                                  .v_cache = dv.data(),
                                  .k_scale = dks.as<float>(),
                                  .v_scale = dvs.as<float>(),
                                  .req_to_token = drt.as<int32_t>(),
                                  .req_row = drow.as<int32_t>(),
                                  .kv_len = dlen.as<int32_t>(),
                                  .n_reqs = n_reqs,
                                  .n_heads = H,
                                  .n_kv_heads = KVH,
                                  .head_dim = D,
                                  .req_to_token_stride = s.stride,
                                  .max_kv_len = max_len,
                                  .softmax_scale = 0.088f,
                                  .n_splits = splits};
      auto ws = zeros(kc::decode_attention_workspace_bytes(p));
      p.workspace = ws.data();
      p.workspace_bytes = ws.size();

      cudaStream_t stream = nullptr;
      ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
      kc::DecodeAttentionParams pg = p;
      pg.out = out_graph.data();
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
      const core::Status st = kc::decode_attention(pg, stream);
      ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
      ASSERT_TRUE(st.ok()) << st.to_string();
      ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
      for (int step = 0; step < 3; ++step) {
        if (step == 1) {  // the next decode step: every request one token longer
          ASSERT_TRUE(dlen.upload(kv_len_next.data(), kv_len_next.size() * 4).ok());
        }
        if (step == 2) {  // back to the first lengths, replayed twice in a row
          ASSERT_TRUE(dlen.upload(kv_len.data(), kv_len.size() * 4).ok());
          ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
        }
        ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
        p.out = out_eager.data();
        ASSERT_TRUE(kc::decode_attention(p, stream).ok());
        ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
        const auto a = download<uint16_t>(out_eager, q_elems);
        const auto b = download<uint16_t>(out_graph, q_elems);
        EXPECT_TRUE(a == b) << "graph replay differs from eager: int8=" << int8
                            << " splits=" << splits << " step=" << step;
      }
      cudaGraphExecDestroy(exec);
      cudaGraphDestroy(graph);
      cudaStreamDestroy(stream);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecodeAttention, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

TEST(DecodeAttentionErrors, UnsupportedHeadDimIsUnimplemented) {
  int dummy_i = 0;
  kc::DecodeAttentionParams p{.q = &dummy_i,
                              .k_cache = &dummy_i,
                              .v_cache = &dummy_i,
                              .req_to_token = &dummy_i,
                              .req_row = &dummy_i,
                              .kv_len = &dummy_i,
                              .out = &dummy_i,
                              .n_reqs = 1,
                              .n_heads = 2,
                              .n_kv_heads = 1,
                              .head_dim = 72,
                              .req_to_token_stride = 4,
                              .max_kv_len = 4,
                              .workspace = &dummy_i,
                              .workspace_bytes = 1 << 20};
  EXPECT_EQ(kc::decode_attention(p, nullptr).code(), core::StatusCode::unimplemented);
  p.n_kv_heads = 3;
  EXPECT_EQ(kc::decode_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
}

}  // namespace
}  // namespace lightllm::cuda_test
