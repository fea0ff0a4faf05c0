// src/kernels/cuda/activation.h — gated activations: out = act(gate) * up.
// Either the input row holds [gate | up] side by side (the fused gate_up projection output),
// or `up` points at a separate [n_tokens, inter] tensor and `in` holds the gate alone.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

enum class GatedAct { silu, gelu_tanh };

struct GatedActParams {
  core::DType dtype = core::DType::bf16;
  const void* in = nullptr;  // [n_tokens, 2 * inter]: gate = [:, :inter], up = [:, inter:]
                             // or, when `up` is set, [n_tokens, inter] = gate
  const void* up = nullptr;  // [n_tokens, inter] or nullptr (fused layout above)
  void* out = nullptr;       // [n_tokens, inter]
  int64_t n_tokens = 0;
  int64_t inter = 0;
  GatedAct act = GatedAct::silu;
};

// silu(g) = g / (1 + exp(-g));  gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))
core::Status gated_activation(const GatedActParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
