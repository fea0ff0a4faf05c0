// tests/cuda/test_prefill_attention.cpp — FlashAttention-style prefill over the flat batch vs the
// f64 reference: mixed q lengths 1/7/83/769 in one batch, cached prefixes (q_len < kv_len), K/V
// through random slots, causal and not, sliding window, GQA/MQA, head_dim 64/80/96/128.
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
};

void run_prefill(DType dt, const PrefillCase& c, uint32_t seed, int block_rows) {
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
  auto k = random_values(dt, cache_elems, -1.f, 1.f, seed + 2);
  auto v = random_values(dt, cache_elems, -1.f, 1.f, seed + 3);
  auto dq = upload_half(dt, q), dk = upload_half(dt, k), dv = upload_half(dt, v);
  auto drt = upload(s.req_to_token), drow = upload(s.req_row), dqs = upload(q_start),
       dlen = upload(kv_len);
  const size_t out_elems = static_cast<size_t>(n_tokens) * c.n_heads * D;
  auto dout = zeros(out_elems * 2);
  const double scale = 1.0 / std::sqrt(double(D));
  kc::PrefillAttentionParams p{.dtype = dt,
                               .q = dq.data(),
                               .k_cache = dk.data(),
                               .v_cache = dv.data(),
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
                               .block_rows = block_rows};
  auto st = kc::prefill_attention(p, nullptr);
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
          return k[(static_cast<size_t>(row[j]) * c.n_kv_heads + kvh) * D + e];
        };
        auto v_at = [&](int j, int e) -> double {
          return v[(static_cast<size_t>(row[j]) * c.n_kv_heads + kvh) * D + e];
        };
        attend_ref(&q[static_cast<size_t>(tok) * q_stride + static_cast<size_t>(h) * D], D, len,
                   prefix + i, c.causal, c.window, scale, k_at, v_at,
                   &want[(static_cast<size_t>(tok) * c.n_heads + h) * D]);
      }
    }
  }
  expect_close(got, want, tol_for(dt),
               "prefill heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                   " d=" + std::to_string(D) + (c.causal ? " causal" : "") +
                   (c.window ? " window=" + std::to_string(c.window) : "") +
                   " block_rows=" + std::to_string(block_rows));
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
  for (const auto& c : cases) {
    for (int block_rows : {64, 128}) run_prefill(GetParam(), c, seed, block_rows);
    ++seed;
  }
}

TEST_P(PrefillAttention, NonCausalAndSlidingWindow) {
  const PrefillCase cases[] = {
      {{7, 83, 1}, {0, 20, 9}, 8, 2, 64, false, 0},
      {{200, 83}, {0, 100}, 8, 2, 128, true, 50},
      {{150}, {70}, 4, 4, 64, true, 64},
  };
  uint32_t seed = 400;
  for (const auto& c : cases) {
    for (int block_rows : {64, 128}) run_prefill(GetParam(), c, seed, block_rows);
    ++seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PrefillAttention, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) {
                           return std::string(core::dtype_name(info.param));
                         });

}  // namespace
}  // namespace lightllm::cuda_test
