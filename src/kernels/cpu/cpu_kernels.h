// src/kernels/cpu/cpu_kernels.h — the fast CPU kernels (AVX-512 / AVX2, OpenMP threads).
// Same Params and results as kernels/ref within the per-dtype tolerances of
// tests/kernels; which SIMD path runs is chosen at call time (kernels/cpu/isa.h).
#pragma once

#include "kernels/kernel_params.h"

namespace lightllm::kernels::cpu {

void embedding(const EmbeddingParams& p);
void rms_norm(const RmsNormParams& p);
void layer_norm(const LayerNormParams& p);
// bf16 weights on AVX512_BF16 CPUs: x is rounded to bf16 and products accumulate in f32
// (vdpbf16ps); every other case is f32 math on f32-widened weights.
void matmul(const MatmulParams& p);
void gated_act(const GatedActParams& p);
void softmax(const SoftmaxParams& p);
void rope(const RopeParams& p);
void store_kv(const StoreKvParams& p);
void attention(const AttentionParams& p);

}  // namespace lightllm::kernels::cpu
