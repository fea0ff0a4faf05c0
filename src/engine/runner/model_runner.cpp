// src/engine/runner/model_runner.cpp — see model_runner.h.
#include "engine/runner/model_runner.h"

#include <span>

#include "engine/sampling/sampling_state.h"
#include "ops/ops.h"

namespace lightllm::engine {

int64_t resolve_step_inputs(const StepPlan& plan, std::vector<int32_t>& ids,
                            std::vector<models::StepSegment>& segments) {
  // A decode token still "pending" is the sequence's latest sample (see step.h).
  ids = plan.input_ids;
  segments.clear();
  int64_t n_sampled = 0;
  for (const StepEntry& e : plan.entries) {
    for (int32_t i = 0; i < e.n_tokens; ++i) {
      int32_t& id = ids[static_cast<size_t>(e.token_offset + i)];
      if (id == kPendingToken) id = e.sampling->last_token;
    }
    segments.push_back({.req_row = e.req_row,
                        .tokens = std::span<const int32_t>(ids.data() + e.token_offset,
                                                           static_cast<size_t>(e.n_tokens)),
                        .cached_len = static_cast<int32_t>(e.cached_len),
                        .wants_logits = e.sample});
    n_sampled += e.sample ? 1 : 0;
  }
  return n_sampled;
}

void sample_on_host(const StepPlan& plan, const core::Tensor& logits, sampling::Sampler& sampler,
                    StepResult& result) {
  const int64_t vocab = logits.dim(1);
  int64_t row = 0;
  for (const StepEntry& e : plan.entries) {
    if (!e.sample) continue;
    std::span<const float> r(logits.data<float>() + row * vocab, static_cast<size_t>(vocab));
    sampling::SampleOutput out = sampler.sample(r, *e.sampling);
    result.sampled.push_back({.seq_id = e.seq_id,
                              .token = out.token,
                              .logprob = out.logprob,
                              .top_logprobs = std::move(out.top_logprobs)});
    ++row;
  }
}

ModelRunner::ModelRunner(std::unique_ptr<models::Model> model, models::KvStorage kv,
                         const kv::ReqToTokenTable& req_to_token)
    : model_(std::move(model)),
      kv_(std::move(kv)),
      builder_(req_to_token.data(), req_to_token.max_len()) {}

core::Result<StepResult> ModelRunner::execute(const StepPlan& plan) {
  LLM_RETURN_IF_ERROR(start(plan));
  return finish(plan);
}

core::Status ModelRunner::start(const StepPlan& plan) {
  if (started_) return core::internal_error("runner: start() before finish() of the last step");
  if (plan.empty()) return {};

  const int64_t n_sampled = resolve_step_inputs(plan, input_ids_, segments_);
  const models::StepBatch& batch = builder_.build(segments_);

  const int64_t vocab = model_->shape().vocab;
  const bool on_cuda = model_->device() == core::Device::cuda;
  device_step_ = on_cuda && device_sampling_ && n_sampled > 0 && DeviceSampler::covers(plan);
  if (device_step_) {
    LLM_ASSIGN_OR_RETURN(step_logits_, device_sampler_.logits(n_sampled, vocab));
  } else {
    if (!logits_.defined() || logits_.dim(0) < n_sampled) {
      const core::Shape shape{std::max<int64_t>(n_sampled, 8), vocab};
      if (on_cuda) {
        LLM_ASSIGN_OR_RETURN(logits_, ops::empty_pinned(shape, core::DType::f32));
      } else {
        logits_ = core::Tensor::empty(shape, core::DType::f32);
      }
    }
    step_logits_ = logits_.rows(0, n_sampled);
  }
  LLM_RETURN_IF_ERROR(model_->start_forward(batch, kv_, step_logits_));
  started_ = true;
  return {};
}

core::Result<StepResult> ModelRunner::finish(const StepPlan& plan) {
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.empty()) return result;
  if (!started_) return core::internal_error("runner: finish() without start()");
  started_ = false;
  LLM_RETURN_IF_ERROR(model_->finish_forward());
  if (device_step_) {
    LLM_RETURN_IF_ERROR(device_sampler_.sample(plan, step_logits_, result));
    return result;
  }

  sample_on_host(plan, step_logits_, sampler_, result);
  return result;
}

}  // namespace lightllm::engine
