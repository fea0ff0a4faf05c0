// src/engine/runner/device_sampler.h — the runner's GPU sampling path for CUDA models: the
// model writes the step's logits into a device buffer owned here, ops::sample picks the tokens
// on the GPU and only ids (+ logprobs when asked) come back to the host, instead of the whole
// [n_sampled, vocab] f32 logits. Used when every sampled sequence of the step is covered
// (sampling::device_samplable: no top_logprobs); otherwise the runner keeps the host path.
// The sampled ids also stay on the device (device_ids()) for a caller that feeds them to the
// next step without a host round trip (CUDA graphs / overlap).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/step.h"
#include "kernels/sampling_batch.h"

namespace lightllm::engine {

class DeviceSampler {
 public:
  // True when every entry with sample == true can be sampled on the device.
  static bool covers(const StepPlan& plan);

  // The device logits buffer for `n_rows` rows of `vocab` (grown on demand, reused).
  core::Result<core::Tensor> logits(int64_t n_rows, int64_t vocab);

  // Samples every entry of `plan` with sample == true from `logits` ([n_sampled, vocab] f32 on
  // the device, overwritten), records each token into its SamplingState and appends it to
  // result.sampled in entry order.
  core::Status sample(const StepPlan& plan, core::Tensor& logits, StepResult& result);

  // [n_sampled] i32 on the device: the ids of the last sample(), until the next call.
  const core::Tensor& device_ids() const { return ids_view_; }

 private:
  kernels::SampleBatch batch_;
  core::Tensor logits_;    // [capacity, vocab] f32, device
  core::Tensor ids_;       // [capacity] i32, device
  core::Tensor logprobs_;  // [capacity] f32, device
  core::Tensor ids_view_;  // ids_.rows(0, n_sampled)
  std::vector<int32_t> host_ids_;
  std::vector<float> host_logprobs_;
};

}  // namespace lightllm::engine
