// src/kernels/cpu/attention_cpu.cpp — causal GQA attention over token slots (CPU).
// Work item = (request, kv head, block of up to kQueryBlock query rows); items run in
// parallel (OpenMP, dynamic). An item walks its key range in tiles of kKeyBlock keys: the
// tile's K and V rows are gathered through req_to_token and dequantized (bf16/f16/i8*scale)
// into a small L1-resident f32 buffer once, then reused by every query row and every query
// head of the GQA group; scores go through an online (flash) softmax, so memory is
// O(tile), never O(kv_len). Decode rows (q_len == 1) read each K/V row once per kv head.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/vec_exp.h"

// GCC 12 warns inside its own AVX-512 headers (the self-initialised "undefined" vectors of
// _mm*_undefined_*): a known false positive, silenced for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lightllm::kernels::cpu {
namespace {

constexpr int64_t kKeyBlock = 32;
constexpr int64_t kQueryBlock = 16;

// The SIMD pieces of the inner loop, one set per ISA.
struct VecOps {
  // dst[j, :] = dequant(cache[slots[j], kvh, :]) for j < n.   dst: [n, hd]
  void (*gather)(const AttentionParams& p, const void* cache, const float* scales,
                 const int32_t* slots, int64_t n, int64_t kvh, float* dst);
  // s[j] = q . k[j, :] for j < n.   q: [hd]; k: [n, hd]; s: [n]
  void (*qk)(const float* q, const float* k, int64_t n, int64_t hd, float* s);
  // acc = alpha * acc + sum_j w[j] * v[j, :].   v: [n, hd]; acc: [hd]
  void (*pv)(const float* w, const float* v, int64_t n, int64_t hd, float alpha, float* acc);
  // s[j] = exp(s[j] - m) for j < n; returns sum_j s[j].
  float (*exp_sum)(float* s, int64_t n, float m);
};

// --- scalar ---------------------------------------------------------------------------------
void gather_scalar(const AttentionParams& p, const void* cache, const float* scales,
                   const int32_t* slots, int64_t n, int64_t kvh, float* dst) {
  const int64_t hd = p.head_dim;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = static_cast<int64_t>(slots[j]) * p.n_kv_heads + kvh;
    const int64_t base = row * hd;
    float* d = dst + j * hd;
    switch (p.cache_dtype) {
      case DType::f32: std::memcpy(d, static_cast<const float*>(cache) + base, hd * 4); break;
      case DType::bf16:
        for (int64_t i = 0; i < hd; ++i)
          d[i] = core::bf16_to_f32(static_cast<const core::bf16*>(cache)[base + i]);
        break;
      case DType::f16:
        for (int64_t i = 0; i < hd; ++i)
          d[i] = core::f16_to_f32(static_cast<const core::f16*>(cache)[base + i]);
        break;
      case DType::i8:
        for (int64_t i = 0; i < hd; ++i)
          d[i] = static_cast<float>(static_cast<const int8_t*>(cache)[base + i]) * scales[row];
        break;
      default: break;
    }
  }
}

void qk_scalar(const float* q, const float* k, int64_t n, int64_t hd, float* s) {
  for (int64_t j = 0; j < n; ++j) {
    float acc = 0.0f;
    for (int64_t i = 0; i < hd; ++i) acc += q[i] * k[j * hd + i];
    s[j] = acc;
  }
}

void pv_scalar(const float* w, const float* v, int64_t n, int64_t hd, float alpha, float* acc) {
  for (int64_t i = 0; i < hd; ++i) acc[i] *= alpha;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < hd; ++i) acc[i] += w[j] * v[j * hd + i];
}

float exp_sum_scalar(float* s, int64_t n, float m) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - m));
  return sum;
}

