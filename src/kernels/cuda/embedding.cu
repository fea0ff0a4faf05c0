// src/kernels/cuda/embedding.cu — one block per token copies one table row (16-byte chunks when
// the row allows it, elements otherwise), launched with PDL (pdl.cuh).
#include "kernels/cuda/embedding.h"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace lightllm::kernels::cuda {
namespace {

template <typename T>
__global__ void embedding_kernel(EmbeddingParams p) {
  const int64_t t = blockIdx.x;
  pdl_wait();  // ids may be written by an earlier kernel (pdl.cuh)
  pdl_launch_dependents();
  const int64_t row = static_cast<int64_t>(p.ids[t]) - p.vocab_start;
  T* o = static_cast<T*>(p.out) + t * p.hidden;
  const bool valid = row >= 0 && row < p.vocab_rows;
  const T* src = static_cast<const T*>(p.table) + (valid ? row : 0) * p.hidden;
  if (p.hidden % 8 == 0) {  // rows are 16-byte aligned when the base is (cudaMalloc: 256 B)
    const int64_t n = p.hidden / 8;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      reinterpret_cast<uint4*>(o)[i] =
          valid ? reinterpret_cast<const uint4*>(src)[i] : uint4{0, 0, 0, 0};
    }
  } else {
    for (int64_t i = threadIdx.x; i < p.hidden; i += blockDim.x)
      o[i] = valid ? src[i] : from_f32<T>(0.f);
  }
}

}  // namespace

core::Status embedding(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.ids == nullptr || p.table == nullptr || p.out == nullptr || p.hidden <= 0 ||
      p.vocab_rows <= 0 || p.n_tokens < 0) {
    return core::invalid_argument("embedding: null pointer or bad shape (hidden={} vocab_rows={})",
                                  p.hidden, p.vocab_rows);
  }
  if (p.n_tokens == 0) return {};
  LLM_DISPATCH_HALF(
      "embedding", p.dtype,
      return LLM_CUDA_CHECK(launch_pdl(embedding_kernel<T>, dim3(static_cast<unsigned>(p.n_tokens)),
                                       dim3(128), 0, stream, p)));
  return {};
}

}  // namespace lightllm::kernels::cuda
