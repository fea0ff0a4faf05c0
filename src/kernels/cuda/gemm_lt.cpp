// src/kernels/cuda/gemm_lt.cpp — cuBLASLt plans (descriptors + heuristic algorithm) per shape.
// Row-major out[m,n] = x[m,k] w[n,k]^T is computed as the column-major product
// out^T[n,m] = op_T(w as col-major [k,n]) · (x as col-major [k,m]), so no data is transposed.
#include "kernels/cuda/gemm_lt.h"

#include <cublasLt.h>

#include "backend/cuda/cuda_check.h"

namespace lightllm::kernels::cuda {

struct GemmLt::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

GemmLt::~GemmLt() {
  plans_.clear();
  if (handle_) cublasLtDestroy(static_cast<cublasLtHandle_t>(handle_));
}

core::Result<std::unique_ptr<GemmLt>> GemmLt::create(size_t workspace_bytes) {
  std::unique_ptr<GemmLt> g(new GemmLt());
  cublasLtHandle_t h = nullptr;
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtCreate(&h)));
  g->handle_ = h;
  LLM_ASSIGN_OR_RETURN(g->workspace_, backend::cuda::DeviceBuffer::allocate(workspace_bytes));
  return g;
}

core::Result<GemmLt::Plan*> GemmLt::plan_for(const GemmParams& p) {
  const Key key{static_cast<int>(p.dtype), p.m, p.n, p.k, p.bias != nullptr, p.out_f32};
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();

  const cudaDataType_t dt = p.dtype == core::DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  auto plan = std::make_unique<Plan>();
  LLM_RETURN_IF_ERROR(
      LLM_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta))));
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb))));
  if (p.bias != nullptr) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi))));
    LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias))));
  }
  const auto m = static_cast<uint64_t>(p.m), n = static_cast<uint64_t>(p.n),
             k = static_cast<uint64_t>(p.k);
  LLM_RETURN_IF_ERROR(
      LLM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, dt, k, n, static_cast<int64_t>(k))));
  LLM_RETURN_IF_ERROR(
      LLM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, dt, k, m, static_cast<int64_t>(k))));
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(
      &plan->c, p.out_f32 ? CUDA_R_32F : dt, n, m, static_cast<int64_t>(n))));

  cublasLtMatmulPreference_t pref = nullptr;
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref)));
  const size_t ws = workspace_.size();
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulAlgoGetHeuristic(static_cast<cublasLtHandle_t>(handle_), plan->desc, plan->a,
                                        plan->b, plan->c, plan->c, pref, 1, &result, &found);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(st));
  if (found == 0) {
    return core::unimplemented("cuBLASLt has no algorithm for {} GEMM m={} n={} k={}",
                               core::dtype_name(p.dtype), p.m, p.n, p.k);
  }
  plan->algo = result.algo;
  Plan* raw = plan.get();
  plans_.emplace(key, std::move(plan));
  return raw;
}

core::Status GemmLt::gemm(const GemmParams& p, cudaStream_t stream) {
  if (p.dtype != core::DType::bf16 && p.dtype != core::DType::f16) {
    return core::invalid_argument("gemm: dtype {} (f16 or bf16)", core::dtype_name(p.dtype));
  }
  if (p.x == nullptr || p.w == nullptr || p.out == nullptr || p.m < 0 || p.n <= 0 || p.k <= 0) {
    return core::invalid_argument("gemm: null pointer or bad shape m={} n={} k={}", p.m, p.n, p.k);
  }
  if (p.out_f32 && p.bias != nullptr)
    return core::invalid_argument("gemm: f32 output takes no bias");
  if (p.m == 0) return {};
  LLM_ASSIGN_OR_RETURN(Plan * plan, plan_for(p));
  if (p.bias != nullptr) {
    LLM_RETURN_IF_ERROR(LLM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias))));
  }
  const float alpha = 1.f, beta = 0.f;
  return LLM_CUBLAS_CHECK(cublasLtMatmul(
      static_cast<cublasLtHandle_t>(handle_), plan->desc, &alpha, p.w, plan->a, p.x, plan->b, &beta,
      p.out, plan->c, p.out, plan->c, &plan->algo, workspace_.data(), workspace_.size(), stream));
}

}  // namespace lightllm::kernels::cuda