// --- AVX2 -----------------------------------------------------------------------------------
LLM_TARGET_AVX2 float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LLM_TARGET_AVX2 void qk_avx2(const float* q, const float* k, int64_t n, int64_t hd, float* s) {
  const int64_t hd8 = hd / 8 * 8;
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = k + j * hd;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= hd8; i += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(kj + i + 8), a1);
    }
    for (; i < hd8; i += 8)
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), a0);
    float acc = hsum8(_mm256_add_ps(a0, a1));
    for (; i < hd; ++i) acc += q[i] * kj[i];
    s[j] = acc;
  }
}

LLM_TARGET_AVX2 void pv_avx2(const float* w, const float* v, int64_t n, int64_t hd, float alpha,
                             float* acc) {
  const int64_t hd8 = hd / 8 * 8;
  const __m256 va = _mm256_set1_ps(alpha);
  for (int64_t i = 0; i < hd8; i += 8) {
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(acc + i), va);
    for (int64_t j = 0; j < n; ++j)
      a = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(v + j * hd + i), a);
    _mm256_storeu_ps(acc + i, a);
  }
  for (int64_t i = hd8; i < hd; ++i) {
    float a = acc[i] * alpha;
    for (int64_t j = 0; j < n; ++j) a += w[j] * v[j * hd + i];
    acc[i] = a;
  }
}

LLM_TARGET_AVX2 float exp_sum_avx2(float* s, int64_t n, float m) {
  __m256 acc = _mm256_setzero_ps();
  const __m256 vm = _mm256_set1_ps(m);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum8(acc);
  for (; j < n; ++j) sum += (s[j] = std::exp(s[j] - m));
  return sum;
}

// --- AVX-512 --------------------------------------------------------------------------------
LLM_TARGET_AVX512 inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
}

LLM_TARGET_AVX512 void gather_avx512(const AttentionParams& p, const void* cache,
                                     const float* scales, const int32_t* slots, int64_t n,
                                     int64_t kvh, float* dst) {
  const int64_t hd = p.head_dim;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = static_cast<int64_t>(slots[j]) * p.n_kv_heads + kvh;
    const int64_t base = row * hd;
    float* d = dst + j * hd;
    for (int64_t i = 0; i < hd; i += 16) {
      const __mmask16 m = tail_mask(hd - i);
      __m512 x;
      switch (p.cache_dtype) {
        case DType::f32:
          x = _mm512_maskz_loadu_ps(m, static_cast<const float*>(cache) + base + i);
          break;
        case DType::bf16:
          x = _mm512_castsi512_ps(
              _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
                                    m, static_cast<const uint16_t*>(cache) + base + i)),
                                16));
          break;
        case DType::f16:
          x = _mm512_cvtph_ps(
              _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(cache) + base + i));
          break;
        default:  // i8
          x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(
                                m, static_cast<const int8_t*>(cache) + base + i))),
                            _mm512_set1_ps(scales[row]));
          break;
      }
      _mm512_mask_storeu_ps(d + i, m, x);
    }
  }
}

LLM_TARGET_AVX512 void qk_avx512(const float* q, const float* k, int64_t n, int64_t hd, float* s) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {  // four keys at once: independent FMA chains
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < hd; i += 16) {
      const __mmask16 m = tail_mask(hd - i);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + (j + 0) * hd + i), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + (j + 1) * hd + i), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + (j + 2) * hd + i), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + (j + 3) * hd + i), a3);
    }
    s[j] = _mm512_reduce_add_ps(a0);
    s[j + 1] = _mm512_reduce_add_ps(a1);
    s[j + 2] = _mm512_reduce_add_ps(a2);
    s[j + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; j < n; ++j) {
    __m512 a = _mm512_setzero_ps();
    for (int64_t i = 0; i < hd; i += 16) {
      const __mmask16 m = tail_mask(hd - i);
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, k + j * hd + i),
                          a);
    }
    s[j] = _mm512_reduce_add_ps(a);
  }
}

