// src/engine/runner/model_runner.cpp — see model_runner.h.
#include "engine/runner/model_runner.h"

#include <algorithm>
#include <span>
#include <utility>

#include "engine/sampling/device_sampling.h"
#include "engine/sampling/sampling_state.h"
#include "ops/ops.h"

namespace lightllm::engine {

int64_t resolve_step_inputs(const StepPlan& plan, std::vector<int32_t>& ids,
                            std::vector<models::StepSegment>& segments,
                            const InFlightRows& in_flight, models::DeviceTokenFeed* feed) {
  // A decode token still "pending" is the sequence's latest sample (see step.h): recorded on
  // the host, or still on the device in the step `in_flight` describes.
  ids = plan.input_ids;
  segments.clear();
  int64_t n_sampled = 0;
  for (const StepEntry& e : plan.entries) {
    for (int32_t i = 0; i < e.n_tokens; ++i) {
      const int64_t row = e.token_offset + i;
      int32_t& id = ids[static_cast<size_t>(row)];
      if (id != kPendingToken) continue;
      const auto on_device = in_flight.find(e.seq_id);
      if (feed != nullptr && on_device != in_flight.end()) {
        feed->rows.push_back(static_cast<int32_t>(row));
        feed->sources.push_back(on_device->second);
      } else {
        id = e.sampling->last_token;
      }
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

core::Status ModelRunner::reserve_sampling(int64_t max_rows) {
  if (model_->device() != core::Device::cuda || !device_sampling_) return {};
  return device_sampler_.reserve(max_rows, model_->shape().vocab);
}

bool ModelRunner::can_start_before_finish(const StepPlan& next) const {
  if (!overlap_ || started_.size() != 1 || !started_.back().device_step) return false;
  const InFlightRows& in_flight = started_.back().sampled_rows;
  return std::none_of(next.entries.begin(), next.entries.end(), [&](const StepEntry& e) {
    return e.sample && in_flight.contains(e.seq_id) && sampling::has_penalties(*e.sampling);
  });
}

core::Status ModelRunner::start(const StepPlan& plan) {
  if (plan.empty()) return {};
  if (!started_.empty() && !can_start_before_finish(plan))
    return core::internal_error("runner: step {} started before step {} finished", plan.step_id,
                                started_.front().step_id);

  // Pending tokens of sequences that sampled in the started step come from its device ids.
  static const InFlightRows kNone;
  const Started* prev = started_.empty() ? nullptr : &started_.back();
  const InFlightRows& in_flight = prev != nullptr ? prev->sampled_rows : kNone;
  models::DeviceTokenFeed feed;
  const int64_t n_sampled = resolve_step_inputs(plan, input_ids_, segments_, in_flight, &feed);
  models::StepBatch batch = builder_.build(segments_);
  if (!feed.empty()) feed.sampled = prev->device_ids;
  batch.device_feed = std::move(feed);

  const int64_t vocab = model_->shape().vocab;
  const bool on_cuda = model_->device() == core::Device::cuda;
  Started step{.step_id = plan.step_id, .back_to_back = plan.back_to_back};
  if (on_cuda) {
    step.begin = take_mark(ops::StreamMark::Timing::on);
    step.end = take_mark(ops::StreamMark::Timing::off);
    step.end_time = take_mark(ops::StreamMark::Timing::on);
  }
  step.device_step = on_cuda && device_sampling_ && n_sampled > 0 && DeviceSampler::covers(plan);
  // The device can only have waited for this step if the last started one had ended by now;
  // otherwise this step's work is queued behind it and no timed mark goes between them: one
  // between the sampling kernel and the next upload kernel holds the upload back until the
  // sampling completes (~5 us a step at batch 1; docs/PERFORMANCE.md run 23).
  const ops::StreamMark& last_end = started_.empty() ? last_end_ : started_.back().end;
  if (on_cuda && last_end.passed()) LLM_RETURN_IF_ERROR(step.begin.record());
  if (step.device_step) {
    LLM_ASSIGN_OR_RETURN(core::Tensor logits, device_sampler_.logits(n_sampled, vocab));
    LLM_RETURN_IF_ERROR(model_->start_forward(batch, kv_, logits));
    LLM_ASSIGN_OR_RETURN(step.device_ids, device_sampler_.launch(plan, logits, in_flight));
    int32_t row = 0;
    for (const StepEntry& e : plan.entries)
      if (e.sample) step.sampled_rows[e.seq_id] = row++;
  } else {
    if (!logits_.defined() || logits_.dim(0) < n_sampled) {
      const core::Shape shape{std::max<int64_t>(n_sampled, 8), vocab};
      if (on_cuda) {
        LLM_ASSIGN_OR_RETURN(logits_, ops::empty_pinned(shape, core::DType::f32));
      } else {
        logits_ = core::Tensor::empty(shape, core::DType::f32);
      }
    }
    host_step_logits_ = logits_.rows(0, n_sampled);
    LLM_RETURN_IF_ERROR(model_->start_forward(batch, kv_, host_step_logits_));
  }
  if (on_cuda) {
    LLM_RETURN_IF_ERROR(step.end.record());
    LLM_RETURN_IF_ERROR(step.end_time.record_after(step.end));
  }
  started_.push_back(std::move(step));
  return {};
}

core::Result<StepResult> ModelRunner::finish(const StepPlan& plan) {
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.empty()) return result;
  if (started_.empty() || started_.front().step_id != plan.step_id)
    return core::internal_error("runner: finish() of step {}, which is not the oldest started",
                                plan.step_id);
  Started step = std::move(started_.front());
  started_.pop_front();
  const bool on_cuda = model_->device() == core::Device::cuda;
  if (on_cuda) LLM_RETURN_IF_ERROR(step.end.wait());
  if (step.device_step) {
    LLM_RETURN_IF_ERROR(device_sampler_.collect(plan, result));  // `end` passed: ids are here
  } else {
    LLM_RETURN_IF_ERROR(model_->finish_forward());
    sample_on_host(plan, host_step_logits_, sampler_, result);
  }
  if (on_cuda) {
    if (step.back_to_back && last_end_time_.recorded()) {
      float ms = 0.0f;  // queued before the last step ended: the device did not wait
      if (step.begin.recorded()) {
        LLM_ASSIGN_OR_RETURN(ms, step.begin.elapsed_ms_since(last_end_time_));
      }
      result.device_idle_us = std::max(0.0, 1000.0 * ms);
    }
    spare_untimed_.push_back(std::exchange(last_end_, std::move(step.end)));
    spare_timed_.push_back(std::exchange(last_end_time_, std::move(step.end_time)));
    spare_timed_.push_back(std::move(step.begin));
  }
  return result;
}

ops::StreamMark ModelRunner::take_mark(ops::StreamMark::Timing timing) {
  std::vector<ops::StreamMark>& pool =
      timing == ops::StreamMark::Timing::on ? spare_timed_ : spare_untimed_;
  if (pool.empty()) return ops::StreamMark(timing);
  ops::StreamMark m = std::move(pool.back());
  pool.pop_back();
  m.reset();
  return m;
}

}  // namespace lightllm::engine
