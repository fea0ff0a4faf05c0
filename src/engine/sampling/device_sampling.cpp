// src/engine/sampling/device_sampling.cpp — see device_sampling.h.
#include "engine/sampling/device_sampling.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace lightllm::sampling {

bool device_samplable(const SamplingState& st) {
  return st.params.top_logprobs == 0 && st.params.logit_bias.empty();
}

bool has_penalties(const SamplingState& st) {
  const SamplingParams& p = st.params;
  return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
}

core::Status append_sample_row(const SamplingState& st, int64_t vocab, kernels::SampleBatch& batch,
                               int64_t uncollected) {
  const SamplingParams& p = st.params;
  if (uncollected > 0 && has_penalties(st))
    return core::internal_error("device sampling: penalties over {} uncollected samples",
                                uncollected);
  const int64_t n_generated = st.n_generated + uncollected;
  auto in_vocab = [vocab](int32_t t) { return t >= 0 && t < vocab; };
  kernels::SampleRow row;
  row.temperature = p.temperature;
  row.top_p = p.top_p;
  row.top_k = p.top_k;
  row.repetition_penalty = p.repetition_penalty;
  row.presence_penalty = p.presence_penalty;
  row.frequency_penalty = p.frequency_penalty;
  row.do_sample = p.do_sample ? 1 : 0;
  if (p.do_sample) {  // greedy rows draw nothing: left 0, so their row stays the same each step
    row.seed = st.seed;
    row.counter = static_cast<uint64_t>(n_generated);
  }

  row.pen_begin = static_cast<int32_t>(batch.pen_tokens.size());
  const bool rep = p.repetition_penalty != 1.0f;
  if (has_penalties(st)) {
    // (token, output count), distinct tokens: output ids, plus prompt-only ids (count 0) when
    // the repetition penalty is on. Sorted for a deterministic layout.
    std::vector<std::pair<int32_t, int32_t>> entries;
    for (const auto& [t, c] : st.output_counts)
      if (in_vocab(t)) entries.emplace_back(t, c);
    if (rep) {
      for (const int32_t t : st.prompt_tokens)
        if (in_vocab(t) && !st.output_counts.contains(t)) entries.emplace_back(t, 0);
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& [t, c] : entries) {
      batch.pen_tokens.push_back(t);
      batch.pen_counts.push_back(c);
    }
  }
  row.pen_end = static_cast<int32_t>(batch.pen_tokens.size());

  row.mask_begin = static_cast<int32_t>(batch.mask_tokens.size());
  if (n_generated < p.min_new_tokens) {
    for (const int32_t t : st.stop_ids)
      if (in_vocab(t)) batch.mask_tokens.push_back(t);
  }
  row.mask_end = static_cast<int32_t>(batch.mask_tokens.size());
  batch.rows.push_back(row);
  return {};
}

}  // namespace lightllm::sampling
