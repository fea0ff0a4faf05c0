// src/ops/attention_ops.cpp — store_kv and attention over token slots: checks of the KV
// view and of AttentionMeta (every slot a request can read is in range), then dispatch.
#include "kernels/cpu/cpu_kernels.h"
#include "ops/cuda_ops.h"
#include "ops/op_checks.h"
#include "ops/ops.h"

namespace lightllm::ops {

using namespace detail;
using core::DType;

namespace {

// cache.k / cache.v: [n_slots, n_kv_heads, head_dim] of one KV dtype (+ i8 scales).
Status check_cache(std::string_view op, const KvCacheView& c) {
  LLM_RETURN_IF_ERROR(check_tensor(op, {"cache.k", c.k}, 3));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"cache.v", c.v}, 3));
  LLM_RETURN_IF_ERROR(
      check_dtype(op, {"cache.k", c.k}, {DType::f32, DType::bf16, DType::f16, DType::i8}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"cache.k", c.k}, {"cache.v", c.v}));
  if (c.k.dtype() != c.v.dtype())
    return core::invalid_argument("{}: cache.v has dtype {} but cache.k has {}", op,
                                  core::dtype_name(c.v.dtype()), core::dtype_name(c.k.dtype()));
  if (c.k.dtype() == DType::i8) {
    for (const Arg& a : {Arg{"cache.k_scale", c.k_scale}, Arg{"cache.v_scale", c.v_scale}}) {
      LLM_RETURN_IF_ERROR(check_tensor(op, a, 2));
      LLM_RETURN_IF_ERROR(check_dtype(op, a, {DType::f32}));
      LLM_RETURN_IF_ERROR(check_dim(op, a, 0, c.k.dim(0), "n_slots of cache.k"));
      LLM_RETURN_IF_ERROR(check_dim(op, a, 1, c.k.dim(1), "n_kv_heads of cache.k"));
    }
  }
  return check_cpu(op, {&c.k, &c.v, &c.k_scale, &c.v_scale});
}

Status check_meta(const AttentionMeta& m, int64_t n_tokens, int64_t n_slots) {
  if (m.n_reqs < 0) return core::invalid_argument("attention: meta.n_reqs = {} < 0", m.n_reqs);
  if (m.n_reqs > 0 && (!m.q_start || !m.kv_len || !m.req_row || !m.req_to_token))
    return core::invalid_argument(
        "attention: meta.q_start/kv_len/req_row/req_to_token must be set");
  if (!(m.scale > 0.0f))
    return core::invalid_argument("attention: meta.scale = {} must be > 0", m.scale);
  if (m.sliding_window < 0)
    return core::invalid_argument("attention: meta.sliding_window = {} < 0", m.sliding_window);
  if (m.n_reqs == 0) {
    if (n_tokens != 0)
      return core::invalid_argument("attention: no requests but q has {} rows", n_tokens);
    return {};
  }
  if (m.q_start[0] != 0 || m.q_start[m.n_reqs] != n_tokens)
    return core::invalid_argument(
        "attention: meta.q_start must run from 0 to n_tokens = {} (got {}..{})", n_tokens,
        m.q_start[0], m.q_start[m.n_reqs]);
  for (int32_t r = 0; r < m.n_reqs; ++r) {
    const int64_t q_len = m.q_start[r + 1] - m.q_start[r];
    if (q_len < 0)
      return core::invalid_argument("attention: meta.q_start decreases at request {}", r);
    if (m.kv_len[r] < q_len || m.kv_len[r] > m.req_to_token_stride)
      return core::invalid_argument(
          "attention: meta.kv_len[{}] = {} must be in [q_len = {}, req_to_token_stride = {}]", r,
          m.kv_len[r], q_len, m.req_to_token_stride);
    if (m.req_row[r] < 0) return core::invalid_argument("attention: meta.req_row[{}] < 0", r);
    const int32_t* slots = m.req_to_token + m.req_row[r] * m.req_to_token_stride;
    for (int32_t j = 0; j < m.kv_len[r]; ++j)
      if (slots[j] < 0 || slots[j] >= n_slots)
        return core::invalid_argument(
            "attention: req_to_token[{}][{}] = {} (request {}) is outside the KV pool [0, {})",
            m.req_row[r], j, slots[j], r, n_slots);
  }
  return {};
}

}  // namespace

Status store_kv(const Tensor& k, const Tensor& v, const Tensor& slots, KvCacheView& cache) {
  LLM_OPS_CUDA_DISPATCH(k, store_kv(k, v, slots, cache));
  constexpr std::string_view op = "store_kv";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"k", k}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"k", k}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"v", v}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"v", v}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"k", k}, {"v", v}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"slots", slots}, 1));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"slots", slots}, {DType::i32}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"slots", slots}, 0, k.dim(0), "n_tokens of k"));
  LLM_RETURN_IF_ERROR(check_cache(op, cache));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 1, k.dim(1), "n_kv_heads of k"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 2, k.dim(2), "head_dim of k"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&k, &v, &slots}));
  const int32_t* s = slots.data<int32_t>();
  for (int64_t t = 0; t < slots.dim(0); ++t)
    if (s[t] < 0 || s[t] >= cache.k.dim(0))
      return core::invalid_argument("store_kv: slots[{}] = {} is outside the KV pool [0, {})", t,
                                    s[t], cache.k.dim(0));
  const bool i8 = cache.k.dtype() == DType::i8;
  kernels::cpu::store_kv({.k = k.data<float>(),
                          .v = v.data<float>(),
                          .slots = s,
                          .k_cache = cache.k.raw(),
                          .v_cache = cache.v.raw(),
                          .k_scale = i8 ? cache.k_scale.data<float>() : nullptr,
                          .v_scale = i8 ? cache.v_scale.data<float>() : nullptr,
                          .cache_dtype = cache.k.dtype(),
                          .n_tokens = k.dim(0),
                          .n_kv_heads = k.dim(1),
                          .head_dim = k.dim(2)});
  return {};
}