LLM_TARGET_AVX512 void pv_avx512(const float* w, const float* v, int64_t n, int64_t hd, float alpha,
                                 float* acc) {
  const __m512 va = _mm512_set1_ps(alpha);
  for (int64_t i = 0; i < hd; i += 64) {  // four 16-lane chunks of acc stay in registers
    const __mmask16 m0 = tail_mask(hd - i), m1 = tail_mask(std::max<int64_t>(0, hd - i - 16)),
                    m2 = tail_mask(std::max<int64_t>(0, hd - i - 32)),
                    m3 = tail_mask(std::max<int64_t>(0, hd - i - 48));
    __m512 a0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m0, acc + i), va);
    __m512 a1 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m1, acc + i + 16), va);
    __m512 a2 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m2, acc + i + 32), va);
    __m512 a3 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m3, acc + i + 48), va);
    for (int64_t j = 0; j < n; ++j) {
      const __m512 wj = _mm512_set1_ps(w[j]);
      const float* vj = v + j * hd + i;
      a0 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(m0, vj), a0);
      a1 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(m1, vj + 16), a1);
      a2 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(m2, vj + 32), a2);
      a3 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(m3, vj + 48), a3);
    }
    _mm512_mask_storeu_ps(acc + i, m0, a0);
    _mm512_mask_storeu_ps(acc + i + 16, m1, a1);
    _mm512_mask_storeu_ps(acc + i + 32, m2, a2);
    _mm512_mask_storeu_ps(acc + i + 48, m3, a3);
  }
}

