// tests/cuda/attention_ref.h — scalar f64 reference for attention over token slots (causal,
// window, ALiBi), a builder for a KV pool with requests scattered over random slots (as after
// churn), and random int8 K/V with per-(slot, kv head) scales.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace lightllm::cuda_test {

struct SlotLayout {
  int64_t n_slots = 0;
  int stride = 0;                     // columns of req_to_token
  std::vector<int32_t> req_to_token;  // [n_rows, stride]
  std::vector<int32_t> req_row;       // [n_reqs]
};

// Each request gets kv_len[r] distinct random slots; request r lives in row (n_reqs - 1 - r)
// of a table with n_reqs + 2 rows, so row index != request index is exercised. extra_cols
// widens the table (room for a max_kv_len above the real lengths).
inline SlotLayout make_slots(const std::vector<int32_t>& kv_len, uint32_t seed,
                             int extra_cols = 0) {
  SlotLayout s;
  const int n = static_cast<int>(kv_len.size());
  int64_t total = 0;
  int mx = 1;
  for (int32_t l : kv_len) {
    total += l;
    mx = std::max(mx, l);
  }
  s.n_slots = total + 17;
  s.stride = mx + 3 + extra_cols;
  std::vector<int32_t> perm(static_cast<size_t>(s.n_slots));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  s.req_to_token.assign(static_cast<size_t>(n + 2) * static_cast<size_t>(s.stride), -1);
  s.req_row.resize(static_cast<size_t>(n));
  size_t next = 0;
  for (int r = 0; r < n; ++r) {
    const int row = n - 1 - r;
    s.req_row[static_cast<size_t>(r)] = row;
    for (int j = 0; j < kv_len[static_cast<size_t>(r)]; ++j) {
      s.req_to_token[static_cast<size_t>(row) * static_cast<size_t>(s.stride) +
                     static_cast<size_t>(j)] = perm[next++];
    }
  }
  return s;
}

// out[n_heads * head_dim] for one query row at absolute position `pos` of request r:
// softmax over visible keys j (j < kv_len, causal: j <= pos, window w: j > pos - w).
// kv(j, d) returns the dequantized K or V element of key j for kv head kvh. ALiBi: the score
// of key j gets alibi_slope * (j - pos) added after the scale (as kernels/ref).
template <typename KFn, typename VFn>
void attend_ref(const float* q /*[head_dim]*/, int head_dim, int kv_len, int pos, bool causal,
                int window, double scale, KFn k_at, VFn v_at, double* out /*[head_dim]*/,
                double alibi_slope = 0.0) {
  std::vector<double> s;
  std::vector<int> idx;
  double mx = -std::numeric_limits<double>::infinity();
  for (int j = 0; j < kv_len; ++j) {
    if (causal && j > pos) continue;
    if (window > 0 && j <= pos - window) continue;
    double d = 0;
    for (int e = 0; e < head_dim; ++e) d += double(q[e]) * k_at(j, e);
    d = d * scale + alibi_slope * (j - pos);
    s.push_back(d);
    idx.push_back(j);
    mx = std::max(mx, d);
  }
  for (int e = 0; e < head_dim; ++e) out[e] = 0;
  if (s.empty()) return;
  double sum = 0;
  for (double& v : s) sum += (v = std::exp(v - mx));
  for (size_t i = 0; i < s.size(); ++i) {
    for (int e = 0; e < head_dim; ++e) out[e] += s[i] / sum * v_at(idx[i], e);
  }
}

// Random int8 values in [-127, 127] and scales in [lo, hi) (one per slot and kv head).
inline void random_int8_kv(size_t n_elems, size_t n_scales, float lo, float hi, uint32_t seed,
                           std::vector<int8_t>& values, std::vector<float>& scales) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> qd(-127, 127);
  std::uniform_real_distribution<float> sd(lo, hi);
  values.resize(n_elems);
  for (auto& x : values) x = static_cast<int8_t>(qd(rng));
  scales.resize(n_scales);
  for (auto& x : scales) x = sd(rng);
}

// ALiBi slopes as BLOOM / kernels/ref use them: 2^(-8 (h + 1) / n_heads) for a power-of-two
// head count (any positive values exercise the kernels equally).
inline std::vector<float> alibi_slopes(int n_heads) {
  std::vector<float> s(static_cast<size_t>(n_heads));
  for (int h = 0; h < n_heads; ++h)
    s[static_cast<size_t>(h)] = static_cast<float>(std::pow(2.0, -8.0 * (h + 1) / n_heads));
  return s;
}

}  // namespace lightllm::cuda_test
