// src/ops/cuda_context.h — the calling thread's current CUDA device, its stream and its cuBLASLt
// GEMM on that device, shared by the CUDA ops (cuda_ops.cpp, cuda_linear_ops.cpp) and the device
// memory functions (device_ops.cpp); the checked rotary / KV-store kernel parameters that the
// fused QKV launch (cuda_linear_ops.cpp) shares with rope() and store_kv() (cuda_ops.cpp).
// Internal to src/ops; built only with LIGHTLLM_CUDA.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "core/status.h"
#include "ops/ops.h"

namespace lightllm::kernels::cuda {
class GemmLt;
struct RotaryParams;
struct KvScatterParams;
}  // namespace lightllm::kernels::cuda

namespace lightllm::ops::cuda_detail {
cudaStream_t current_stream();
void set_current_stream(cudaStream_t s);
// cudaSetDevice + remember it for this thread (the per-device op state is chosen by it).
cudaError_t set_current_device(int device);
// The calling thread's cuBLASLt GEMM on its current device (created on first use).
core::Result<kernels::cuda::GemmLt*> thread_gemm();
}  // namespace lightllm::ops::cuda_detail

namespace lightllm::ops::cuda_impl {
// rope()'s checks of q [n_tokens, n_heads, head_dim], k, positions and cfg, and its kernel
// parameters with the device copy of the inv_freq table (resident tables only under capture).
core::Result<kernels::cuda::RotaryParams> rotary_params(Tensor& q, Tensor& k,
                                                        const Tensor& positions,
                                                        const std::vector<float>& inv_freq,
                                                        const RopeConfig& cfg);
// store_kv()'s checks of k, v [n_tokens, n_kv_heads, head_dim], slots and the cache, and its
// kernel parameters.
core::Result<kernels::cuda::KvScatterParams> kv_scatter_params(const Tensor& k, const Tensor& v,
                                                               const Tensor& slots,
                                                               KvCacheView& cache);
}  // namespace lightllm::ops::cuda_impl
