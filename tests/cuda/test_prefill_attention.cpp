// tests/cuda/test_prefill_attention.cpp — FlashAttention-style prefill over the flat batch vs the
// f64 reference: mixed q lengths 1/7/83/769 in one batch, cached prefixes (q_len < kv_len), K/V
// through random slots, causal and not, sliding window, GQA/MQA, head_dim 16..128, ALiBi, int8
// K/V with per-(slot, kv head) scales; every kernel variant (2: mma.sync; 5: warp-specialized
// wgmma, head_dim 128 bf16/f16 K/V on an sm_90a image, else it must answer unimplemented) with
// its tile shapes and grid sizes (one CTA per item, persistent), and the default (0); the
// removed variants 1, 3 and 4 are invalid arguments.
#include "attention_ref.h"
#include "cuda_test_util.h"
#include "kernels/cuda/prefill_attention.h"

namespace lightllm::cuda_test {
namespace {

namespace kc = kernels::cuda;

struct PrefillCase {
  std::vector<int32_t> q_len, prefix;
  int n_heads, n_kv_heads, head_dim;
  bool causal;
  int window;
  bool alibi = false;
  bool int8 = false;
};

void run_prefill(DType dt, const PrefillCase& c, uint32_t seed, int block_rows, int variant,
                 int kv_tile = 0, int ctas = 0) {
  const int n_reqs = static_cast<int>(c.q_len.size());
  std::vector<int32_t> q_start(static_cast<size_t>(n_reqs) + 1, 0),
      kv_len(static_cast<size_t>(n_reqs));
  int max_q = 0;
  for (int r = 0; r < n_reqs; ++r) {
    q_start[static_cast<size_t>(r) + 1] =
        q_start[static_cast<size_t>(r)] + c.q_len[static_cast<size_t>(r)];
    kv_len[static_cast<size_t>(r)] =
        c.q_len[static_cast<size_t>(r)] + c.prefix[static_cast<size_t>(r)];
    max_q = std::max(max_q, c.q_len[static_cast<size_t>(r)]);
  }
  const int n_tokens = q_start.back();
  SlotLayout s = make_slots(kv_len, seed);
  const int D = c.head_dim;
  // q is a view into a wider qkv row to exercise q_stride.
  const int64_t q_stride = int64_t{c.n_heads + 2 * c.n_kv_heads} * D;
  auto q = random_values(dt, static_cast<size_t>(n_tokens) * static_cast<size_t>(q_stride), -1.f,
                         1.f, seed + 1);
  const size_t cache_elems = static_cast<size_t>(s.n_slots) * c.n_kv_heads * D;
  const size_t n_scales = static_cast<size_t>(s.n_slots) * c.n_kv_heads;
  std::vector<float> k, v, ks, vs;
  std::vector<int8_t> k8, v8;
  DeviceBuffer dk, dv, dks, dvs;
  if (c.int8) {
    // K scales ~0.01 keep scores O(1); V values up to 127 * 0.05 ~ 6.
    random_int8_kv(cache_elems, n_scales, 0.002f, 0.02f, seed + 2, k8, ks);
    random_int8_kv(cache_elems, n_scales, 0.01f, 0.05f, seed + 3, v8, vs);
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
  const std::vector<float> slopes = alibi_slopes(c.n_heads);
  auto dslopes = upload(slopes);
  auto dq = upload_half(dt, q);
  auto drt = upload(s.req_to_token), drow = upload(s.req_row), dqs = upload(q_start),
       dlen = upload(kv_len);
  const size_t out_elems = static_cast<size_t>(n_tokens) * c.n_heads * D;
  auto dout = zeros(out_elems * 2);
  const double scale = 1.0 / std::sqrt(double(D));
  kc::PrefillAttentionParams p{.dtype = dt,
                               .kv_int8 = c.int8,
                               .q = dq.data(),
                               .k_cache = dk.data(),
                               .v_cache = dv.data(),
                               .k_scale = c.int8 ? dks.as<float>() : nullptr,
                               .v_scale = c.int8 ? dvs.as<float>() : nullptr,
                               .req_to_token = drt.as<int32_t>(),
                               .req_row = drow.as<int32_t>(),
                               .q_start = dqs.as<int32_t>(),
                               .kv_len = dlen.as<int32_t>(),
                               .out = dout.data(),
                               .n_reqs = n_reqs,
                               .n_heads = c.n_heads,
                               .n_kv_heads = c.n_kv_heads,
                               .head_dim = D,
                               .max_q_len = max_q,
                               .q_stride = q_stride,
                               .req_to_token_stride = s.stride,
                               .softmax_scale = static_cast<float>(scale),
                               .causal = c.causal,
                               .sliding_window = c.window,
                               .block_rows = block_rows,
                               .kv_tile = kv_tile,
                               .ctas = ctas,
                               .alibi_slopes = c.alibi ? dslopes.as<float>() : nullptr,
                               .variant = variant};
  auto st = kc::prefill_attention(p, nullptr);
  if (variant == 5 && !kc::prefill_detail::prefill_wgmma_supported(p)) {
    // Not this device / image / shape: the wgmma variant must say so, never run.
    EXPECT_EQ(st.code(), core::StatusCode::unimplemented) << st.to_string();
    return;
  }
  ASSERT_TRUE(st.ok()) << st.to_string();
  sync_ok();
  auto got = download_half(dt, dout, out_elems);

  std::vector<double> want(out_elems);
  const int group = c.n_heads / c.n_kv_heads;
  for (int r = 0; r < n_reqs; ++r) {
    const int32_t* row = &s.req_to_token[static_cast<size_t>(s.req_row[static_cast<size_t>(r)]) *
                                         static_cast<size_t>(s.stride)];
    const int len = kv_len[static_cast<size_t>(r)], prefix = c.prefix[static_cast<size_t>(r)];
    for (int i = 0; i < c.q_len[static_cast<size_t>(r)]; ++i) {
      const int tok = q_start[static_cast<size_t>(r)] + i;
      for (int h = 0; h < c.n_heads; ++h) {
        const int kvh = h / group;
        auto k_at = [&](int j, int e) -> double {
          const size_t off = static_cast<size_t>(row[j]) * c.n_kv_heads + kvh;
          return c.int8 ? double(k8[off * D + e]) * ks[off] : double(k[off * D + e]);
        };
        auto v_at = [&](int j, int e) -> double {
          const size_t off = static_cast<size_t>(row[j]) * c.n_kv_heads + kvh;
          return c.int8 ? double(v8[off * D + e]) * vs[off] : double(v[off * D + e]);
        };
        attend_ref(&q[static_cast<size_t>(tok) * q_stride + static_cast<size_t>(h) * D], D, len,
                   prefix + i, c.causal, c.window, scale, k_at, v_at,
                   &want[(static_cast<size_t>(tok) * c.n_heads + h) * D],
                   c.alibi ? double(slopes[static_cast<size_t>(h)]) : 0.0);
      }
    }
  }
  // int8: V values reach ~6 and P is rounded to dt before P V, so the absolute tolerance
  // scales with the V magnitude (as the decode test).
  expect_close(got, want, tol_for(dt, c.int8 ? 6.0 : 1.0),
               "prefill heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                   " d=" + std::to_string(D) + (c.causal ? " causal" : "") +
                   (c.window ? " window=" + std::to_string(c.window) : "") +
                   (c.alibi ? " alibi" : "") + (c.int8 ? " int8" : "") + " block_rows=" +
                   std::to_string(block_rows) + " kv_tile=" + std::to_string(kv_tile) +
                   " ctas=" + std::to_string(ctas) + " variant=" + std::to_string(variant));
}

// Tile shapes (block_rows, kv_tile) of the warp-specialized wgmma variant.
constexpr std::pair<int, int> kWsTiles[] = {{128, 128}, {192, 64}};

// The default, the mma.sync kernel (variant 2) with both tile heights, and the wgmma kernel
// (variant 5) with every tile shape, one CTA per work item and, persistent, 3 CTAs (many items
// per CTA, some past their request's q_len) and one per SM.
void run_all(DType dt, const PrefillCase& c, uint32_t seed) {
  run_prefill(dt, c, seed, 0, 0);
  for (int block_rows : {64, 128}) run_prefill(dt, c, seed, block_rows, 2);
  for (auto [rows, keys] : kWsTiles)
    for (int ctas : {kc::kPrefillCtasPerItem, 3, kc::kPrefillCtasPerSm})
      run_prefill(dt, c, seed, rows, 5, keys, ctas);
}

class PrefillAttention : public ::testing::TestWithParam<DType> {};

TEST_P(PrefillAttention, VarlenCausalGqaWithPrefixes) {
  const PrefillCase cases[] = {
      // q lengths 1/7/83/769 in one batch, some with a cached prefix.
      {{1, 7, 83, 769}, {0, 5, 0, 0}, 8, 2, 128, true, 0},
      {{83, 64, 1, 7}, {300, 64, 200, 0}, 32, 8, 128, true, 0},
      {{7, 83, 130}, {0, 17, 3}, 8, 8, 64, true, 0},
      {{83, 5}, {10, 0}, 8, 1, 64, true, 0},  // MQA
      {{83, 40}, {0, 77}, 10, 2, 80, true, 0},
      {{83, 40}, {9, 0}, 12, 4, 96, true, 0},
  };
  uint32_t seed = 300;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

TEST_P(PrefillAttention, SmallHeadDimsAndOddLengths) {
  const PrefillCase cases[] = {
      {{1, 129, 255}, {3, 0, 1}, 4, 2, 16, true, 0},
      {{200, 2}, {0, 300}, 6, 3, 32, true, 0},
      {{257}, {0}, 8, 2, 64, true, 0},
  };
  uint32_t seed = 500;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

TEST_P(PrefillAttention, Alibi) {
  const PrefillCase cases[] = {
      {{1, 7, 83, 300}, {0, 5, 40, 0}, 8, 8, 128, true, 0, true},  // BLOOM: MHA
      {{83, 130}, {10, 0}, 8, 2, 64, true, 0, true},
      {{150}, {70}, 4, 4, 64, true, 64, true},  // with a window
      {{83, 40}, {0, 77}, 10, 2, 80, true, 0, true},
  };
  uint32_t seed = 600;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

TEST_P(PrefillAttention, Int8Kv) {
  const PrefillCase cases[] = {
      {{1, 7, 83, 769}, {0, 5, 0, 0}, 8, 2, 128, true, 0, false, true},
      {{83, 64, 1, 7}, {300, 64, 200, 0}, 32, 8, 128, true, 0, false, true},
      {{83, 5}, {10, 0}, 8, 1, 64, true, 0, false, true},  // MQA
      {{83, 40}, {0, 77}, 10, 2, 80, true, 0, false, true},
      {{83, 40}, {9, 0}, 12, 4, 96, true, 0, false, true},
      {{129, 3}, {0, 31}, 4, 2, 16, true, 0, false, true},
      {{200, 83}, {0, 100}, 8, 2, 128, true, 50, true, true},  // window + ALiBi + int8
      {{7, 83}, {0, 20}, 8, 2, 64, false, 0, false, true},     // not causal
  };
  uint32_t seed = 700;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

TEST_P(PrefillAttention, NonCausalAndSlidingWindow) {
  const PrefillCase cases[] = {
      {{7, 83, 1}, {0, 20, 9}, 8, 2, 64, false, 0},
      {{200, 83}, {0, 100}, 8, 2, 128, true, 50},
      {{150}, {70}, 4, 4, 64, true, 64},
  };
  uint32_t seed = 400;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

// Variant 5 gives each consumer warpgroup (64 rows of a 128- or 192-row item) only the key tiles
// its own rows can see: consumers with no row (ragged q_len), with fewer causal tiles than the
// item, or (narrow windows) whose first tiles lie before their window take turns without GEMMs.
// Many items per CTA (3 CTAs) walk the serpentine order through odd rounds.
TEST_P(PrefillAttention, WarpgroupTileRanges) {
  const PrefillCase cases[] = {
      {{700, 200, 65}, {0, 37, 500}, 8, 2, 128, true, 0},
      {{700, 200, 65}, {0, 37, 500}, 8, 2, 128, true, 100},
      {{450, 1}, {30, 0}, 8, 8, 128, true, 20, true},  // ALiBi, window shorter than a tile
      {{390}, {0}, 4, 1, 128, true, 150},
  };
  uint32_t seed = 800;
  for (const auto& c : cases) run_all(GetParam(), c, seed++);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PrefillAttention, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

TEST(PrefillAttentionErrors, BadArgumentsAreReported) {
  int dummy = 0;
  kc::PrefillAttentionParams p{.q = &dummy,
                               .k_cache = &dummy,
                               .v_cache = &dummy,
                               .req_to_token = &dummy,
                               .req_row = &dummy,
                               .q_start = &dummy,
                               .kv_len = &dummy,
                               .out = &dummy,
                               .n_reqs = 1,
                               .n_heads = 2,
                               .n_kv_heads = 1,
                               .head_dim = 72,
                               .max_q_len = 4,
                               .req_to_token_stride = 4,
                               .softmax_scale = 0.1f};
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::unimplemented);
  p.head_dim = 64;
  p.kv_int8 = true;  // no scales
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
  p.kv_int8 = false;
  for (int removed_or_unknown : {-1, 1, 3, 4, 6}) {  // valid: 0, 2, 5
    p.variant = removed_or_unknown;
    EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument)
        << "variant " << removed_or_unknown;
  }
  p.variant = 5;  // wgmma: head_dim 128 only
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::unimplemented);
  p.variant = 2;
  p.kv_tile = 32;  // not a tile size
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
  p.kv_tile = 128;  // wgmma only
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
  p.kv_tile = 0;
  p.block_rows = 192;  // wgmma only
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
  p.block_rows = 0;
  p.ctas = kc::kPrefillCtasPerItem - 1;  // no such grid
  EXPECT_EQ(kc::prefill_attention(p, nullptr).code(), core::StatusCode::invalid_argument);
}

}  // namespace
}  // namespace lightllm::cuda_test
