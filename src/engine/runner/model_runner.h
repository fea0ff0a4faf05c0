// src/engine/runner/model_runner.h — runs a StepPlan on a model: one flat forward pass, then
// one sample per sequence that asked for it (StepExecutor, see engine/step.h).
// CUDA models sample on the GPU (DeviceSampler) when the step allows it, else on the host.
// Owns the model, the KV pool memory and the samplers; the router owns the bookkeeping
// (which slot belongs to whom) and the req_to_token table the runner reads.
//
// execute() = start() + finish(): start() resolves pending tokens, builds the flat batch and
// queues the forward (Model::start_forward) and, on the device, the sampling; finish() waits
// for the tokens and records them. Steps overlap on CUDA: while step N runs, step N+1 may be
// started (can_start_before_finish) — its pending decode tokens are then step N's samples,
// which it takes on the device (StepBatch::device_feed), so the device never waits for the
// host between the two. At most two steps are started and not finished; they finish in order.
// The time the device waits for the host between consecutive steps is measured
// (StepResult::device_idle_us).
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "engine/runner/device_sampler.h"
#include "engine/sampling/sampler.h"
#include "engine/step.h"
#include "models/model.h"
#include "models/step_batch_builder.h"
#include "ops/ops.h"

namespace lightllm::engine {

// The plan's token ids into `ids`, with each pending decode token replaced by its sequence's
// latest sample (step.h), and one StepSegment per entry viewing `ids`; returns how many entries
// sample. A pending token of a sequence in `in_flight` (its latest sample is still on the
// device) stays -1 in `ids` and is listed in `feed` (rows and source rows; `feed.sampled` is
// the caller's to set). Shared by every executor (ModelRunner, TpRunner).
int64_t resolve_step_inputs(const StepPlan& plan, std::vector<int32_t>& ids,
                            std::vector<models::StepSegment>& segments,
                            const InFlightRows& in_flight = {},
                            models::DeviceTokenFeed* feed = nullptr);
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
  // True on CUDA with device sampling when the one started step samples on the device, and
  // no sequence of `next` that has a sample in it needs penalties (their lists need the
  // recorded token) — and overlap is on.
  bool can_start_before_finish(const StepPlan& next) const override;

  const models::Model& model() const { return *model_; }
  const models::KvStorage& kv() const { return kv_; }

  // CUDA models: sample on the GPU when every sequence of the step allows it (default on);
  // off: always the host sampler (tests, benchmarks). No effect on CPU models.
  void set_device_sampling(bool on) { device_sampling_ = on; }
  // Allocates the device sampling buffers for steps of up to `max_rows` sampled rows (the
  // router's running_max_req_size) up front; a no-op without device sampling.
  core::Status reserve_sampling(int64_t max_rows);
  // Off: a step starts only after the previous one finished (A/B of the overlap; default on).
  void set_overlap(bool on) { overlap_ = on; }

 private:
  // A step started and not finished.
  struct Started {
    uint64_t step_id = 0;
    bool device_step = false;   // samples on the device
    bool back_to_back = false;  // planned while the previous step ran (plan.back_to_back)
    InFlightRows sampled_rows;  // device steps: sequence -> row of device_ids
    core::Tensor device_ids;    // device steps: [n_sampled] i32, the step's samples
    // `end`: after the step's last queued work; a device step's samples are on the host once it
    // has passed. `end_time`: the time `end` passed, marked on a side stream; `begin`: before
    // the step's first work, recorded only if the last step had ended by then. Timed marks stay
    // out of the stream between two steps' kernels (docs/PERFORMANCE.md run 23).
    ops::StreamMark begin, end, end_time;  // begin and end_time timed (take_mark)
  };

  // A mark for a new step: a finished step's, reset (its CUDA event is reused: no event is
  // created or destroyed per step once the pools hold a step's worth), or a new one.
  ops::StreamMark take_mark(ops::StreamMark::Timing timing);

  std::unique_ptr<models::Model> model_;
  models::KvStorage kv_;
  models::StepBatchBuilder builder_;
  sampling::Sampler sampler_;
  DeviceSampler device_sampler_;
  bool device_sampling_ = true;
  bool overlap_ = true;
  std::vector<int32_t> input_ids_;  // [n_tokens] plan ids with pending ones resolved
  std::vector<models::StepSegment> segments_;
  core::Tensor logits_;            // [n_sampled, vocab] f32 (page-locked on CUDA), grown on demand
  core::Tensor host_step_logits_;  // the started host-sampled step's rows of logits_
  std::deque<Started> started_;    // oldest first, at most 2
  ops::StreamMark last_end_;       // the last finished step's end and end_time
  ops::StreamMark last_end_time_{ops::StreamMark::Timing::on};
  std::vector<ops::StreamMark> spare_timed_, spare_untimed_;  // marks of finished steps
};

}  // namespace lightllm::engine
