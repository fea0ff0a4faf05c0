// src/engine/runner/device_sampler.cpp — see device_sampler.h.
#include "engine/runner/device_sampler.h"

#include <algorithm>

#include "engine/sampling/device_sampling.h"
#include "ops/ops.h"
#include "ops/sampling_ops.h"

namespace lightllm::engine {

using core::Device;
using core::DType;
using core::Tensor;

bool DeviceSampler::covers(const StepPlan& plan) {
  return std::all_of(plan.entries.begin(), plan.entries.end(), [](const StepEntry& e) {
    return !e.sample || sampling::device_samplable(*e.sampling);
  });
}

core::Result<Tensor> DeviceSampler::logits(int64_t n_rows, int64_t vocab) {
  if (!logits_.defined() || logits_.dim(0) < n_rows || logits_.dim(1) != vocab) {
    const int64_t cap = std::max<int64_t>(n_rows, 8);
    LLM_ASSIGN_OR_RETURN(logits_, ops::empty_on(Device::cuda, {cap, vocab}, DType::f32));
    LLM_ASSIGN_OR_RETURN(ids_, ops::empty_on(Device::cuda, {cap}, DType::i32));
    LLM_ASSIGN_OR_RETURN(logprobs_, ops::empty_on(Device::cuda, {cap}, DType::f32));
  }
  return logits_.rows(0, n_rows);
}

core::Status DeviceSampler::sample(const StepPlan& plan, Tensor& logits, StepResult& result) {
  const int64_t n = logits.dim(0);
  const int64_t vocab = logits.dim(1);
  batch_.clear();
  bool want_logprobs = false;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    sampling::append_sample_row(*e.sampling, vocab, batch_);
    want_logprobs = want_logprobs || e.sampling->params.return_logprobs;
  }
  if (static_cast<int64_t>(batch_.rows.size()) != n)
    return core::internal_error("device sampling: {} sampled entries for {} logits rows",
                                batch_.rows.size(), n);
  if (!ids_.defined() || ids_.dim(0) < n)
    return core::internal_error("device sampling: logits() was not called for {} rows", n);
  ids_view_ = ids_.rows(0, n);
  Tensor lp = logprobs_.rows(0, n);
  LLM_RETURN_IF_ERROR(ops::sample(logits, batch_, ids_view_, want_logprobs ? &lp : nullptr));

  host_ids_.resize(static_cast<size_t>(n));
  Tensor ids_host = Tensor::view(host_ids_.data(), {n}, DType::i32);
  LLM_RETURN_IF_ERROR(ops::copy_to_host(ids_view_, ids_host));
  host_logprobs_.assign(static_cast<size_t>(n), 0.0f);
  if (want_logprobs) {
    Tensor lp_host = Tensor::view(host_logprobs_.data(), {n}, DType::f32);
    LLM_RETURN_IF_ERROR(ops::copy_to_host(lp, lp_host));
  }
  size_t row = 0;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    const int32_t token = host_ids_[row];
    if (token < 0 || token >= vocab)
      return core::internal_error("device sampling returned id {} outside [0, {})", token, vocab);
    e.sampling->record(token);
    result.sampled.push_back(
        {.seq_id = e.seq_id,
         .token = token,
         .logprob = e.sampling->params.return_logprobs ? host_logprobs_[row] : 0.0f,
         .top_logprobs = {}});
    ++row;
  }
  return {};
}

}  // namespace lightllm::engine
