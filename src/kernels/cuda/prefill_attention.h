// src/kernels/cuda/prefill_attention.h — prefill attention over the flat, padding-free batch.
// FlashAttention style: per (query tile, query head, request) one work item; K/V tiles are
// gathered from the KV pool through req_to_token into shared memory (cp.async, pipelined), S = QK^T
// and O += PV run on tensor cores with f32 accumulation and an online softmax in the exp2 domain.
// Kernels (`variant`; 0 = the default: 5 where it can run, else 2):
//   5: Hopper, warp-specialized (prefill_attention_ws.cu, the FlashAttention-3 structure):
//      sm_90a image, head_dim 128, bf16/f16 K/V; a producer warpgroup gathers K/V tiles into a
//      ring of stages (mbarriers), 2 or 3 consumer warpgroups of 64 query rows run wgmma (Q/K/V
//      from 128B-swizzled shared memory, P from registers), each overlapping its softmax with its
//      own P V and taking turns with the other consumers on the tensor cores; a consumer runs no
//      GEMM on the key tiles its own rows cannot see, and m-tiles end at q_len (the ragged one
//      at the request's start). Tiles (block_rows x kv_tile) 128 x 128 and 192 x 64; default
//      192 x 64 when max_q_len >= 1024, else 128 x 128. Grid (ctas): one CTA per (m-tile, head,
//      request) work item, or persistent (one per SM, looping over items in serpentine rounds;
//      the default). ALiBi, window,
//      non-causal; elsewhere (other head dims, int8 K/V, no sm_90a image) it is unimplemented.
//   2: mma.sync m16n8k16, 4 warps; 128-row tiles give each warp 32 query rows, so every K/V
//      ldmatrix fragment feeds four MMAs; 64-row tiles (16 rows per warp) when max_q_len < 128.
//      64-key tiles. Slot indices of a tile are gathered once into shared memory a tile ahead,
//      K and V of a tile are waited for separately, a warp skips the tiles its rows cannot see,
//      masks only the tiles that cross its causal/window/length edge. ALiBi and int8 K/V; every
//      head dim.
//   1, 3 and 4 (the first mma.sync kernel, a wgmma kernel without warp specialization and a
//   pipelined one) were removed after they measured slower than 2 and 5 (docs/PERFORMANCE.md
//   prefill runs 6 and 8); they are invalid_argument.
// Request r's new tokens are rows q_start[r] .. q_start[r+1]-1 of q; they are the LAST
// q_len = q_start[r+1]-q_start[r] of its kv_len tokens (so a cached prefix of kv_len - q_len
// tokens is attended too: chunked prefill and prefix cache). Their K/V must already be in the
// pool (kv_scatter runs first). Requires kv_len[r] >= q_len.
// Causal: the new token at position p sees positions <= p. Sliding window w > 0: it sees only
// positions in (p - w, p], i.e. at most w keys. GQA/MQA: query head h uses kv head
// h / (n_heads / n_kv_heads). head_dim: 16, 32, 64, 80, 96, 128.
// ALiBi (alibi_slopes != nullptr): score(h, query pos p, key pos j) = scale * q.k + slope[h] *
// (j - p), as kernels/ref. int8 K/V (kv_int8): value = int8 * scale[slot][kv_head] (f32), the
// int8 values go exactly into bf16/f16 tiles, the K scale multiplies the scores and the V scale
// the probabilities (in f32), as the decode kernel does.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kernels::cuda {

// PrefillAttentionParams::ctas values (variant 5).
constexpr int kPrefillCtasPerSm = -1;    // persistent: one CTA per SM
constexpr int kPrefillCtasPerItem = -2;  // one CTA per work item

struct PrefillAttentionParams {
  core::DType dtype = core::DType::bf16;  // of q, out, and K/V unless kv_int8
  bool kv_int8 = false;                   // K/V caches are int8 with per-(slot, kv head) scales
  const void* q = nullptr;                // [n_tokens, n_heads, head_dim], token stride q_stride
  const void* k_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const void* v_cache = nullptr;          // [n_slots, n_kv_heads, head_dim]
  const float* k_scale = nullptr;         // [n_slots, n_kv_heads] (kv_int8 only)
  const float* v_scale = nullptr;         // [n_slots, n_kv_heads] (kv_int8 only)
  const int32_t* req_to_token = nullptr;  // [max_reqs, req_to_token_stride] -> slot
  const int32_t* req_row = nullptr;       // [n_reqs] row of each request in req_to_token
  const int32_t* q_start = nullptr;       // [n_reqs + 1] prefix sums of q_len
  const int32_t* kv_len = nullptr;        // [n_reqs] cached prefix + new tokens
  void* out = nullptr;                    // [n_tokens, n_heads, head_dim] contiguous
  int n_reqs = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int max_q_len = 0;     // host-known upper bound of q_len (sizes the grid)
  int64_t q_stride = 0;  // 0 means n_heads * head_dim
  int64_t req_to_token_stride = 0;
  float softmax_scale = 0.f;
  bool causal = true;
  int sliding_window = 0;  // 0: none
  int block_rows = 0;      // query rows per block: variant 2: 64 or 128 (0 = 128 when
                           // max_q_len >= 128, else 64); variant 5: 128 or 192
  int kv_tile = 0;         // keys per K/V tile: 64 (variant 2); variant 5: 128 / 64 with 128 / 192
                           // rows; 0 = default
  int ctas = 0;  // variant 5: CTAs in the grid, each looping over its (m-tile, head, request)
                 // work items: 0 = default (kPrefillCtasPerSm), kPrefillCtasPerSm,
                 // kPrefillCtasPerItem, or > 0: at most that many
  const float* alibi_slopes = nullptr;  // [n_heads] f32 on the device, nullptr = none
  int variant = 0;  // 0 = default (5 where it can run, else 2); 2: mma.sync; 5: wgmma
};

core::Status prefill_attention(const PrefillAttentionParams& p, cudaStream_t stream);

namespace prefill_detail {  // the kernels behind prefill_attention (arguments checked)
core::Status prefill_attention_v2(const PrefillAttentionParams& p, cudaStream_t stream);
core::Status prefill_attention_ws(const PrefillAttentionParams& p, cudaStream_t stream);
// Can variant 5 run p here (head_dim 128, bf16/f16 K/V, the loaded image is sm_90a code)?
bool prefill_wgmma_supported(const PrefillAttentionParams& p);
// Tile shape of a variant 5 launch: p.block_rows / p.kv_tile, or the defaults.
struct WsTiles {
  int rows, keys;
};
WsTiles ws_tiles(const PrefillAttentionParams& p);
// CTAs of a variant 5 launch: p.ctas or the default (kPrefillCtasPerSm / kPrefillCtasPerItem).
int ws_ctas(const PrefillAttentionParams& p);
}  // namespace prefill_detail

}  // namespace lightllm::kernels::cuda
