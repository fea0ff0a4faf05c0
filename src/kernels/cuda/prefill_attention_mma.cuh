// src/kernels/cuda/prefill_attention_mma.cuh — device helpers of the prefill attention kernels
// (device code, and allow_smem on the host): cp.async copies into shared memory, ldmatrix (plain
// and .trans), the mma.sync m16n8k16 tensor-core op for bf16/f16 with f32 accumulation, packing two
// floats into one 32-bit A/B register, and exp2 through MUFU. Fragment conventions are those of PTX
// mma.m16n8k16: lane 4*g + t holds C rows g and g+8, columns 2t and 2t+1 of each 8-column block.
#pragma once

#include <atomic>

#include "kernels/cuda/common.cuh"

namespace lightllm::kernels::cuda::prefill_detail {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared; `valid` false writes zeros and reads nothing.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
// 4 bytes global -> shared (through L1); `valid` false writes zeros.
__device__ __forceinline__ void cp_async8(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 8 : 0));
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
// The same with a shared-memory byte address.
__device__ __forceinline__ void cp_async16_s(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4],
                                                        uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One cvt.rn.{bf16x2,f16x2}.f32: lo goes to the low 16 bits (the lower column of a fragment).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// 2^x with one MUFU.EX2 (flushes denormal results to zero; 2^-inf = 0).
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// ---- key ranges and masks (both kernels) -----------------------------------------------------
// Query row i of a request sits at position prefix + i (prefix = kv_len - q_len).

// Key tiles [lo, hi) of kBN keys that rows [m0, m0 + rows) of a request see (never empty: row m0
// sees its own key).
struct KeyTiles {
  int lo, hi;
};
__device__ __forceinline__ KeyTiles key_tiles(int m0, int rows, int q_len, int kv_len, bool causal,
                                              int window, int kBN) {
  const int prefix = kv_len - q_len;
  const int last_row_pos = prefix + min(m0 + rows, q_len) - 1;
  const int kv_hi = causal ? min(kv_len, last_row_pos + 1) : kv_len;
  const int kv_lo = window > 0 ? max(0, prefix + m0 - window + 1) : 0;
  return {kv_lo / kBN, (kv_hi + kBN - 1) / kBN};
}
// Do queries at positions [pos_lo, pos_hi] need per-key masks on the kBN keys from n0 (some key
// past kv_len, after a query (causal) or before its window)?
__device__ __forceinline__ bool tile_needs_mask(int n0, int kBN, int pos_lo, int pos_hi, int kv_len,
                                                bool causal, int window) {
  return n0 + kBN > kv_len || (causal && n0 + kBN - 1 > pos_lo) ||
         (window > 0 && n0 <= pos_hi - window);
}
// Is key j hidden from the query at position pos?
__device__ __forceinline__ bool key_masked(int j, int pos, int kv_len, bool causal, int window) {
  return j >= kv_len || (causal && j > pos) || (window > 0 && j <= pos - window);
}

// Host: // cudaFuncSetAttribute is per device: remember which devices have it (up to 64).
template <typename Kernel>
core::Status allow_smem(Kernel kernel, size_t bytes, std::atomic<uint64_t>& done) {
  int dev = 0;
  LLM_CUDA_RETURN_IF_ERROR(cudaGetDevice(&dev));
  const uint64_t bit = dev < 64 ? uint64_t{1} << dev : 0;
  if (bit != 0 && (done.load(std::memory_order_relaxed) & bit)) return {};
  LLM_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                static_cast<int>(bytes)));
  done.fetch_or(bit, std::memory_order_relaxed);
  return {};
}

}  // namespace lightllm::kernels::cuda::prefill_detail
