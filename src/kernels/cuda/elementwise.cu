// src/kernels/cuda/elementwise.cu — residual add and log-n query scaling (see elementwise.h).
// Grid-stride loops; each element is read and written by one thread.
#include "kernels/cuda/elementwise.h"

#include "kernels/cuda/common.cuh"

namespace lightllm::kernels::cuda {
namespace {

unsigned blocks_for(int64_t total) {
  return static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
}

template <typename T>
__global__ void add_kernel(T* acc, const T* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    acc[i] = from_f32<T>(to_f32(acc[i]) + to_f32(x[i]));
}

// One block per token: a block whose token needs no scaling returns at once.
template <typename T>
__global__ void logn_kernel(T* q, const int32_t* __restrict__ positions, int64_t row_len,
                            int64_t seq_length) {
  const int64_t t = blockIdx.x;
  const int64_t p1 = int64_t{positions[t]} + 1;
  if (p1 <= seq_length) return;
  const float s =
      static_cast<float>(log(static_cast<double>(p1)) / log(static_cast<double>(seq_length)));
  T* row = q + t * row_len;
  for (int64_t i = threadIdx.x; i < row_len; i += blockDim.x)
    row[i] = from_f32<T>(to_f32(row[i]) * s);
}

}  // namespace

core::Status add_inplace(const AddParams& p, cudaStream_t stream) {
  if (p.acc == nullptr || p.x == nullptr || p.n < 0)
    return core::invalid_argument("add_inplace: null pointer or bad size (n={})", p.n);
  if (p.n == 0) return {};
  LLM_DISPATCH_HALF("add_inplace", p.dtype,
                    add_kernel<T><<<blocks_for(p.n), 256, 0, stream>>>(
                        static_cast<T*>(p.acc), static_cast<const T*>(p.x), p.n));
  return LLM_CUDA_CHECK_LAUNCH();
}

core::Status logn_scale(const LognScaleParams& p, cudaStream_t stream) {
  if (p.q == nullptr || p.positions == nullptr || p.n_tokens < 0 || p.row_len <= 0 ||
      p.seq_length <= 1)
    return core::invalid_argument(
        "logn_scale: null pointer or bad shape (n_tokens={} row_len={} seq_length={})", p.n_tokens,
        p.row_len, p.seq_length);
  if (p.n_tokens == 0) return {};
  LLM_DISPATCH_HALF("logn_scale", p.dtype,
                    logn_kernel<T><<<static_cast<unsigned>(p.n_tokens), 128, 0, stream>>>(
                        static_cast<T*>(p.q), p.positions, p.row_len, p.seq_length));
  return LLM_CUDA_CHECK_LAUNCH();
}

}  // namespace lightllm::kernels::cuda
