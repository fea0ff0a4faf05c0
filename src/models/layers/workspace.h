// src/models/layers/workspace.h — reusable activation buffers for one forward pass.
// Buffers grow to the largest step seen and are then reused, so the hot path never
// allocates once the engine has warmed up. Not thread-safe: one Workspace per runner.
#pragma once

#include <array>
#include <cstddef>

#include "core/tensor.h"

namespace lightllm::models {

enum class Buf : int {
  residual,   // [n_tokens, hidden]
  normed,     // [n_tokens, hidden]
  q,          // [n_tokens, n_heads, head_dim]
  k,          // [n_tokens, n_kv_heads, head_dim]
  v,          // [n_tokens, n_kv_heads, head_dim]
  attn_out,   // [n_tokens, n_heads, head_dim]
  proj_out,   // [n_tokens, hidden]
  mlp_out,    // [n_tokens, hidden] (parallel residual: the MLP beside the attention)
  gate,       // [n_tokens, intermediate]
  up,         // [n_tokens, intermediate]
  last_rows,  // [n_logit_rows, hidden]
  count
};

class Workspace {
 public:
  // A view of buffer `b` with `shape` (f32 unless told), growing its storage when needed.
  core::Tensor get(Buf b, const core::Shape& shape, core::DType dtype = core::DType::f32) {
    auto& slot = slots_[static_cast<size_t>(b)];
    const size_t bytes = static_cast<size_t>(shape.numel()) * core::dtype_size(dtype);
    if (!slot.defined() || slot.nbytes() < bytes) {
      slot = core::Tensor::empty({static_cast<int64_t>(bytes)}, core::DType::i8);
    }
    return core::Tensor::view(slot.raw(), shape, dtype);
  }

 private:
  std::array<core::Tensor, static_cast<size_t>(Buf::count)> slots_;
};

}  // namespace lightllm::models
