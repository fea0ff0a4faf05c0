// src/engine/sampling/sampler.h — the CPU sampler: one logits row in, one token out.
//
// Processing order (HF generate / vLLM semantics):
//   1. logprobs: log_softmax of the RAW logits (vLLM V1's default "raw_logprobs": before
//      penalties, masking and temperature), so the reported logprob is the model's own
//      probability of the token, independent of the sampling settings.
//   2. logit_bias (OpenAI): logit += bias of each listed token (vLLM: before the penalties).
//   3. min_new_tokens: while fewer tokens were generated, stop ids (EOS + stop_token_ids) get -inf.
//   4. repetition_penalty (HF): for every token in prompt ∪ output, logit > 0 → logit / p,
//      else logit * p.
//   5. presence / frequency penalties (OpenAI): logit -= count·frequency + (count > 0)·presence,
//      over generated tokens only.
//   6. do_sample == false → argmax (lowest id wins ties); done.
//   7. temperature: logit / T.   8. top_k (HF: drop logits < the k-th largest).
//   9. top_p (HF: sort ascending, drop tokens whose cumulative probability <= 1 - top_p,
//      always keep the most likely).   10. draw from softmax with u = philox_uniform01(seed,
//      n_generated), the counter-based draw the device sampler also uses.
// The chosen token is recorded into the SamplingState (counts, n_generated).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling/sampling_state.h"

namespace lightllm::sampling {

struct SampleOutput {
  int32_t token = -1;
  float logprob = 0.0f;                                 // raw log_softmax of the chosen token
  std::vector<std::pair<int32_t, float>> top_logprobs;  // params.top_logprobs best, raw
};

class Sampler {
 public:
  // logits: [vocab] f32, the model's output for this sequence's last position.
  SampleOutput sample(std::span<const float> logits, SamplingState& state);

  // Steps 2-9 applied in place (exposed for tests): the processed logits; -inf = removed.
  void process(std::span<float> logits, const SamplingState& state);

 private:
  std::vector<float> work_;                        // [vocab]
  std::vector<std::pair<float, int32_t>> sorted_;  // scratch for top-k / top-p
};

}  // namespace lightllm::sampling
