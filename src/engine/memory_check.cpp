// src/engine/memory_check.cpp — the start-up memory proof (see memory_check.h).
#include "engine/memory_check.h"

#include <algorithm>
#include <span>

#include "core/log.h"
#include "kv/req_to_token.h"
#include "kv/token_pool.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

namespace lightllm::engine {

namespace {

// Longest prompt a request may have: it must leave room for one output token.
int64_t longest_prompt(const StepLimits& lim) {
  return std::max<int64_t>(1, lim.max_req_total_len - 1);
}

// `total` split over `n` parts as evenly as possible (the first total % n get one more).
int64_t share(int64_t total, int64_t n, int64_t i) {
  return total / n + (i < total % n ? 1 : 0);
}

}  // namespace

std::vector<DummyRequest> max_step_shape(const StepLimits& lim, int64_t capacity) {
  std::vector<DummyRequest> out;
  const int64_t r_max = std::max(1, lim.running_max_req_size);
  const int64_t p_len = longest_prompt(lim);
  int64_t tokens = std::min(std::max<int64_t>(1, lim.batch_max_tokens), capacity);
  int64_t n_prefill = (tokens + p_len - 1) / p_len;
  if (n_prefill > r_max) {  // the requests cannot hold the whole budget
    n_prefill = r_max;
    tokens = r_max * p_len;
  }
  for (int64_t i = 0; i < n_prefill; ++i)
    out.push_back({.cached_len = 0, .n_tokens = static_cast<int32_t>(share(tokens, n_prefill, i))});
  // Every other running request decodes one token beside the prefill, each with a context that
  // shares what is left of the pool.
  const int64_t n_decode = std::min(r_max - n_prefill, capacity - tokens);
  if (n_decode <= 0) return out;
  const int64_t spare = capacity - tokens - n_decode;  // cached positions to share
  for (int64_t i = 0; i < n_decode; ++i) {
    const int64_t cached = std::min(lim.max_req_total_len - 1, share(spare, n_decode, i));
    out.push_back(
        {.cached_len = static_cast<int32_t>(std::max<int64_t>(0, cached)), .n_tokens = 1});
  }
  return out;
}

std::vector<DummyRequest> max_decode_shape(const StepLimits& lim, int64_t capacity) {
  std::vector<DummyRequest> out;
  const int64_t n = std::min<int64_t>(std::max(1, lim.running_max_req_size), capacity);
  if (n <= 0) return out;
  // One request as long as a request may be, the others sharing the rest of the pool.
  const int64_t first = std::min(lim.max_req_total_len, capacity - (n - 1));
  out.push_back({.cached_len = static_cast<int32_t>(first - 1), .n_tokens = 1});
  for (int64_t i = 1; i < n; ++i) {
    const int64_t len =
        std::clamp<int64_t>(share(capacity - first, n - 1, i - 1), 1, lim.max_req_total_len);
    out.push_back({.cached_len = static_cast<int32_t>(len - 1), .n_tokens = 1});
  }
  return out;
}

core::Status run_dummy_step(models::Model& model, models::KvStorage& kv,
                            const std::vector<DummyRequest>& reqs, int64_t max_req_total_len) {
  if (reqs.empty()) return {};
  const models::ModelShape& s = model.shape();
  kv::TokenPool pool(kv.capacity);
  kv::ReqToTokenTable table(static_cast<int32_t>(reqs.size()), max_req_total_len);
  int64_t n_tokens = 0;
  for (const DummyRequest& r : reqs) n_tokens += r.n_tokens;
  std::vector<int32_t> ids(static_cast<size_t>(n_tokens));
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13) % s.vocab);

  std::vector<models::StepSegment> segs;
  std::vector<int32_t> held;
  int64_t offset = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    const DummyRequest& r = reqs[i];
    const int64_t len = int64_t{r.cached_len} + r.n_tokens;
    if (r.n_tokens < 1 || len > max_req_total_len)
      return core::internal_error("dummy step: request {} of {} tokens over a row of {}", i, len,
                                  max_req_total_len);
    const int32_t row = *table.alloc_row();
    auto dst = table.row(row).first(static_cast<size_t>(len));
    if (!pool.alloc(dst))
      return core::internal_error("dummy step: {} K/V positions do not fit the pool of {}",
                                  static_cast<int64_t>(held.size()) + len, kv.capacity);
    held.insert(held.end(), dst.begin(), dst.end());
    segs.push_back({.req_row = row,
                    .tokens = std::span<const int32_t>(ids).subspan(
                        static_cast<size_t>(offset), static_cast<size_t>(r.n_tokens)),
                    .cached_len = r.cached_len,
                    .wants_logits = true});
    offset += r.n_tokens;
  }
  models::StepBatchBuilder builder(table.data(), max_req_total_len);
  const models::StepBatch& batch = builder.build(segs);
  core::Tensor logits =
      core::Tensor::empty({static_cast<int64_t>(segs.size()), s.vocab}, core::DType::f32);
  core::Status st = model.forward(batch, kv, logits);
  if (st.ok() && model.device() == core::Device::cuda) st = ops::cuda_synchronize();
  LLM_RETURN_IF_ERROR(st);
  LLM_RETURN_IF_ERROR(pool.free(held));
  LLM_RETURN_IF_ERROR(pool.check_invariants());
  if (pool.free_count() != pool.capacity())
    return core::internal_error("dummy step: {} of {} slots still held", pool.used_count(),
                                pool.capacity());
  return {};
}

