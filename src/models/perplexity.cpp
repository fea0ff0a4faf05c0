// src/models/perplexity.cpp — see perplexity.h.
#include "models/perplexity.h"

#include <cmath>
#include <numeric>

#include "models/step_batch_builder.h"

namespace lightllm::models {

Result<NllResult> sequence_nll(Model& model, std::span<const int32_t> tokens, int64_t chunk) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const ModelShape& s = model.shape();
  if (n < 2) return core::invalid_argument("perplexity needs at least 2 tokens, got {}", n);
  if (s.max_context > 0 && n > s.max_context)
    return core::invalid_argument("sequence of {} tokens exceeds the model context {}", n,
                                  s.max_context);
  // One request whose position p lives in slot p.
  std::vector<int32_t> req_to_token(static_cast<size_t>(n));
  std::iota(req_to_token.begin(), req_to_token.end(), 0);
  const bool on_cpu = model.device() == core::Device::cpu;
  LLM_ASSIGN_OR_RETURN(
      KvStorage kv, KvStorage::allocate_on(model.device(), s.n_layers, n, s.n_kv_heads, s.head_dim,
                                           on_cpu ? core::DType::f32 : model.activation_dtype()));
  StepBatchBuilder builder(req_to_token.data(), n);
  Tensor logits = Tensor::empty({chunk, s.vocab}, core::DType::f32);

  NllResult r;
  for (int64_t start = 0; start < n - 1; start += chunk) {
    const int64_t len = std::min(chunk, n - 1 - start);  // the last token is never an input
    const StepSegment seg{
        .req_row = 0,
        .tokens = tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(len)),
        .cached_len = static_cast<int32_t>(start)};
    StepBatch batch = builder.build({&seg, 1});
    batch.logit_rows.resize(static_cast<size_t>(len));
    std::iota(batch.logit_rows.begin(), batch.logit_rows.end(), 0);
    Tensor out = logits.rows(0, len);
    LLM_RETURN_IF_ERROR(model.forward(batch, kv, out));
    for (int64_t i = 0; i < len; ++i) {
      const float* row = out.data<float>() + i * s.vocab;
      double mx = row[0];
      for (int64_t v = 1; v < s.vocab; ++v) mx = std::max(mx, static_cast<double>(row[v]));
      double z = 0;
      for (int64_t v = 0; v < s.vocab; ++v) z += std::exp(static_cast<double>(row[v]) - mx);
      const int32_t next = tokens[static_cast<size_t>(start + i + 1)];
      r.sum_nll += mx + std::log(z) - static_cast<double>(row[next]);
    }
    r.predictions += len;
  }
  return r;
}

}  // namespace lightllm::models
