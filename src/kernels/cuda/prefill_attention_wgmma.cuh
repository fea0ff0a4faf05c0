// src/kernels/cuda/prefill_attention_wgmma.cuh — Hopper (sm_90a) helpers of the warp-specialized
// prefill attention kernel (prefill_attention_ws.cu; device code only, valid in code compiled for
// sm_90a, i.e. under __CUDA_ARCH_FEAT_SM90_ALL): warpgroup MMAs, shared-memory descriptors and
// the 128B swizzle, wgmma fences, mbarriers (init / arrive / arrive on cp.async completion /
// parity wait), named barriers and setmaxnreg.
//   wgmma_ss<T, N>: D[64][N] (+)= A[64][16] B[16][N], A and B from shared memory (descriptors),
//                   both K-major (A rows and B columns contiguous along K).
//   wgmma_rs<T, 128>: D[64][128] (+)= A[64][16] B[16][128], A from registers (the mma.sync
//                   m16n8k16 A fragment of each warp's 16 rows), B from shared memory MN-major.
//   scale_d = 0 overwrites D, 1 accumulates. Accumulator fragment: warp w of the warpgroup holds
//   rows 16w + g and 16w + g + 8 (g = lane / 4) of D; d[j][0..1] are columns 8j + 2t, +1 of row
//   16w + g, d[j][2..3] the same columns of row 16w + g + 8 (t = lane % 4) — the mma.sync C layout
//   repeated over N / 8 column blocks.
// Shared-memory operands use the 128-byte swizzle: a [rows][64 elements] block of 16-bit values,
// rows 128 bytes apart, the 16-byte chunk c of row r stored at chunk c ^ (r % 8), every block
// 1024-byte aligned (see swz_offset).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/prefill_attention.h"

namespace lightllm::kernels::cuda::prefill_detail {

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a 128B-swizzled [rows][64] block.
__device__ __forceinline__ uint32_t swz_offset(int row, int chunk) {
  return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
}

// Shared-memory matrix descriptor, 128-byte swizzle. lbo / sbo in bytes: K-major operands use
// sbo = 1024 (8 rows of 128 bytes) and ignore lbo; MN-major operands use lbo = the distance
// between 64-element blocks along M/N and sbo = 1024 (8 rows along K).
__device__ __forceinline__ uint64_t smem_desc(uint32_t smem_byte_addr, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((smem_byte_addr & 0x3FFFF) >> 4) |
         (static_cast<uint64_t>((lbo >> 4) & 0x3FFF) << 16) |
         (static_cast<uint64_t>((sbo >> 4) & 0x3FFF) << 32) | (uint64_t{1} << 62);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Makes this thread's generic-proxy writes to shared memory (cp.async, st.shared) visible to
// the async proxy that wgmma reads through; a barrier must follow before other threads' wgmma.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Pins an accumulator register at this point of the program order (no use of it moves across).
__device__ __forceinline__ void fence_operand(float& x) {
  asm volatile("" : "+f"(x)::"memory");
}
template <int NB>
__device__ __forceinline__ void fence_operands(float (&d)[NB][4]) {
#pragma unroll
  for (int j = 0; j < NB; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) fence_operand(d[j][i]);
}

// ---- mbarriers, named barriers, register reallocation (warp-specialized kernel) ------------

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives on `bar` once every cp.async this thread issued so far has landed (the barrier's
// expected count includes this arrival: .noinc).
__device__ __forceinline__ void mbar_arrive_cp_async(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase of parity `parity` of `bar` has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
__device__ __forceinline__ void named_bar_sync(int id, int count) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int count) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
template <int N>
__device__ __forceinline__ void set_max_regs_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void set_max_regs_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

constexpr int kWgD = 128;  // head_dim of the wgmma kernel

template <typename T, int N>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 8][4], uint64_t desc_a, uint64_t desc_b,
                                         int scale_d);
template <typename T, int N>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 8][4], const uint32_t (&a)[4],
                                         uint64_t desc_b, int scale_d);

