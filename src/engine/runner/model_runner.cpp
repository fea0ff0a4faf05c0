// src/engine/runner/model_runner.cpp — see model_runner.h.
#include "engine/runner/model_runner.h"

#include <span>

#include "engine/sampling/sampling_state.h"

namespace lightllm::engine {

ModelRunner::ModelRunner(std::unique_ptr<models::Model> model, models::KvStorage kv,
                         const kv::ReqToTokenTable& req_to_token)
    : model_(std::move(model)),
      kv_(std::move(kv)),
      builder_(req_to_token.data(), req_to_token.max_len()) {}

core::Result<StepResult> ModelRunner::execute(const StepPlan& plan) {
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.empty()) return result;

  // A decode token still "pending" is the sequence's latest sample (see step.h).
  input_ids_ = plan.input_ids;
  segments_.clear();
  int64_t n_sampled = 0;
  for (const StepEntry& e : plan.entries) {
    for (int32_t i = 0; i < e.n_tokens; ++i) {
      int32_t& id = input_ids_[static_cast<size_t>(e.token_offset + i)];
      if (id == kPendingToken) id = e.sampling->last_token;
    }
    segments_.push_back({.req_row = e.req_row,
                         .tokens = std::span<const int32_t>(input_ids_.data() + e.token_offset,
                                                            static_cast<size_t>(e.n_tokens)),
                         .cached_len = static_cast<int32_t>(e.cached_len),
                         .wants_logits = e.sample});
    n_sampled += e.sample ? 1 : 0;
  }
  const models::StepBatch& batch = builder_.build(segments_);

  const int64_t vocab = model_->shape().vocab;
  const bool on_cuda = model_->device() == core::Device::cuda;
  if (on_cuda) {
    // Counter-based draws on both paths, so a step's fallback to the host keeps a seeded
    // sequence's tokens (sampling_state.h).
    for (const StepEntry& e : plan.entries)
      if (e.sample) e.sampling->counter_rng = true;
  }
  if (on_cuda && device_sampling_ && n_sampled > 0 && DeviceSampler::covers(plan)) {
    LLM_ASSIGN_OR_RETURN(core::Tensor dev_logits, device_sampler_.logits(n_sampled, vocab));
    LLM_RETURN_IF_ERROR(model_->forward(batch, kv_, dev_logits));
    LLM_RETURN_IF_ERROR(device_sampler_.sample(plan, dev_logits, result));
    return result;
  }

  if (!logits_.defined() || logits_.dim(0) < n_sampled)
    logits_ = core::Tensor::empty({std::max<int64_t>(n_sampled, 8), vocab}, core::DType::f32);
  core::Tensor logits = logits_.rows(0, n_sampled);
  LLM_RETURN_IF_ERROR(model_->forward(batch, kv_, logits));

  int64_t row = 0;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    std::span<const float> r(logits.data<float>() + row * vocab, static_cast<size_t>(vocab));
    sampling::SampleOutput out = sampler_.sample(r, *e.sampling);
    result.sampled.push_back({.seq_id = e.seq_id,
                              .token = out.token,
                              .logprob = out.logprob,
                              .top_logprobs = std::move(out.top_logprobs)});
    ++row;
  }
  return result;
}

}  // namespace lightllm::engine
