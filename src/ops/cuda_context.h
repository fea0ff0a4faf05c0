// src/ops/cuda_context.h — the calling thread's current CUDA device, its stream and its cuBLASLt
// GEMM on that device, shared by the CUDA ops (cuda_ops.cpp, cuda_linear_ops.cpp) and the device
// memory functions (device_ops.cpp). Internal to src/ops; built only with LIGHTLLM_CUDA.
#pragma once

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::kernels::cuda {
class GemmLt;
}

namespace lightllm::ops::cuda_detail {
cudaStream_t current_stream();
void set_current_stream(cudaStream_t s);
// cudaSetDevice + remember it for this thread (the per-device op state is chosen by it).
cudaError_t set_current_device(int device);
// The calling thread's cuBLASLt GEMM on its current device (created on first use).
core::Result<kernels::cuda::GemmLt*> thread_gemm();
}  // namespace lightllm::ops::cuda_detail