LLM_TARGET_AVX512 float exp_sum_avx512(float* s, int64_t n, float m) {
  __m512 acc = _mm512_setzero_ps();
  const __m512 vm = _mm512_set1_ps(m);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm));
    _mm512_mask_storeu_ps(s + j, k, e);
    acc = _mm512_mask_add_ps(acc, k, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

VecOps select_ops() {
  const Isa isa = active_isa();
  if (isa >= Isa::avx512) return {&gather_avx512, &qk_avx512, &pv_avx512, &exp_sum_avx512};
  if (isa >= Isa::avx2) return {&gather_scalar, &qk_avx2, &pv_avx2, &exp_sum_avx2};
  return {&gather_scalar, &qk_scalar, &pv_scalar, &exp_sum_scalar};
}

constexpr int64_t kMinSplitKeys = 256;  // split-K parts are at least this many keys

struct Item {
  int32_t req;
  int32_t kvh;
  int32_t row0, row1;  // query rows [row0, row1) of the flat batch
  int64_t key_lo = 0;  // only keys in [key_lo, key_hi] (split-K part)
  int64_t key_hi = INT64_MAX;
  int64_t partial = -1;  // -1: write out; else first partial row of this part
};

// Unnormalized results of split-K parts, merged after the parallel loop.
// acc: [rows, head_dim]; m, l: [rows] (running max and sum of exp of each row).
struct Partials {
  std::vector<float> acc, m, l;
};

// Per-thread buffers, grown on demand and reused across calls.
struct Scratch {
  std::vector<float> k, v, s, acc, m, l;
};

void run_item(const AttentionParams& p, const VecOps& ops, const Item& it, Scratch& sc,
              Partials& parts) {
  const int64_t hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
  const int64_t rq0 = p.q_start[it.req], q_len = p.q_start[it.req + 1] - rq0;
  const int64_t kv_len = p.kv_len[it.req];
  const int32_t* slots = p.req_to_token + p.req_row[it.req] * p.req_to_token_stride;
  auto pos_of = [&](int64_t row) { return kv_len - q_len + (row - rq0); };
  const int64_t rows = (it.row1 - it.row0) * group;
  const int64_t W = p.sliding_window;
  const int64_t lo_all =
      std::max(it.key_lo, W > 0 ? std::max<int64_t>(0, pos_of(it.row0) - W + 1) : 0);
  const int64_t hi_all = std::min(it.key_hi, pos_of(it.row1 - 1));  // inclusive

  sc.k.resize(static_cast<size_t>(kKeyBlock * hd));
  sc.v.resize(static_cast<size_t>(kKeyBlock * hd));
  sc.s.resize(kKeyBlock);
  sc.acc.assign(static_cast<size_t>(rows * hd), 0.0f);
  sc.m.assign(static_cast<size_t>(rows), -INFINITY);
  sc.l.assign(static_cast<size_t>(rows), 0.0f);

  for (int64_t j0 = lo_all; j0 <= hi_all; j0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, hi_all + 1 - j0);
    ops.gather(p, p.k_cache, p.k_scale, slots + j0, n, it.kvh, sc.k.data());
    ops.gather(p, p.v_cache, p.v_scale, slots + j0, n, it.kvh, sc.v.data());
    for (int64_t row = it.row0; row < it.row1; ++row) {
      const int64_t pos = pos_of(row);
      const int64_t jlo = W > 0 ? std::max(j0, pos - W + 1) : j0;
      const int64_t jhi = std::min(j0 + n - 1, pos);
      if (jlo > jhi) continue;
      const int64_t cnt = jhi - jlo + 1, off = jlo - j0;
      for (int64_t g = 0; g < group; ++g) {
        const int64_t h = it.kvh * group + g;
        const int64_t rho = (row - it.row0) * group + g;
        float* s = sc.s.data();
        ops.qk(p.q + (row * p.n_heads + h) * hd, sc.k.data() + off * hd, cnt, hd, s);
        float mx = -INFINITY;
        const float slope = p.alibi_slopes ? p.alibi_slopes[h] : 0.0f;
        for (int64_t t = 0; t < cnt; ++t) {
          s[t] = s[t] * p.scale + slope * static_cast<float>(jlo + t - pos);
          mx = std::max(mx, s[t]);
        }
        float& m = sc.m[static_cast<size_t>(rho)];
        const float m_new = std::max(m, mx);
        const float alpha = std::exp(m - m_new);  // 0 on the first tile (m = -inf)
        const float sum = ops.exp_sum(s, cnt, m_new);
        float& l = sc.l[static_cast<size_t>(rho)];
        l = l * alpha + sum;
        m = m_new;
        ops.pv(s, sc.v.data() + off * hd, cnt, hd, alpha, sc.acc.data() + rho * hd);
      }
    }
  }
  if (it.partial >= 0) {  // a split-K part: keep the unnormalized state for the merge
    std::copy(sc.acc.begin(), sc.acc.end(), parts.acc.begin() + it.partial * hd);
    std::copy(sc.m.begin(), sc.m.end(), parts.m.begin() + it.partial);
    std::copy(sc.l.begin(), sc.l.end(), parts.l.begin() + it.partial);
    return;
  }
  for (int64_t row = it.row0; row < it.row1; ++row)
    for (int64_t g = 0; g < group; ++g) {
      const int64_t rho = (row - it.row0) * group + g;
      const float inv = 1.0f / sc.l[static_cast<size_t>(rho)];
      const float* a = sc.acc.data() + rho * hd;
      float* out = p.out + (row * p.n_heads + it.kvh * group + g) * hd;
      for (int64_t i = 0; i < hd; ++i) out[i] = a[i] * inv;
    }
}

