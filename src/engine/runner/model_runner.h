// src/engine/runner/model_runner.h — runs a StepPlan on a model: one flat forward pass, then
// one sample per sequence that asked for it (StepExecutor, see engine/step.h).
// Owns the model, the KV pool memory and the sampler; the router owns the bookkeeping
// (which slot belongs to whom) and the req_to_token table the runner reads.
// execute() = start() + finish(): start() resolves pending tokens (the samples of the last
// finished step), builds the flat batch and queues the forward (Model::start_forward);
// finish() waits for the logits and samples. Between the two the caller may plan the next
// step (the router's max_inflight_steps = 2); one step is started at a time.
#pragma once

#include <memory>
#include <vector>

#include "engine/sampling/sampler.h"
#include "engine/step.h"
#include "models/model.h"
#include "models/step_batch_builder.h"

namespace lightllm::engine {

class ModelRunner final : public StepExecutor {
 public:
  // `req_to_token` is the router's table; it must outlive the runner.
  ModelRunner(std::unique_ptr<models::Model> model, models::KvStorage kv,
              const kv::ReqToTokenTable& req_to_token);

  core::Result<StepResult> execute(const StepPlan& plan) override;
  core::Status start(const StepPlan& plan);
  core::Result<StepResult> finish(const StepPlan& plan);

  const models::Model& model() const { return *model_; }
  const models::KvStorage& kv() const { return kv_; }

 private:
  std::unique_ptr<models::Model> model_;
  models::KvStorage kv_;
  models::StepBatchBuilder builder_;
  sampling::Sampler sampler_;
  std::vector<int32_t> input_ids_;  // [n_tokens] plan ids with pending ones resolved
  std::vector<models::StepSegment> segments_;
  core::Tensor logits_;       // [n_sampled, vocab] f32 (page-locked on CUDA), grown on demand
  core::Tensor step_logits_;  // the rows of logits_ the started step writes
  bool started_ = false;
};

}  // namespace lightllm::engine