// The six specializations differ only in the PTX type, N and the operand numbering, so they
// are spelled once here. Accumulator operands: N / 8 fragments of 4 f32 per thread, d[i][0..3].
#define LLM_WG_ACC4(i) "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])
#define LLM_WG_ACC_N64                                                                            \
  LLM_WG_ACC4(0), LLM_WG_ACC4(1), LLM_WG_ACC4(2), LLM_WG_ACC4(3), LLM_WG_ACC4(4), LLM_WG_ACC4(5), \
      LLM_WG_ACC4(6), LLM_WG_ACC4(7)
#define LLM_WG_ACC_N128                                                             \
  LLM_WG_ACC_N64, LLM_WG_ACC4(8), LLM_WG_ACC4(9), LLM_WG_ACC4(10), LLM_WG_ACC4(11), \
      LLM_WG_ACC4(12), LLM_WG_ACC4(13), LLM_WG_ACC4(14), LLM_WG_ACC4(15)
#define LLM_WG_REGS_N64                                                                        \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define LLM_WG_REGS_N128                                                                    \
  LLM_WG_REGS_N64                                                                           \
  ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, " \
  "%49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"

// D (+)= A · B with A and B from shared memory (descriptors); operands: d, desc_a, desc_b,
// scale_d (0: D = A · B, the first k-step).
#define LLM_WGMMA_SS(T, TY, N, A, B, PRED)                                                \
  template <>                                                                             \
  __device__ __forceinline__ void wgmma_ss<T, N>(float(&d)[N / 8][4], uint64_t desc_a,    \
                                                 uint64_t desc_b, int scale_d) {          \
    asm volatile(                                                                         \
        "{\n.reg .pred p;\n"                                                              \
        "setp.ne.b32 p, %" #PRED                                                          \
        ", 0;\n"                                                                          \
        "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" LLM_WG_REGS_N##N \
        "}, %" #A ", %" #B ", p, 1, 1, 0, 0;\n}\n"                                        \
        : LLM_WG_ACC_N##N                                                                 \
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));                                        \
  }
// D (+)= A · B with A from registers (4 per thread) and B from shared memory, B transposed
// (V read as [keys][d]).
#define LLM_WGMMA_RS(T, TY, N, A0, A1, A2, A3, B, PRED)                                      \
  template <>                                                                                \
  __device__ __forceinline__ void wgmma_rs<T, N>(float(&d)[N / 8][4], const uint32_t(&a)[4], \
                                                 uint64_t desc_b, int scale_d) {             \
    asm volatile(                                                                            \
        "{\n.reg .pred p;\n"                                                                 \
        "setp.ne.b32 p, %" #PRED                                                             \
        ", 0;\n"                                                                             \
        "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" LLM_WG_REGS_N##N    \
        "}, {%" #A0 ", %" #A1 ", %" #A2 ", %" #A3 "}, %" #B ", p, 1, 1, 1;\n}\n"             \
        : LLM_WG_ACC_N##N                                                                    \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));            \
  }

LLM_WGMMA_SS(__nv_bfloat16, "bf16", 64, 32, 33, 34)
LLM_WGMMA_SS(__nv_bfloat16, "bf16", 128, 64, 65, 66)
LLM_WGMMA_RS(__nv_bfloat16, "bf16", 128, 64, 65, 66, 67, 68, 69)
LLM_WGMMA_SS(__half, "f16", 64, 32, 33, 34)
LLM_WGMMA_SS(__half, "f16", 128, 64, 65, 66)
LLM_WGMMA_RS(__half, "f16", 128, 64, 65, 66, 67, 68, 69)

#undef LLM_WGMMA_RS
#undef LLM_WGMMA_SS
#undef LLM_WG_REGS_N128
#undef LLM_WG_REGS_N64
#undef LLM_WG_ACC_N128
#undef LLM_WG_ACC_N64
#undef LLM_WG_ACC4

}  // namespace lightllm::kernels::cuda::prefill_detail
