// src/kernels/cuda/gemv.h — our skinny GEMM for 1 <= m <= kGemvMaxM rows (batch-1 / small-batch
// decode): out[m, n] = x[m, k] · w[n, k]^T (+ bias[n]), f16 or bf16 in, f32 accumulation, out in
// the activation dtype or f32 (logits). The weight streams from memory once at full bandwidth
// (16-byte loads that bypass L1, several in flight per lane); x is read through L1, where it
// stays (it is small: m·k·2 bytes), so k has no upper limit. Each warp owns a few output
// columns (weight rows) and reduces with warp shuffles: no shared memory, no atomics. At m = 1
// the MLP's GEMVs (gated, and residual with k > n: the down projection) use the block-rows
// kernel instead (GemvConfig::block_rows: a block owns a few whole rows, all its weight loads
// in flight at once); m >= 3 a tensor-core kernel.
// Fused variants of the same kernel:
//  - row-segmented output: the product's columns [0, n) are written to up to kGemvMaxSegments
//    destination tensors (fused QKV: one weight [n_q + n_k + n_v, k], one bias, q/k/v outputs);
//  - gated: w = [gate rows (inter) ; up rows (inter)], out[m, inter] = round(act(g) · u) with
//    g = round(x·gate^T + b_gate), u = round(x·up^T + b_up) — exactly the rounding of the unfused
//    path (matmul to the activation dtype, then gated_activation);
//  - RMSNorm prologue (the input normalized per row inside the kernel) and residual epilogue
//    (the product added into the output), see GemvParams: the batch-1 decode layer's norm and
//    residual add without kernels of their own;
//  - rotary + KV store epilogue (GemvRopeKv): the decode layer's QKV projection writes q and k
//    rotated and stores k and v in the token's KV slot, without the rotary kernel.
// Invariants: no allocation, no host synchronization (CUDA-graph capturable); launched with
// programmatic dependent launch (kernels/cuda/pdl.cuh): the first weight loads are issued before
// waiting for the previous kernel, x is read (coherent loads, never ld.global.nc, which the
// compiler may move above the wait) and outputs written after.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/cuda/activation.h"

