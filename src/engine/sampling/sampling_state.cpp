// src/engine/sampling/sampling_state.cpp — building a sequence's sampling state.
#include "engine/sampling/sampling_state.h"

#include <algorithm>
#include <atomic>

namespace lightllm::sampling {

uint64_t next_global_seed() {
  static std::atomic<uint64_t> counter{0x5eed5eedULL};
  uint64_t z = counter.fetch_add(0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

SamplingState make_sampling_state(const SamplingParams& params, std::span<const int32_t> prompt,
                                  std::span<const int32_t> eos_ids, uint64_t seed_offset) {
  SamplingState st;
  st.params = params;
  st.seed = params.seed ? *params.seed + seed_offset : next_global_seed();
  st.stop_ids.assign(eos_ids.begin(), eos_ids.end());
  st.stop_ids.insert(st.stop_ids.end(), params.stop_token_ids.begin(), params.stop_token_ids.end());
  std::sort(st.stop_ids.begin(), st.stop_ids.end());
  st.stop_ids.erase(std::unique(st.stop_ids.begin(), st.stop_ids.end()), st.stop_ids.end());
  if (params.repetition_penalty != 1.0f) {
    st.prompt_tokens.assign(prompt.begin(), prompt.end());
    std::sort(st.prompt_tokens.begin(), st.prompt_tokens.end());
    st.prompt_tokens.erase(std::unique(st.prompt_tokens.begin(), st.prompt_tokens.end()),
                           st.prompt_tokens.end());
  }
  return st;
}

}  // namespace lightllm::sampling
