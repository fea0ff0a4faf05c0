// src/kernels/cuda/gemm_lt.h — GemmLt: the linear layer's GEMM through cuBLASLt.
// out[m, n] = x[m, k] · w[n, k]^T (+ bias[n]), f16 or bf16 in and out (or f32 out, for
// logits), f32 accumulation.
// (w is the HF nn.Linear weight layout, row-major [out_features, in_features].)
// The algorithm is cuBLASLt's first heuristic for the shape, found once per
// (dtype, m, n, k, bias) and cached with its descriptors. One GemmLt per device worker thread:
// gemm() is not thread-safe (the cache and the bias pointer attribute are shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include <cuda_runtime_api.h>

#include "backend/cuda/device_buffer.h"
#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

struct GemmParams {
  core::DType dtype = core::DType::bf16;  // of x, w, bias, out
  const void* x = nullptr;                // [m, k] row-major
  const void* w = nullptr;                // [n, k] row-major
  const void* bias = nullptr;             // [n] or nullptr
  void* out = nullptr;                    // [m, n] row-major, dtype (f32 when out_f32)
  int64_t m = 0, n = 0, k = 0;
  bool out_f32 = false;  // write f32 (the logits for the host sampler); bias must be null
};

class GemmLt {
 public:
  ~GemmLt();
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;

  // workspace_bytes: scratch given to cuBLASLt (32 MiB lets it pick split-K algorithms on Hopper).
  static core::Result<std::unique_ptr<GemmLt>> create(size_t workspace_bytes = size_t{32} << 20);

  core::Status gemm(const GemmParams& p, cudaStream_t stream);
  size_t cached_plans() const { return plans_.size(); }

 private:
  struct Plan;
  using Key = std::tuple<int, int64_t, int64_t, int64_t, bool, bool>;
  GemmLt() = default;
  core::Result<Plan*> plan_for(const GemmParams& p);

  void* handle_ = nullptr;  // cublasLtHandle_t
  backend::cuda::DeviceBuffer workspace_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace lightllm::kernels::cuda
