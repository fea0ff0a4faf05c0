// src/models/perplexity.h — teacher-forced evaluation of a model on a token sequence:
// the mean negative log-likelihood of each next token, computed through the same flat batch
// and KV path the engine uses (prefill in chunks, all positions' logits).
#pragma once

#include <cstdint>
#include <span>

#include "models/model.h"

namespace lightllm::models {

struct NllResult {
  double sum_nll = 0.0;     // Σ -log p(token[i+1] | token[..i])
  int64_t predictions = 0;  // tokens.size() - 1
  double mean() const { return predictions ? sum_nll / static_cast<double>(predictions) : 0.0; }
};

// One independent sequence starting at position 0 (tokens.size() <= the model context).
// `chunk` tokens are prefilled per forward pass (bounds the logits buffer).
Result<NllResult> sequence_nll(Model& model, std::span<const int32_t> tokens, int64_t chunk = 128);

}  // namespace lightllm::models
