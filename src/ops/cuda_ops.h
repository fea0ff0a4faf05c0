// src/ops/cuda_ops.h — the CUDA side of the ops (internal to src/ops). Each public op in
// ops.h dispatches here when its first tensor is on the CUDA device; these functions check
// shapes, dtypes (one 16-bit activation dtype, see ops.h) and that every tensor is on the
// device, then launch the kernel of src/kernels/cuda on the thread's current stream.
// Compiled only with LIGHTLLM_CUDA; without it LLM_OPS_CUDA_DISPATCH expands to nothing and
// the CPU path's device check reports unimplemented.
#pragma once

#include <initializer_list>
#include <vector>

#include "kernels/sampling_batch.h"
#include "ops/ops.h"

namespace lightllm::ops::cuda_impl {

Status embedding(const Tensor& table, const Tensor& ids, Tensor& out);
Status upload_step(const StepUpload& u);
Status rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out);
Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    Tensor& out);
Status layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Tensor& out);
Status matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out);
// The one-launch paths of matmul_split / gated_matmul / matmul_add and of their RMSNorm-prologue
// forms (norm given; x is then norm->normed) (the GEMV, m <= kGemvMaxBatch): true when they
// ran, false when the shape or alignment needs the composed path (shapes already checked by
// the caller).
core::Result<bool> try_matmul_split(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    std::initializer_list<Tensor*> outs, const NormedInput* norm);
core::Result<bool> try_gated_matmul(const Tensor& x, const Tensor& w, const Tensor& bias,
                                    GatedAct act, Tensor& out, const NormedInput* norm);
core::Result<bool> try_matmul_add(const Tensor& x, const Tensor& w, const Tensor& bias,
                                  Tensor& residual);
Status head_layer_norm(Tensor& x, const Tensor& weight, float eps);
Status add(Tensor& acc, const Tensor& x);
Status gated(const Tensor& gate, const Tensor& up, bool silu, bool tanh_approx, Tensor& out);
Status gelu(Tensor& x, bool tanh_approx);
Status rope(Tensor& q, Tensor& k, const Tensor& positions, const std::vector<float>& inv_freq,
            const RopeConfig& cfg);
Status logn_scale(Tensor& q, const Tensor& positions, int64_t seq_length);
Status store_kv(const Tensor& k, const Tensor& v, const Tensor& slots, KvCacheView& cache);
Status rope_store_kv(const RopeStoreKv& a);
// qkv_rope_store_kv's one GEMV launch: true when it ran, false when the op must compose (shapes
// of q, k, v, x, w checked by the caller).
core::Result<bool> try_qkv_rope_store_kv(const QkvRopeStoreKv& a);
Status attention(const Tensor& q, const KvCacheView& cache, const AttentionMeta& meta, Tensor& out);
// ops::sample (sampling_ops.h), in cuda_sampling_ops.cpp.
Status sample(Tensor& logits, const kernels::SampleBatch& batch, Tensor& out_ids,
              Tensor* out_logprobs, Tensor* out_ids_copy);

}  // namespace lightllm::ops::cuda_impl

#if LIGHTLLM_CUDA
// Returns cuda_impl::CALL from the enclosing op when `tensor` lives on the CUDA device.
#define LLM_OPS_CUDA_DISPATCH(tensor, CALL) \
  if ((tensor).device() == ::lightllm::core::Device::cuda) return ::lightllm::ops::cuda_impl::CALL
#else
#define LLM_OPS_CUDA_DISPATCH(tensor, CALL)
#endif
