// src/engine/runner/device_sampler.h — the runner's GPU sampling path for CUDA models: the
// model writes the step's logits into a device buffer owned here, ops::sample picks the tokens
// on the GPU and only ids (+ logprobs when asked) come back to the host, instead of the whole
// [n_sampled, vocab] f32 logits. Used when every sampled sequence of the step is covered
// (sampling::device_samplable: no top_logprobs, no logit_bias); otherwise the runner keeps the
// host path.
//
// Sampling is split in two so that the next step can be queued before this one's tokens reach
// the host: launch() queues the sampling on the current stream and returns at once; collect()
// records the tokens into the SamplingStates once the caller has waited for a StreamMark it
// recorded after launch() (the runner's step end: one event between two steps instead of two,
// each of which costs the device time at batch 1, docs/PERFORMANCE.md run 23). The sampling kernel
// writes the ids (and logprobs) straight into page-locked host memory mapped into the device
// (ops::empty_mapped): no copy op, which would add ~10 us of device idle time at batch 1
// (kernel-to-copy and stream hand-offs, docs/PERFORMANCE.md run 22); and a second time into
// device memory, where the next step's feed reads them (launch()'s result). At most two steps are
// launched and not collected; each has its own ids buffers (alternating), so the ids of step N
// stay valid for the device (launch()'s result: the next step feeds them to its embedding)
// while step N+1 samples.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/step.h"
#include "kernels/sampling_batch.h"
#include "ops/ops.h"

namespace lightllm::engine {

// The sequences that sampled in a step still on the device, each with its row in that step's
// device ids.
using InFlightRows = std::unordered_map<uint64_t, int32_t>;

class DeviceSampler {
 public:
  // True when every entry with sample == true can be sampled on the device.
  static bool covers(const StepPlan& plan);

  // Allocates the logits and ids buffers for steps of up to `max_rows` sampled rows now, so
  // that serving never grows them (a growth frees the old buffer, which waits for the device).
  core::Status reserve(int64_t max_rows, int64_t vocab);
  // The device logits buffer for `n_rows` rows of `vocab` (grown on demand beyond reserve(),
  // reused; growing while a launched step still reads it waits for the device).
  core::Result<core::Tensor> logits(int64_t n_rows, int64_t vocab);

  // Queues the sampling of every entry of `plan` with sample == true from `logits`
  // ([n_sampled, vocab] f32 on the device, overwritten) and the copy of the ids (and logprobs)
  // to the host. `uncollected`: the sequences of the launched, not yet collected step (each
  // with one sample counted as generated: append_sample_row). Returns the step's ids
  // [n_sampled] i32 on the device, valid until the second launch() after this one.
  core::Result<core::Tensor> launch(const StepPlan& plan, core::Tensor& logits,
                                    const InFlightRows& uncollected);
  // For the oldest launched step (which must be `plan`, and past a mark recorded after its
  // launch()): records each token into its SamplingState and appends it to result.sampled in
  // entry order.
  core::Status collect(const StepPlan& plan, StepResult& result);

  int launched() const { return static_cast<int>(launched_.size()); }

 private:
  // The ids and logprobs of one launched step: mapped page-locked memory, seen by both sides.
  struct Slot {
    ops::MappedTensor ids, logprobs;  // [capacity] i32 / f32
    core::Tensor device_ids;          // [capacity] i32 on the device: the ids again, fed from there
  };
  struct Launched {
    uint64_t step_id = 0;
    int slot = 0;
    int64_t n = 0;
    int64_t vocab = 0;
    bool logprobs = false;
  };
  static core::Status reserve(Slot& s, int64_t n);

  kernels::SampleBatch batch_;
  core::Tensor logits_;  // [capacity, vocab] f32, device
  std::array<Slot, 2> slots_;
  int next_slot_ = 0;
  std::deque<Launched> launched_;  // oldest first, at most 2
};

}  // namespace lightllm::engine
