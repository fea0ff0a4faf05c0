// src/kernels/ref/ref_kernels.h — scalar reference kernels: the truth every backend is tested
// against. Plain loops, f64 accumulation for reductions, no threading, no intrinsics.
// They take the same Params as the fast kernels (kernels/kernel_params.h).
#pragma once

#include "kernels/kernel_params.h"

namespace lightllm::kernels::ref {

void embedding(const EmbeddingParams& p);
void rms_norm(const RmsNormParams& p);
void layer_norm(const LayerNormParams& p);
void matmul(const MatmulParams& p);
void gated_act(const GatedActParams& p);
void softmax(const SoftmaxParams& p);
void rope(const RopeParams& p);
void store_kv(const StoreKvParams& p);
void attention(const AttentionParams& p);

// Element readers shared by the references (f32 | bf16 | f16 | i8 with a row scale).
float load_elem(const void* base, DType dtype, int64_t index);

}  // namespace lightllm::kernels::ref
