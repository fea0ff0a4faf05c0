// src/engine/sampling/sampler.cpp — CPU sampling; the order of operations is in sampler.h.
#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/philox.h"

namespace lightllm::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Index of the largest value, lowest index on ties.
int32_t argmax(std::span<const float> v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

// log(sum(exp(v))), stable.
double log_sum_exp(std::span<const float> v) {
  float mx = kNegInf;
  for (const float x : v) mx = std::max(mx, x);
  if (mx == kNegInf) return kNegInf;
  double s = 0.0;
  for (const float x : v) s += std::exp(static_cast<double>(x) - mx);
  return mx + std::log(s);
}

}  // namespace

void Sampler::process(std::span<float> logits, const SamplingState& st) {
  const SamplingParams& p = st.params;
  const auto vocab = static_cast<int64_t>(logits.size());
  auto in_vocab = [vocab](int32_t t) { return t >= 0 && t < vocab; };

  for (const auto& [t, bias] : p.logit_bias) {
    if (in_vocab(t)) logits[static_cast<size_t>(t)] += bias;
  }
  if (st.n_generated < p.min_new_tokens) {
    for (const int32_t t : st.stop_ids) {
      if (in_vocab(t)) logits[static_cast<size_t>(t)] = kNegInf;
    }
  }
  if (p.repetition_penalty != 1.0f) {
    auto penalize = [&](int32_t t) {
      if (!in_vocab(t)) return;
      float& x = logits[static_cast<size_t>(t)];
      x = x > 0 ? x / p.repetition_penalty : x * p.repetition_penalty;
    };
    // Each token once, prompt ∪ output (HF gathers scores of input_ids, duplicates collapse).
    for (const int32_t t : st.prompt_tokens) penalize(t);
    for (const auto& [t, c] : st.output_counts) {
      if (!std::binary_search(st.prompt_tokens.begin(), st.prompt_tokens.end(), t)) penalize(t);
    }
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    for (const auto& [t, c] : st.output_counts) {
      if (!in_vocab(t)) continue;
      logits[static_cast<size_t>(t)] -=
          static_cast<float>(c) * p.frequency_penalty + (c > 0 ? p.presence_penalty : 0.0f);
    }
  }
  if (!p.do_sample) return;

  const float inv_t = 1.0f / p.temperature;
  for (float& x : logits) x *= inv_t;

  if (p.top_k > 0 && p.top_k < vocab) {
    // HF TopKLogitsWarper: remove scores < the k-th largest score (ties at the threshold stay).
    work_.assign(logits.begin(), logits.end());
    std::nth_element(work_.begin(), work_.begin() + (p.top_k - 1), work_.end(),
                     std::greater<float>());
    const float kth = work_[static_cast<size_t>(p.top_k - 1)];
    for (float& x : logits) {
      if (x < kth) x = kNegInf;
    }
  }
  if (p.top_p < 1.0f) {
    // HF TopPLogitsWarper: ascending sort, softmax, cumulative sum; remove where cum <= 1-top_p,
    // keeping the last (most likely) token always.
    sorted_.clear();
    for (int64_t i = 0; i < vocab; ++i) {
      if (logits[static_cast<size_t>(i)] != kNegInf) {
        sorted_.emplace_back(logits[static_cast<size_t>(i)], static_cast<int32_t>(i));
      }
    }
    if (sorted_.empty()) return;
    std::sort(sorted_.begin(), sorted_.end());  // ascending by value, then id
    const float mx = sorted_.back().first;
    double total = 0.0;
    for (const auto& [x, i] : sorted_) total += std::exp(static_cast<double>(x) - mx);
    double cum = 0.0;
    for (size_t k = 0; k + 1 < sorted_.size(); ++k) {
      cum += std::exp(static_cast<double>(sorted_[k].first) - mx) / total;
      if (cum <= 1.0 - static_cast<double>(p.top_p)) {
        logits[static_cast<size_t>(sorted_[k].second)] = kNegInf;
      } else {
        break;  // cum only grows
      }
    }
  }
}

SampleOutput Sampler::sample(std::span<const float> logits, SamplingState& st) {
  SampleOutput out;
  const SamplingParams& p = st.params;
  const bool want_logprobs = p.return_logprobs || p.top_logprobs > 0;
  const double lse = want_logprobs ? log_sum_exp(logits) : 0.0;

  std::vector<float> proc(logits.begin(), logits.end());
  process(proc, st);

  if (!p.do_sample) {
    out.token = argmax(proc);
  } else {
    // Draw by inverse CDF over the kept tokens in id order.
    float mx = kNegInf;
    for (const float x : proc) mx = std::max(mx, x);
    double total = 0.0;
    for (float& x : proc) {
      const double e = x == kNegInf ? 0.0 : std::exp(static_cast<double>(x) - mx);
      total += e;
      x = static_cast<float>(e);
    }
    const double u =
        kernels::philox_uniform01(st.seed, static_cast<uint64_t>(st.n_generated)) * total;
    double cum = 0.0;
    out.token = -1;
    int32_t last_kept = 0;
    for (size_t i = 0; i < proc.size(); ++i) {
      if (proc[i] <= 0.0f) continue;
      last_kept = static_cast<int32_t>(i);
      cum += proc[i];
      if (u < cum) {
        out.token = static_cast<int32_t>(i);
        break;
      }
    }
    if (out.token < 0) out.token = last_kept;  // rounding at the very end of the CDF
  }

  if (want_logprobs) {
    out.logprob = static_cast<float>(logits[static_cast<size_t>(out.token)] - lse);
    if (p.top_logprobs > 0) {
      const size_t k = std::min(static_cast<size_t>(p.top_logprobs), logits.size());
      sorted_.clear();
      for (size_t i = 0; i < logits.size(); ++i) {
        sorted_.emplace_back(logits[i], static_cast<int32_t>(i));
      }
      // Highest first, lowest id first on ties.
      auto better = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      };
      std::partial_sort(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(k), sorted_.end(),
                        better);
      for (size_t i = 0; i < k; ++i) {
        out.top_logprobs.emplace_back(sorted_[i].second,
                                      static_cast<float>(sorted_[i].first - lse));
      }
    }
  }
  st.record(out.token);
  return out;
}

}  // namespace lightllm::sampling
