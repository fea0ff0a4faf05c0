// src/backend/cuda/cuda_check.h — turning CUDA runtime / cuBLAS errors into core::Status.
// Every CUDA call whose failure can reach a caller goes through LLM_CUDA_CHECK (returns a
// Status naming the call, the error string and file:line) or LLM_CUDA_RETURN_IF_ERROR.
// Kernel launches are followed by LLM_CUDA_CHECK_LAUNCH(), which reads cudaGetLastError().
#pragma once

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace lightllm::backend::cuda {

// Builds the Status for a failed CUDA runtime call; ok when err == cudaSuccess.
core::Status cuda_status(cudaError_t err, const char* expr, const char* file, int line);

// Same for a cuBLAS / cuBLASLt status code (int to keep cublas headers out of this one).
core::Status cublas_status(int status, const char* expr, const char* file, int line);

}  // namespace lightllm::backend::cuda

// Evaluates a CUDA runtime call and yields a core::Status (ok or the error with file:line).
#define LLM_CUDA_CHECK(expr) \
  ::lightllm::backend::cuda::cuda_status((expr), #expr, __FILE__, __LINE__)

// Returns the error Status from the enclosing function when the CUDA call fails.
#define LLM_CUDA_RETURN_IF_ERROR(expr) LLM_RETURN_IF_ERROR(LLM_CUDA_CHECK(expr))

// After a <<<...>>> launch: reports a bad launch configuration (not asynchronous faults).
#define LLM_CUDA_CHECK_LAUNCH() \
  ::lightllm::backend::cuda::cuda_status(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

#define LLM_CUBLAS_CHECK(expr) \
  ::lightllm::backend::cuda::cublas_status(static_cast<int>(expr), #expr, __FILE__, __LINE__)
