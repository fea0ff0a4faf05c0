// src/engine/runner/device_sampler.cpp — see device_sampler.h.
#include "engine/runner/device_sampler.h"

#include <algorithm>

#include "engine/sampling/device_sampling.h"
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
    LLM_ASSIGN_OR_RETURN(
        logits_, ops::empty_on(Device::cuda, {std::max<int64_t>(n_rows, 8), vocab}, DType::f32));
  }
  return logits_.rows(0, n_rows);
}

core::Status DeviceSampler::reserve(int64_t max_rows, int64_t vocab) {
  LLM_RETURN_IF_ERROR(logits(max_rows, vocab).status());
  for (Slot& s : slots_) LLM_RETURN_IF_ERROR(reserve(s, max_rows));
  return {};
}

core::Status DeviceSampler::reserve(Slot& s, int64_t n) {
  if (s.ids.device.defined() && s.ids.device.dim(0) >= n) return {};
  const int64_t cap = std::max<int64_t>(n, 8);
  LLM_ASSIGN_OR_RETURN(s.ids, ops::empty_mapped({cap}, DType::i32));
  LLM_ASSIGN_OR_RETURN(s.logprobs, ops::empty_mapped({cap}, DType::f32));
  LLM_ASSIGN_OR_RETURN(s.device_ids, ops::empty_on(Device::cuda, {cap}, DType::i32));
  return {};
}

core::Result<Tensor> DeviceSampler::launch(const StepPlan& plan, Tensor& logits,
                                           const InFlightRows& uncollected) {
  if (launched_.size() >= slots_.size())
    return core::internal_error("device sampling: {} steps launched and not collected",
                                launched_.size());
  const int64_t n = logits.dim(0);
  const int64_t vocab = logits.dim(1);
  batch_.clear();
  bool want_logprobs = false;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    LLM_RETURN_IF_ERROR(sampling::append_sample_row(*e.sampling, vocab, batch_,
                                                    uncollected.contains(e.seq_id) ? 1 : 0));
    want_logprobs = want_logprobs || e.sampling->params.return_logprobs;
  }
  if (static_cast<int64_t>(batch_.rows.size()) != n)
    return core::internal_error("device sampling: {} sampled entries for {} logits rows",
                                batch_.rows.size(), n);
  const int slot_index = next_slot_;
  Slot& s = slots_[static_cast<size_t>(slot_index)];
  LLM_RETURN_IF_ERROR(reserve(s, n));
  Tensor ids = s.ids.device.rows(0, n);
  Tensor lp = s.logprobs.device.rows(0, n);
  Tensor device_ids = s.device_ids.rows(0, n);
  LLM_RETURN_IF_ERROR(ops::sample(logits, batch_, ids, want_logprobs ? &lp : nullptr, &device_ids));
  launched_.push_back({.step_id = plan.step_id,
                       .slot = slot_index,
                       .n = n,
                       .vocab = vocab,
                       .logprobs = want_logprobs});
  next_slot_ = (next_slot_ + 1) % static_cast<int>(slots_.size());
  return device_ids;
}

core::Status DeviceSampler::collect(const StepPlan& plan, StepResult& result) {
  if (launched_.empty() || launched_.front().step_id != plan.step_id)
    return core::internal_error("device sampling: step {} collected out of launch order",
                                plan.step_id);
  const Launched l = launched_.front();
  launched_.pop_front();
  const Slot& s = slots_[static_cast<size_t>(l.slot)];
  const int32_t* ids = s.ids.host.data<int32_t>();
  const float* lps = s.logprobs.host.data<float>();
  int64_t row = 0;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    if (row >= l.n)
      return core::internal_error("device sampling: step {} has more samples than {} rows",
                                  plan.step_id, l.n);
    const int32_t token = ids[row];
    if (token < 0 || token >= l.vocab)
      return core::internal_error("device sampling returned id {} outside [0, {})", token, l.vocab);
    e.sampling->record(token);
    result.sampled.push_back(
        {.seq_id = e.seq_id,
         .token = token,
         .logprob = l.logprobs && e.sampling->params.return_logprobs ? lps[row] : 0.0f,
         .top_logprobs = {}});
    ++row;
  }
  return {};
}

}  // namespace lightllm::engine
