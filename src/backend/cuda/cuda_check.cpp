// src/backend/cuda/cuda_check.cpp — CUDA / cuBLAS error codes to core::Status.
#include "backend/cuda/cuda_check.h"

#include <cstring>

namespace lightllm::backend::cuda {

namespace {
const char* base_name(const char* file) {
  const char* slash = std::strrchr(file, '/');
  return slash ? slash + 1 : file;
}
}  // namespace

core::Status cuda_status(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return {};
  const core::StatusCode code = err == cudaErrorMemoryAllocation ? core::StatusCode::out_of_memory
                                : err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver
                                    ? core::StatusCode::unavailable
                                    : core::StatusCode::internal;
  return core::error(code, "{}:{}: CUDA error {} ({}) in `{}`", base_name(file), line,
                     cudaGetErrorName(err), cudaGetErrorString(err), expr);
}

core::Status cublas_status(int status, const char* expr, const char* file, int line) {
  if (status == 0) return {};  // CUBLAS_STATUS_SUCCESS
  // CUBLAS_STATUS_ALLOC_FAILED == 3, CUBLAS_STATUS_NOT_SUPPORTED == 15.
  const core::StatusCode code = status == 3    ? core::StatusCode::out_of_memory
                                : status == 15 ? core::StatusCode::unimplemented
                                               : core::StatusCode::internal;
  return core::error(code, "{}:{}: cuBLAS status {} in `{}`", base_name(file), line, status, expr);
}

}  // namespace lightllm::backend::cuda