namespace lightllm::kernels::cuda {

inline constexpr int kGemvMaxM = 8;
inline constexpr int kGemvMaxSegments = 3;
// The RMSNorm prologue: at most this many rows, and m·k·2 bytes of normalized x per block in
// shared memory within the default dynamic limit.
inline constexpr int kGemvNormMaxM = 2;
inline constexpr size_t kGemvNormMaxSmem = 48 * 1024;
// The rotary + KV store epilogue: at most this many rows.
inline constexpr int kGemvRopeMaxM = 2;

// Destination of columns [start, start + cols) of the product: out[i, j - start] at
// out + i * ld + (j - start), for i < m.
struct GemvSegment {
  void* out = nullptr;
  int64_t cols = 0;
  int64_t ld = 0;  // elements between rows of out (>= cols)
};

// Kernel shape. CUDA-core kernel (mma = false): rows of w per warp (plain; gated: this many
// gate rows and as many up rows), 16-byte loads per lane per row in flight (unroll), threads
// per block. Tensor-core kernel (mma = true, sm_80+ mma.sync): 16 weight rows per block split
// over threads / 32 warps along k (at most 8), unroll 4 or 8 chunks per row in flight; it
// handles every m <= 8 with one instantiation. Zeros = the tuned default for m (the CUDA-core
// kernel for m <= 2, the tensor-core one above: gemv.cu).
struct GemvConfig {
  int rows_per_warp = 0;
  int unroll = 0;
  int threads = 0;
  bool mma = false;
  // Block-rows kernel (m <= kGemvRowsMaxM, k <= 8 · 8 · 512; gemv.cu): a block owns a few
  // consecutive rows and its threads split them along k; the other fields are ignored.
  bool block_rows = false;
};
inline constexpr int kGemvRowsMaxM = 2;

// The configuration of a GEMV with the RMSNorm prologue (m <= kGemvNormMaxM) unless p.config
// says otherwise: 2 rows x 4 loads x 256 threads — half the blocks of 128 threads, so half the
// prologues (each block normalizes x on its own). In the batch-1 decode layer chain 2-5 us per
// layer faster than 2 x 4 x 128 for Llama-2-7B / Llama-3-8B at m = 1 and 2 (docs/PERFORMANCE.md
// run 11, H100). The block size sets the order of the sum of squares, hence the rounding.
inline constexpr GemvConfig kGemvNormConfig = {2, 4, 256};

// The rotary + KV store epilogue (rope_kv_scatter() after the product, bit for bit): the
// product's three segments are q [m, n_heads·head_dim], k and v [m, n_kv_heads·head_dim]; each
// output is rounded to the activation dtype first, then the pairs (j, j + head_dim/2) of every
// q and k head are rotated (rotate_half over the whole head: rotary_dim = head_dim) with
// cos/sin of positions[i]·inv_freq[j] scaled by attention_factor and rounded once, exactly as
// kernels/cuda/rotary.cu does; q, k (rotated) and v are written to their segments, and k and v
// also to row slots[i]·n_kv_heads + head of the 16-bit caches.
struct GemvRopeKv {
  const int32_t* positions = nullptr;  // [m] absolute positions
  const float* inv_freq = nullptr;     // [head_dim / 2] device table
  const int32_t* slots = nullptr;      // [m] KV slot of each row's token
  void* k_cache = nullptr;             // [n_slots, n_kv_heads, head_dim] of dtype
  void* v_cache = nullptr;
  int head_dim = 0;  // even; every segment's cols a multiple of it
  float attention_factor = 1.0f;
};

struct GemvParams {
  core::DType dtype = core::DType::bf16;  // x, w, bias and (unless out_f32) outputs
  const void* x = nullptr;                // [m, k] row-major, contiguous
  const void* w = nullptr;                // [n, k] row-major, contiguous
  const void* bias = nullptr;             // [n] or nullptr
  int64_t m = 0, n = 0, k = 0;
  // Plain: the segments' cols sum to n. Gated: one segment of cols = n / 2 (= inter).
  GemvSegment seg[kGemvMaxSegments] = {};
  int n_seg = 1;
  bool out_f32 = false;  // write f32 (plain only)
  bool gated = false;    // w holds gate rows then up rows
  GatedAct act = GatedAct::silu;
  // RMSNorm prologue (plain or gated; m <= kGemvNormMaxM; CUDA-core kernel): when set, x is
  // the residual stream and the product's input is round(x · rsqrt(mean(x²) + norm_eps) ·
  // norm_weight) — rmsnorm()'s rounding (norm.h); each block recomputes its rows' sum of
  // squares and keeps the normalized rows in shared memory ((m + 1)·k·2 bytes with the norm
  // weights, at most kGemvNormMaxSmem).
  const void* norm_weight = nullptr;  // [k], 16-byte aligned, or nullptr
  float norm_eps = 1e-6f;
  // Residual epilogue (plain, one segment, 16-bit out; both kernels): out = round(out +
  // round(x·w^T + b)),
  // add_rmsnorm()'s residual rounding; out is read before it is written.
  bool accumulate = false;
  // Rotary + KV store epilogue (plain, three segments, 16-bit out, no accumulate, m <=
  // kGemvRopeMaxM, a CUDA-core configuration with an even rows_per_warp): on when k_cache is
  // set. Warp g then owns the pairs (j, j + head_dim/2) of one head, rows_per_warp / 2 of them.
  GemvRopeKv rope = {};
  // PDL: let the next kernel be scheduled at this one's start instead of after its last loads
  // (CUDA-core kernel; the others ignore it). Only for a small next grid that does useful work
  // before its wait: the decode attention at batch 1 (decode_attention_grid_is_small).
  bool early_dependents = false;
  GemvConfig config = {};  // tuning override (bench/cuda/gemv_tune.cpp); zeros = defaults
};

// Whether gemv() takes these parameters: 1 <= m <= kGemvMaxM, bf16/f16, k a multiple of 8,
// x and w 16-byte aligned (the kernel reads 16-byte chunks), consistent segments. Callers fall
// back to cuBLASLt (GemmLt) when this is false; gemv() itself returns invalid_argument then.
bool gemv_supported(const GemvParams& p);

core::Status gemv(const GemvParams& p, cudaStream_t stream);

// The configuration gemv() uses for this m when p.config is zero, plain and gated alike
// (except with the RMSNorm prologue: kGemvNormConfig; and m = 1 with the residual epilogue and
// k <= 4096: 1 row x 8 loads x 256 threads, see gemv.cu).
GemvConfig gemv_default_config(int64_t m);

}  // namespace lightllm::kernels::cuda
