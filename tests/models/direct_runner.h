// tests/models/direct_runner.h — drives a Model without the engine, for golden tests.
// Owns a KV pool, a req_to_token table and a slot order (sequential or shuffled, to prove
// attention really reads through req_to_token), and runs flat prefill and decode steps for
// several sequences at once. The KV pool lives on the model's device (on CUDA in the model's
// activation dtype unless kv_dtype is i8).
#pragma once

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "models/model.h"
#include "models/step_batch_builder.h"

namespace lightllm::test_util {

class DirectRunner {
 public:
  DirectRunner(models::Model& model, int64_t capacity, int max_reqs, bool shuffle_slots,
               core::DType kv_dtype = core::DType::f32)
      : model_(model),
        stride_(capacity),
        table_(static_cast<size_t>(max_reqs) * static_cast<size_t>(capacity), -1),
        builder_(table_.data(), capacity) {
    const auto& s = model.shape();
    const bool on_cuda = model.device() == core::Device::cuda;
    auto kv = models::KvStorage::allocate_on(
        model.device(), s.n_layers, capacity, s.n_kv_heads, s.head_dim,
        on_cuda && kv_dtype != core::DType::i8 ? model.activation_dtype() : kv_dtype);
    if (!kv.ok()) throw std::runtime_error(kv.status().to_string());
    kv_ = std::move(kv).value();
    free_slots_.resize(static_cast<size_t>(capacity));
    std::iota(free_slots_.begin(), free_slots_.end(), 0);
    if (shuffle_slots) std::shuffle(free_slots_.begin(), free_slots_.end(), std::mt19937(7));
    std::reverse(free_slots_.begin(), free_slots_.end());  // pop_back yields the order above
    seqs_.resize(static_cast<size_t>(max_reqs));
  }

  // One step feeding `tokens[r]` to sequence r (empty = r skips this step). Returns logits
  // [sum over r of (all_logits ? tokens : 1), vocab], rows in request order.
  core::Result<core::Tensor> step(const std::vector<std::vector<int32_t>>& tokens, bool all_logits,
                                  const models::LayerObserver& observer = {}) {
    std::vector<models::StepSegment> segs;
    std::vector<std::vector<int32_t>> per_token;  // single-token segments when all_logits
    per_token.reserve(64);
    for (size_t r = 0; r < tokens.size(); ++r) {
      if (tokens[r].empty()) continue;
      int32_t& len = seqs_[r];
      for (size_t i = 0; i < tokens[r].size(); ++i) {
        table_[r * static_cast<size_t>(stride_) + static_cast<size_t>(len) + i] =
            free_slots_.back();
        free_slots_.pop_back();
      }
      segs.push_back({.req_row = static_cast<int32_t>(r), .tokens = tokens[r], .cached_len = len});
      len += static_cast<int32_t>(tokens[r].size());
    }
    const models::StepBatch& built = builder_.build(segs);
    models::StepBatch batch = built;
    if (all_logits) {
      batch.logit_rows.resize(static_cast<size_t>(batch.n_tokens()));
      std::iota(batch.logit_rows.begin(), batch.logit_rows.end(), 0);
    }
    core::Tensor logits = core::Tensor::empty(
        {static_cast<int64_t>(batch.logit_rows.size()), model_.shape().vocab}, core::DType::f32);
    LLM_RETURN_IF_ERROR(model_.forward(batch, kv_, logits, observer));
    return logits;
  }

  static int32_t argmax(const float* row, int64_t n) {
    return static_cast<int32_t>(std::max_element(row, row + n) - row);
  }

  // Greedy continuation of several prompts batched together: n_new tokens each.
  core::Result<std::vector<std::vector<int32_t>>> greedy(
      const std::vector<std::vector<int32_t>>& prompts, int n_new) {
    std::vector<std::vector<int32_t>> out(prompts.size());
    std::vector<std::vector<int32_t>> feed = prompts;
    const int64_t vocab = model_.shape().vocab;
    for (int t = 0; t < n_new; ++t) {
      LLM_ASSIGN_OR_RETURN(core::Tensor logits, step(feed, false));
      for (size_t r = 0; r < prompts.size(); ++r) {
        const int32_t next = argmax(logits.data<float>() + static_cast<int64_t>(r) * vocab, vocab);
        out[r].push_back(next);
        feed[r] = {next};
      }
    }
    return out;
  }

 private:
  models::Model& model_;
  int64_t stride_;
  std::vector<int32_t> table_;
  models::StepBatchBuilder builder_;
  models::KvStorage kv_;
  std::vector<int32_t> free_slots_;
  std::vector<int32_t> seqs_;
};

}  // namespace lightllm::test_util