core::Result<PoolFit> fit_kv_pool(int64_t capacity, const FitOptions& opt, const FitHooks& hooks) {
  PoolFit fit;
  core::Status last;
  int64_t cap = capacity, last_cap = capacity;
  for (int attempt = 1; attempt <= std::max(1, opt.max_attempts); ++attempt) {
    if (cap < 1) break;
    fit.attempts = attempt;
    last_cap = cap;
    core::Result<models::KvStorage> kv = hooks.allocate(cap);
    core::Status st = kv.status();
    if (st.ok() && hooks.run_steps) st = hooks.run_steps(*kv);
    if (st.ok()) {
      fit.kv = std::move(kv).value();
      fit.capacity = cap;
      return fit;
    }
    if (st.code() != core::StatusCode::out_of_memory) return st;
    last = st;
    const int64_t next = static_cast<int64_t>(static_cast<double>(cap) * opt.shrink);
    fit.events.push_back(fmt::format("attempt {}: KV pool of {} tokens: {}; retrying with {}",
                                     attempt, cap, st.message(), next));
    LLM_WARN("memory check {}", fit.events.back());
    cap = next;
  }
  return core::error(core::StatusCode::out_of_memory,
                     "memory check: the largest steps do not fit beside a KV pool of {} tokens "
                     "after {} attempts (shrinking from {}); last error: {}. Lower --mem-fraction "
                     "or --max-total-token-num, --batch-max-tokens or --running-max-req-size",
                     last_cap, fit.attempts, capacity, last.message());
}

core::Result<PoolFit> allocate_checked_pool(models::Model& model, int64_t capacity,
                                            const PoolRequest& req) {
  const core::Device device = model.device();
  FitHooks hooks;
  hooks.allocate = [&](int64_t cap) -> core::Result<models::KvStorage> {
    LLM_ASSIGN_OR_RETURN(
        models::KvStorage kv,
        models::KvStorage::allocate_on(device, req.n_layers, cap + (req.scratch_slot ? 1 : 0),
                                       req.n_kv_heads, req.head_dim, req.dtype));
    if (req.scratch_slot) kv.scratch_slot = cap;
    return kv;
  };
  if (req.check) {
    hooks.run_steps = [&](models::KvStorage& kv) -> core::Status {
      const uint64_t failures = ops::device_alloc_failures();
      const std::vector<DummyRequest> step = max_step_shape(req.limits, kv.capacity);
      const std::vector<DummyRequest> decode = max_decode_shape(req.limits, kv.capacity);
      int64_t step_tokens = 0;
      for (const DummyRequest& r : step) step_tokens += r.n_tokens;
      core::Status st = run_dummy_step(model, kv, step, req.limits.max_req_total_len);
      if (st.ok()) st = run_dummy_step(model, kv, decode, req.limits.max_req_total_len);
      st = as_out_of_memory(st, failures);
      if (!st.ok())
        return core::Status(st.code(),
                            fmt::format("dummy steps ({} tokens in {} requests; {} "
                                        "decode requests): {}",
                                        step_tokens, step.size(), decode.size(), st.message()));
      LLM_INFO(
          "memory check: a step of {} tokens in {} requests and a decode step of {} requests "
          "fit beside the KV pool of {} tokens",
          step_tokens, step.size(), decode.size(), kv.capacity);
      return {};
    };
  }
  return fit_kv_pool(capacity, req.fit, hooks);
}

core::Status as_out_of_memory(const core::Status& st, uint64_t failures_before) {
  if (st.ok() || st.code() == core::StatusCode::out_of_memory) return st;
  if (ops::device_alloc_failures() > failures_before)
    return core::Status(core::StatusCode::out_of_memory,
                        st.message() + " (after a failed device allocation)");
  return st;
}

}  // namespace lightllm::engine
