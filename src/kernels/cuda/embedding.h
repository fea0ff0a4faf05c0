// src/kernels/cuda/embedding.h — embedding gather: out[t] = table[ids[t] - vocab_start].
// The table may be one tensor-parallel shard holding rows [vocab_start, vocab_start+vocab_rows);
// ids outside that range produce a zero row (the shards' outputs are summed by all-reduce).
// Ids are on the device, so out-of-range ids cannot be reported as an error here: validate
// them on the host (the tokenizer / request layer) before they reach the GPU.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct EmbeddingParams {
  core::DType dtype = core::DType::bf16;  // of table and out
  const int32_t* ids = nullptr;           // [n_tokens]
  const void* table = nullptr;            // [vocab_rows, hidden]
  void* out = nullptr;                    // [n_tokens, hidden]
  int64_t n_tokens = 0;
  int64_t hidden = 0;
  int64_t vocab_start = 0;
  int64_t vocab_rows = 0;
};

core::Status embedding(const EmbeddingParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
