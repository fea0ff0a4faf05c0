// src/engine/runner/model_runner.h — runs a StepPlan on a model: one flat forward pass, then
// one sample per sequence that asked for it (StepExecutor, see engine/step.h).
// CUDA models sample on the GPU (DeviceSampler) when the step allows it, else on the host.
// Owns the model, the KV pool memory and the samplers; the router owns the bookkeeping
// (which slot belongs to whom) and the req_to_token table the runner reads.
// execute() = start() + finish(): start() resolves pending tokens (the samples of the last
// finished step), builds the flat batch and queues the forward (Model::start_forward);
// finish() waits for the logits and samples. Between the two the caller may plan the next
// step (the router's max_inflight_steps = 2); one step is started at a time.
#pragma once

#include <memory>
#include <vector>

#include "engine/runner/device_sampler.h"
#include "engine/sampling/sampler.h"
#include "engine/step.h"
#include "models/model.h"
#include "models/step_batch_builder.h"

namespace lightllm::engine {

// The plan's token ids into `ids`, with each pending decode token replaced by its sequence's
// latest sample (step.h), and one StepSegment per entry viewing `ids`; returns how many entries
// sample. Shared by every executor (ModelRunner, TpRunner).
int64_t resolve_step_inputs(const StepPlan& plan, std::vector<int32_t>& ids,
                            std::vector<models::StepSegment>& segments);
// One host sample per entry of `plan` that samples, from row i of `logits` [n_sampled, vocab]
// f32 (host memory) for the i-th such entry, appended to result.sampled. Shared by every
// executor (ModelRunner, TpRunner).
void sample_on_host(const StepPlan& plan, const core::Tensor& logits, sampling::Sampler& sampler,
                    StepResult& result);

class ModelRunner final : public StepExecutor {
 public:
  // `req_to_token` is the router's table; it must outlive the runner.
  ModelRunner(std::unique_ptr<models::Model> model, models::KvStorage kv,
              const kv::ReqToTokenTable& req_to_token);

  core::Result<StepResult> execute(const StepPlan& plan) override;
  core::Status start(const StepPlan& plan) override;
  core::Result<StepResult> finish(const StepPlan& plan) override;

  const models::Model& model() const { return *model_; }
  const models::KvStorage& kv() const { return kv_; }

  // CUDA models: sample on the GPU when every sequence of the step allows it (default on);
  // off: always the host sampler (tests, benchmarks). No effect on CPU models.
  void set_device_sampling(bool on) { device_sampling_ = on; }
  // The last device-sampled step's ids, [n_sampled] i32 on the device (undefined before).
  const core::Tensor& device_sampled_ids() const { return device_sampler_.device_ids(); }

 private:
  std::unique_ptr<models::Model> model_;
  models::KvStorage kv_;
  models::StepBatchBuilder builder_;
  sampling::Sampler sampler_;
  DeviceSampler device_sampler_;
  bool device_sampling_ = true;
  std::vector<int32_t> input_ids_;  // [n_tokens] plan ids with pending ones resolved
  std::vector<models::StepSegment> segments_;
  core::Tensor logits_;       // [n_sampled, vocab] f32 (page-locked on CUDA), grown on demand
  core::Tensor step_logits_;  // the started step's logits: rows of logits_, or on the device
  bool started_ = false;
  bool device_step_ = false;  // the started step samples on the device
};

}  // namespace lightllm::engine