// Combines the split-K parts [first, first + n_parts) of one item into out.
void merge_parts(const AttentionParams& p, const Item& it, const std::vector<Item>& items,
                 size_t first, int64_t n_parts, const Partials& parts) {
  const int64_t hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
  for (int64_t row = it.row0; row < it.row1; ++row)
    for (int64_t g = 0; g < group; ++g) {
      const int64_t rho = (row - it.row0) * group + g;
      float mx = -INFINITY;
      for (int64_t s = 0; s < n_parts; ++s)
        mx = std::max(mx, parts.m[static_cast<size_t>(items[first + s].partial + rho)]);
      float* out = p.out + (row * p.n_heads + it.kvh * group + g) * hd;
      std::fill(out, out + hd, 0.0f);
      float l = 0.0f;
      for (int64_t s = 0; s < n_parts; ++s) {
        const int64_t base = items[first + s].partial + rho;
        if (parts.l[static_cast<size_t>(base)] == 0.0f) continue;  // no keys of this row here
        const float w = std::exp(parts.m[static_cast<size_t>(base)] - mx);
        l += parts.l[static_cast<size_t>(base)] * w;
        const float* a = parts.acc.data() + base * hd;
        for (int64_t i = 0; i < hd; ++i) out[i] += a[i] * w;
      }
      const float inv = 1.0f / l;
      for (int64_t i = 0; i < hd; ++i) out[i] *= inv;
    }
}

}  // namespace

void attention(const AttentionParams& p) {
  const VecOps ops = select_ops();
  const int64_t group = p.n_heads / p.n_kv_heads;
  std::vector<Item> base;
  int64_t work = 0;
  for (int32_t r = 0; r < p.n_reqs; ++r) {
    for (int32_t row = p.q_start[r]; row < p.q_start[r + 1]; row += kQueryBlock) {
      const int32_t row1 = std::min<int32_t>(p.q_start[r + 1], row + kQueryBlock);
      for (int32_t kvh = 0; kvh < p.n_kv_heads; ++kvh) base.push_back({r, kvh, row, row1});
    }
    work += static_cast<int64_t>(p.q_start[r + 1] - p.q_start[r]) * p.kv_len[r];
  }
  const bool parallel = work * p.n_heads * p.head_dim >= (1 << 16);
  const int64_t threads = parallel ? omp_get_max_threads() : 1;

  // Too few items to fill the threads (decode of few requests / kv heads): split long key
  // ranges into parts (flash-decoding) and merge them afterwards.
  std::vector<Item> items;
  struct Merge {
    size_t base, first;
    int64_t n_parts;
  };
  std::vector<Merge> merges;
  int64_t partial_rows = 0;
  const int64_t want_parts = static_cast<int64_t>(base.size()) < 2 * threads && !base.empty()
                                 ? (2 * threads + static_cast<int64_t>(base.size()) - 1) /
                                       static_cast<int64_t>(base.size())
                                 : 1;
  for (size_t b = 0; b < base.size(); ++b) {
    const Item& it = base[b];
    const int64_t q_len = p.q_start[it.req + 1] - p.q_start[it.req];
    const int64_t hi = p.kv_len[it.req] - q_len + (it.row1 - p.q_start[it.req]) - 1;
    const int64_t n_parts = std::min(want_parts, (hi + 1) / kMinSplitKeys);
    if (n_parts <= 1) {
      items.push_back(it);
      continue;
    }
    merges.push_back({b, items.size(), n_parts});
    for (int64_t s = 0; s < n_parts; ++s) {
      Item part = it;
      part.key_lo = (hi + 1) * s / n_parts;
      part.key_hi = (hi + 1) * (s + 1) / n_parts - 1;
      part.partial = partial_rows;
      partial_rows += (it.row1 - it.row0) * group;
      items.push_back(part);
    }
  }
  Partials parts;
  parts.acc.resize(static_cast<size_t>(partial_rows * p.head_dim));
  parts.m.assign(static_cast<size_t>(partial_rows), -INFINITY);
  parts.l.assign(static_cast<size_t>(partial_rows), 0.0f);

  const int64_t n_items = static_cast<int64_t>(items.size());
#pragma omp parallel if (parallel)
  {
    thread_local Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_items; ++i)
      run_item(p, ops, items[static_cast<size_t>(i)], scratch, parts);
  }
  for (const Merge& mg : merges) merge_parts(p, base[mg.base], items, mg.first, mg.n_parts, parts);
}

}  // namespace lightllm::kernels::cpu
