// src/kernels/cuda/activation.h — activations: gated out = act(gate) * up, and plain
// out = act(x) (the ungated MLPs of BLOOM / StarCoder).
// Gated: either the input row holds [gate | up] side by side (the fused gate_up projection
// output), or `up` points at a separate [n_tokens, inter] tensor and `in` holds the gate alone.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

// silu(g) = g / (1 + exp(-g));  gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)));
// gelu_erf(g) = 0.5 g (1 + erf(g / sqrt(2))) (torch's exact GELU).
enum class GatedAct { silu, gelu_tanh, gelu_erf };

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

core::Status gated_activation(const GatedActParams& p, cudaStream_t stream);

struct ActivationParams {
  core::DType dtype = core::DType::bf16;
  const void* x = nullptr;  // [n] contiguous
  void* out = nullptr;      // [n]; may be x (in place)
  int64_t n = 0;
  GatedAct act = GatedAct::gelu_tanh;
};

// out = act(x), computed in f32 and rounded once.
core::Status activation(const ActivationParams& p, cudaStream_t stream);

}  // namespace lightllm::kernels::cuda
