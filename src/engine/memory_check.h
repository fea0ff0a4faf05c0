// src/engine/memory_check.h — the start-up proof that the largest steps the router can plan fit
// in device memory beside the KV pool (issue #7), and the bounded retry that shrinks the pool
// when they do not.
//
// After the pool is sized (--max-total-token-num, or --mem-fraction of the memory free after
// the weights), fit_kv_pool() allocates it and runs two dummy steps through the real model:
//   max step:   the router's largest step: batch_max_tokens prompt tokens in as few requests as
//               max_req_total_len allows (prompts as long as a request may be), plus one decode
//               token for every other running request, up to running_max_req_size requests,
//               each of them wanting logits (the most tokens and the most logit rows at once);
//   max decode: one token for each of min(running_max_req_size, capacity) requests whose
//               contexts fill the pool (one at max_req_total_len, the others sharing the rest).
// Their K/V go to real pool slots taken from a TokenPool over the whole pool and given back
// afterwards (the check verifies free == capacity again). Activation buffers and the cuBLASLt /
// attention workspaces grow to their largest size and stay allocated (they never shrink), so
// later steps of at most these sizes do not allocate.
//
// An out-of-memory failure (allocating the pool, or in a step) frees the pool, shrinks it by
// `shrink` and retries, at most max_attempts allocations in all; then start-up fails with a
// message naming the flags to lower. Any other failure is returned as is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/model.h"

namespace lightllm::engine {

// Router limits the dummy steps are shaped by (already resolved: no 0 = auto left).
struct StepLimits {
  int64_t batch_max_tokens = 0;   // prefill tokens per step
  int running_max_req_size = 0;   // requests in one step
  int64_t max_req_total_len = 0;  // longest request (prompt + output), req_to_token row length
};

// One request of a dummy step: `n_tokens` fed at positions [cached_len, cached_len + n_tokens).
struct DummyRequest {
  int32_t cached_len = 0;
  int32_t n_tokens = 0;
};

// The two dummy steps for a pool of `capacity` slots (total K/V positions <= capacity).
std::vector<DummyRequest> max_step_shape(const StepLimits& lim, int64_t capacity);
std::vector<DummyRequest> max_decode_shape(const StepLimits& lim, int64_t capacity);

// Runs one dummy step of `reqs` on `model` with the pool `kv`: slots come from a TokenPool over
// the whole pool and are freed again; the logits are discarded.
core::Status run_dummy_step(models::Model& model, models::KvStorage& kv,
                            const std::vector<DummyRequest>& reqs, int64_t max_req_total_len);

struct FitOptions {
  int max_attempts = 4;  // pool allocations in all (first try included)
  double shrink = 0.85;  // capacity factor after an out-of-memory failure
};

// What fit_kv_pool() drives: allocate a pool, run the dummy steps on it. A failure whose code is
// out_of_memory shrinks the pool and retries; any other failure ends the fit.
struct FitHooks {
  std::function<core::Result<models::KvStorage>(int64_t capacity)> allocate;
  std::function<core::Status(models::KvStorage& kv)> run_steps;  // empty: no check
};

struct PoolFit {
  models::KvStorage kv;
  int64_t capacity = 0;
  int attempts = 0;                 // pool allocations made
  std::vector<std::string> events;  // one line per failed attempt (also logged)
};

core::Result<PoolFit> fit_kv_pool(int64_t capacity, const FitOptions& opt, const FitHooks& hooks);

// The engine's use of the above: a pool of `capacity` slots on the model's device, checked with
// both dummy steps when `check` is set (the pool is then shrunk on out-of-memory as above).
struct PoolRequest {
  int n_layers = 0, n_kv_heads = 0, head_dim = 0;
  core::DType dtype = core::DType::bf16;  // KV element type
  StepLimits limits;
  bool check = true;
  // One slot beyond `capacity` that no request gets (KvStorage::scratch_slot): the CUDA-graph
  // padding rows write their K/V there.
  bool scratch_slot = false;
  FitOptions fit;
};
core::Result<PoolFit> allocate_checked_pool(models::Model& model, int64_t capacity,
                                            const PoolRequest& req);

// `st` as an out_of_memory status when it is one, or when device allocations failed since
// `failures_before` (ops::device_alloc_failures(): a failed activation buffer surfaces as
// another error in a later op); otherwise `st` unchanged.
core::Status as_out_of_memory(const core::Status& st, uint64_t failures_before);

}  // namespace lightllm::engine