Status rope_store_kv(const RopeStoreKv& a) {
  LLM_OPS_CUDA_DISPATCH(a.q, rope_store_kv(a));
  LLM_RETURN_IF_ERROR(rope(a.q, a.k, a.positions, a.inv_freq, a.cfg));
  return store_kv(a.k, a.v, a.slots, a.cache);
}

Status qkv_rope_store_kv(const QkvRopeStoreKv& a) {
  constexpr std::string_view op = "qkv_rope_store_kv";
  LLM_RETURN_IF_ERROR(check_tensor(op, {"x", a.x}, 2));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"w", a.w}, 2));
  const RopeStoreKv& r = a.rope;
  for (const Arg& t : {Arg{"q", r.q}, Arg{"k", r.k}, Arg{"v", r.v}}) {
    LLM_RETURN_IF_ERROR(check_tensor(op, t, 3));
    LLM_RETURN_IF_ERROR(check_dim(op, t, 0, a.x.dim(0), "n_tokens of x"));
  }
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"k", r.k}, {"v", r.v}));
  LLM_RETURN_IF_ERROR(check_dim(op, {"k", r.k}, 2, r.q.dim(2), "head_dim of q"));
  const int64_t n = a.x.dim(0), nq = r.q.dim(1) * r.q.dim(2), nkv = r.k.dim(1) * r.k.dim(2);
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", a.w}, 0, nq + 2 * nkv, "the q, k and v columns"));
  LLM_RETURN_IF_ERROR(check_dim(op, {"w", a.w}, 1, a.x.dim(1), "hidden of x"));
  if (a.bias.defined()) {
    LLM_RETURN_IF_ERROR(check_tensor(op, {"bias", a.bias}, 1));
    LLM_RETURN_IF_ERROR(check_dim(op, {"bias", a.bias}, 0, a.w.dim(0), "w.dim(0)"));
  }
#if LIGHTLLM_CUDA
  if (a.x.device() == core::Device::cuda) {
    LLM_ASSIGN_OR_RETURN(const bool done, cuda_impl::try_qkv_rope_store_kv(a));
    if (done) return {};
  }
#endif
  Tensor q2 = r.q.reshape({n, nq}), k2 = r.k.reshape({n, nkv}), v2 = r.v.reshape({n, nkv});
  LLM_RETURN_IF_ERROR(a.norm != nullptr
                          ? rms_norm_matmul_split(*a.norm, a.w, a.bias, {&q2, &k2, &v2})
                          : matmul_split(a.x, a.w, a.bias, {&q2, &k2, &v2}));
  return rope_store_kv(r);
}

Status attention(const Tensor& q, const KvCacheView& cache, const AttentionMeta& meta,
                 Tensor& out) {
  constexpr std::string_view op = "attention";
  LLM_OPS_CUDA_DISPATCH(q, attention(q, cache, meta, out));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"q", q}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"q", q}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_tensor(op, {"out", out}, 3));
  LLM_RETURN_IF_ERROR(check_dtype(op, {"out", out}, {DType::f32}));
  LLM_RETURN_IF_ERROR(check_same_shape(op, {"q", q}, {"out", out}));
  LLM_RETURN_IF_ERROR(check_cache(op, cache));
  LLM_RETURN_IF_ERROR(check_dim(op, {"cache.k", cache.k}, 2, q.dim(2), "head_dim of q"));
  LLM_RETURN_IF_ERROR(check_cpu(op, {&q, &out}));
  const int64_t n_heads = q.dim(1), n_kv_heads = cache.k.dim(1);
  if (n_kv_heads == 0 || n_heads % n_kv_heads != 0)
    return core::invalid_argument(
        "attention: n_heads = {} of q is not a multiple of n_kv_heads = {}", n_heads, n_kv_heads);
  if (out.raw() == q.raw()) return core::invalid_argument("attention: out must not alias q");
  LLM_RETURN_IF_ERROR(check_meta(meta, q.dim(0), cache.k.dim(0)));
  const bool i8 = cache.k.dtype() == DType::i8;
  kernels::cpu::attention({.q = q.data<float>(),
                           .k_cache = cache.k.raw(),
                           .v_cache = cache.v.raw(),
                           .k_scale = i8 ? cache.k_scale.data<float>() : nullptr,
                           .v_scale = i8 ? cache.v_scale.data<float>() : nullptr,
                           .cache_dtype = cache.k.dtype(),
                           .out = out.data<float>(),
                           .n_tokens = q.dim(0),
                           .n_heads = n_heads,
                           .n_kv_heads = n_kv_heads,
                           .head_dim = q.dim(2),
                           .q_start = meta.q_start,
                           .kv_len = meta.kv_len,
                           .req_row = meta.req_row,
                           .req_to_token = meta.req_to_token,
                           .req_to_token_stride = meta.req_to_token_stride,
                           .n_reqs = meta.n_reqs,
                           .sliding_window = meta.sliding_window,
                           .scale = meta.scale,
                           .alibi_slopes = meta.alibi_slopes});
  return {};
}

}  // namespace lightllm::ops
