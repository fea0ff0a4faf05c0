// src/ops/ops.h — the typed operator API that model layers call.
// Each op checks shapes/dtypes, then dispatches on the tensors' device to a backend kernel
// (src/kernels/cpu, or src/kernels/cuda when every tensor is on the CUDA device). Outputs are
// preallocated by the caller (the model's workspace), so ops never allocate on the hot path.
// Every op has a scalar reference in src/kernels/ref that is the truth for tests.
//
// dtype rules. CPU: activations f32; weights f32, bf16 or f16; small vectors (norm weights,
// biases) f32. CUDA: one 16-bit "activation dtype" (bf16 or f16) for activations, weights,
// norm weights, biases and the KV cache of an op, with f32 accumulation inside the kernels;
// index tensors are i32 on the device; matmul may write f32 (the logits). The f32 types named
// below are the CPU rules. CUDA ops run on the calling thread's current stream
// (set_cuda_stream) and do not synchronize; device index values (ids, slots, req_to_token)
// cannot be range-checked on the GPU, so the caller validates them on the host (the model's
// step staging does). Without LIGHTLLM_CUDA every op on a CUDA tensor is unimplemented.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace lightllm::ops {

using core::Status;
using core::Tensor;

// out[t, :] = table[ids[t], :].  table: [vocab, hidden] (f32|bf16|f16); ids: [n_tokens] i32;
// out: [n_tokens, hidden] f32. An id outside [0, vocab) is an invalid_argument error.
Status embedding(const Tensor& table, const Tensor& ids, Tensor& out);

// A step's index data to where the step runs, with the tokens the previous step sampled on the
// device fed into its token ids (no host round trip). All i32:
//   dst[i] = src[i]                                    for i < n = dst.numel();
//   dst_rows[r, c] = src[n + r * row_len + c]           for r < rows, c < row_len;
//   then dst[pairs[0, i]] = sampled[pairs[1, i]]       for i < n_feed,
// with pairs = src[feed_at, feed_at + 2 * n_feed) as [2, n_feed] (destination rows, then
// source rows) inside src[0, n), destinations in [0, n_ids) (dst[0, n_ids) are the token ids).
// On CUDA, src is the device view of page-locked host memory (UploadRing) that one kernel reads
// in place, on the current stream; the feed's rows are trusted there (the step's host checks
// made them) and checked on the CPU. dst_rows may be undefined when rows == 0.
struct StepUpload {
  Tensor src;       // [>= dst.numel() + rows * row_len]
  Tensor dst;       // [n]
  Tensor dst_rows;  // [>= rows, pitch], pitch >= row_len
  int64_t rows = 0;
  int64_t row_len = 0;
  int64_t n_ids = 0;
  int64_t feed_at = 0;
  int64_t n_feed = 0;
  Tensor sampled;  // [n_sampled]
};
Status upload_step(const StepUpload& u);

// out = x / sqrt(mean(x^2) + eps) * weight.  x, out: [n_tokens, hidden] f32; weight: [hidden].
// out may alias x.
Status rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out);

// Fused residual add + RMSNorm: residual += x; out = rms_norm(residual) * weight.
// residual, x, out: [n_tokens, hidden] f32 (out may alias x, not residual).
Status add_rms_norm(Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    Tensor& out);

// out = (x - mean) / sqrt(var + eps) * weight + bias (bias optional: pass an undefined Tensor).
Status layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Tensor& out);

// Per-head LayerNorm in place (StableLM qk_layernorm, Cohere use_qk_norm): every head of every
// token is normalized over head_dim with that head's own weight, no bias.
// x: [n_tokens, heads, head_dim] f32; weight: [heads, head_dim] f32.
Status head_layer_norm(Tensor& x, const Tensor& weight, float eps);

// acc += x, elementwise (the residual add). acc, x: same shape, f32 (CUDA: the activation
// dtype, the sum rounded once). x must not overlap acc.
Status add(Tensor& acc, const Tensor& x);

// nn.Linear: out[m, n] = sum_k x[m, k] * w[n, k] + bias[n]. (CUDA: our GEMV for m <= kGemvMaxBatch
// rows, see cuda_ops.cpp; cuBLASLt above.)
// x: [m, k] f32; w: [n, k] f32|bf16|f16; bias: [n] (optional, undefined Tensor = none);
// out: [m, n] f32. Parallel over cores (OpenMP); bf16 weights use AVX-512 BF16 dot products
// where the CPU has them (activations rounded to bf16, f32 accumulation), else exact f32 math.
Status matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out);

// --- Fused projections: one weight holding several parts' rows -----------------------------
// (models::WeightUploader::upload_fused puts q/k/v or gate/up into one device allocation.)

// outs[i] = x · w_i^T (+ bias_i), where w = [w_0; w_1; ...] stacks the parts' rows
// ([sum n_i, k]), bias stacks theirs ([sum n_i]) or is undefined, outs[i]: [m, n_i] (1 to
// kMaxSplitParts parts). CUDA with m <= kGemvMaxBatch (cuda_ops.cpp; where matmul runs the
// GEMV too): one launch that writes every part; otherwise one matmul per part on row views of w and
// bias (the same results as separate weights, up to accumulation order).
inline constexpr size_t kMaxSplitParts = 3;
Status matmul_split(const Tensor& x, const Tensor& w, const Tensor& bias,
                    std::initializer_list<Tensor*> outs);

enum class GatedAct { silu, gelu_erf, gelu_tanh };

// out = act(round(x · gate^T + b_gate)) · round(x · up^T + b_up), where w = [gate; up]
// ([2 * inter, k]), bias [2 * inter] or undefined, out: [m, inter]; round = to the activation
// dtype on CUDA (none on the CPU), so the result equals matmul → silu_mul / gelu_mul up to
// accumulation order. CUDA with m <= kGemvMaxBatch: one GEMV launch; otherwise matmul(gate) into
// out, matmul(up) into up_scratch ([m, inter], like out), then the activation in place.
Status gated_matmul(const Tensor& x, const Tensor& w, const Tensor& bias, GatedAct act,
                    Tensor& up_scratch, Tensor& out);

// --- Fused batch-1 decode ops: fewer kernels per layer (issue #7) ---------------------------
// Each equals the composition of the ops named in its comment (which is what the CPU runs, and
// what CUDA runs when the fused kernel does not apply), up to f32 accumulation order.

// Up to this many rows of x, matmul and the fused projections run our GEMV
// (kernels/cuda/gemv.h) on CUDA instead of cuBLASLt: the CUDA-core kernel up to 2 rows, the
// tensor-core one above (see cuda_ops.cpp for the measurements).
inline constexpr int64_t kGemvMaxBatch = 8;
// Up to this many rows the GEMV also folds in the RMSNorm and the residual add of the ops below
// (kernels::cuda::kGemvNormMaxM).
inline constexpr int64_t kFusedDecodeMaxBatch = 2;

// True when x (the activations of a projection) is on CUDA with at most kFusedDecodeMaxBatch
// rows: there the ops below run as single GEMV launches with the norm / residual folded in.
// Layers use the fused ops only then (elsewhere the composition is one launch more than the
// unfused path's add_rms_norm).
bool fused_decode_path(const Tensor& x);

// The RMSNorm a projection applies to its input first: the projection's input is
// rms_norm(x, weight, eps). normed ([n_tokens, hidden], like x) receives it only on the
// unfused path (the fused GEMV recomputes each row's sum of squares and never stores it).
struct NormedInput {
  const Tensor& x;       // [n_tokens, hidden]
  const Tensor& weight;  // [hidden]
  float eps = 1e-6f;
  Tensor& normed;  // [n_tokens, hidden] scratch
};

// rms_norm(in.x, in.weight, in.eps, in.normed) then matmul_split(in.normed, w, bias, outs).
Status rms_norm_matmul_split(const NormedInput& in, const Tensor& w, const Tensor& bias,
                             std::initializer_list<Tensor*> outs);

// rms_norm(in.x, in.weight, in.eps, in.normed) then gated_matmul(in.normed, w, bias, act,
// up_scratch, out).
Status rms_norm_gated_matmul(const NormedInput& in, const Tensor& w, const Tensor& bias,
                             GatedAct act, Tensor& up_scratch, Tensor& out);

// residual += x · w^T + bias: matmul(x, w, bias, scratch) then add(residual, scratch), so on
// CUDA the product is rounded to the activation dtype before the add (the rounding of
// add_rms_norm's residual). residual, scratch: [m, n]; scratch is written on the unfused path
// only.
Status matmul_add(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& scratch,
                  Tensor& residual);

// out = silu(gate) * up.  gate, up, out: [n_tokens, inter] f32 (out may alias gate).
Status silu_mul(const Tensor& gate, const Tensor& up, Tensor& out);
// out = gelu(gate) * up, exact erf GELU or the tanh approximation.
Status gelu_mul(const Tensor& gate, const Tensor& up, bool tanh_approx, Tensor& out);
// In-place GELU (erf or tanh approximation) over any f32 tensor.
Status gelu(Tensor& x, bool tanh_approx);

// Row-wise softmax in place over the last dimension. x: [rows, cols] f32.
Status softmax(Tensor& x);

// --- Rotary position embedding -------------------------------------------------------------
enum class RopeScaling { none, linear, dynamic_ntk, llama3, longrope };

struct RopeConfig {
  int rotary_dim = 0;      // dims rotated per head (== head_dim unless partial rotary)
  double theta = 10000.0;  // rope_theta
  RopeScaling scaling = RopeScaling::none;
  double factor = 1.0;                // rope_scaling.factor
  int64_t original_max_position = 0;  // max_position_embeddings (dynamic) or
                                      // rope_scaling.original_max_position_embeddings (llama3)
  double low_freq_factor = 1.0;       // llama3
  double high_freq_factor = 4.0;      // llama3
  bool interleaved = false;           // false: rotate halves (HF rotate_half, "neox");
                                      // true: rotate adjacent pairs (GPT-J / ChatGLM / Cohere)
  // longrope (Phi-3 "su"/"longrope"): per-frequency divisors [rotary_dim/2], short_factor
  // for sequences of at most original_max_position tokens, long_factor beyond.
  std::vector<float> short_factor, long_factor;
  // cos and sin are multiplied by this (HF attention_scaling; longrope's attention_factor).
  double attention_factor = 1.0;
};

// inv_freq[i] for i in [0, rotary_dim/2) exactly as HF computes it (transformers'
// modeling_rope_utils), for a sequence whose longest position so far is `seq_len`
// (dynamic NTK rescales theta only when seq_len > original_max_position; longrope divides by
// long_factor when seq_len > original_max_position, else by short_factor).
std::vector<float> rope_inv_freq(const RopeConfig& cfg, int64_t seq_len);

// Rotates q and k in place. q: [n_tokens, n_heads, head_dim]; k: [n_tokens, n_kv_heads,
// head_dim] (f32); positions: [n_tokens] i32; inv_freq: [rotary_dim/2]. Only the first
// rotary_dim dims of each head rotate; cos/sin are computed in f32 as HF does
// (freqs = position * inv_freq; emb = cat(freqs, freqs); cos(emb), sin(emb)), both scaled
// by cfg.attention_factor.
Status rope(Tensor& q, Tensor& k, const Tensor& positions, const std::vector<float>& inv_freq,
            const RopeConfig& cfg);

// Qwen v1 use_logn_attn: q[t] *= log(positions[t] + 1) / log(seq_length) when
// positions[t] + 1 > seq_length (factor computed in f64, rounded to f32), in place.
// q: [n_tokens, ...] f32; positions: [n_tokens] i32; seq_length > 1.
Status logn_scale(Tensor& q, const Tensor& positions, int64_t seq_length);

// --- KV cache and attention over token slots (Token Attention, DESIGN.md §3) ---------------

// One layer's view of the KV pool. k, v: [n_slots, n_kv_heads, head_dim] stored as f32, bf16,
// f16, or i8; for i8, k_scale / v_scale: [n_slots, n_kv_heads] f32 hold one symmetric scale
// per token per head (value = int8 * scale), written by store_kv, read inside attention.
struct KvCacheView {
  Tensor k, v;
  Tensor k_scale, v_scale;  // only for i8 storage
};

// cache.k[slots[t]] = k[t]; cache.v[slots[t]] = v[t] (quantized for i8 / rounded for 16-bit).
// k, v: [n_tokens, n_kv_heads, head_dim] f32; slots: [n_tokens] i32.
Status store_kv(const Tensor& k, const Tensor& v, const Tensor& slots, KvCacheView& cache);

// rope(q, k, positions, inv_freq, cfg) then store_kv(k, v, slots, cache): q and k rotated in
// place, then the rotated k and v written to their slots. One launch on CUDA.
struct RopeStoreKv {
  Tensor& q;                // [n_tokens, n_heads, head_dim]
  Tensor& k;                // [n_tokens, n_kv_heads, head_dim]
  Tensor& v;                // [n_tokens, n_kv_heads, head_dim] (read only here)
  const Tensor& positions;  // [n_tokens] i32
  const std::vector<float>& inv_freq;
  const RopeConfig& cfg;
  const Tensor& slots;  // [n_tokens] i32
  KvCacheView& cache;
};
Status rope_store_kv(const RopeStoreKv& a);

// The attention's QKV projection with rotary and the KV store (the decode layer's first
// launch): matmul_split(x, w, bias, {q, k, v}) — with norm: rms_norm_matmul_split(*norm, ...) —
// on the [n_tokens, heads · head_dim] views of rope.q, rope.k and rope.v, then
// rope_store_kv(rope). On CUDA one GEMV launch where that is exact (at most
// kFusedDecodeMaxBatch tokens, rotate_half over the whole head, a 16-bit KV cache, the GEMV's
// shapes), bit for bit the two ops; else the two ops.
struct AttentionMeta;
struct QkvRopeStoreKv {
  const Tensor& x;          // [n_tokens, hidden] (with norm: norm->normed, the scratch)
  const NormedInput* norm;  // the RMSNorm prologue, or nullptr
  const Tensor& w;          // [(n_heads + 2 n_kv_heads) · head_dim, hidden]: q, k, v rows
  const Tensor& bias;       // [w.dim(0)] or undefined
  const RopeStoreKv& rope;  // q, k, v: the projection's outputs, then rotated and stored
  // The attention that reads q and the cache next, or nullptr. On CUDA a small decode grid is
  // then scheduled at the projection's start (docs/PERFORMANCE.md run 27).
  const AttentionMeta* next_attention = nullptr;
};
Status qkv_rope_store_kv(const QkvRopeStoreKv& a);

// Where each request's tokens sit in the flat batch and in the KV pool. Built once per step
// by the runner and shared by every layer (plan once, run per layer).
struct AttentionMeta {
  // Request r owns query rows [q_start[r], q_start[r+1]) of the flat batch. Those are the
  // LAST q_len tokens of its sequence, whose total length (cached + new) is kv_len[r]; so
  // query row i of r sits at position kv_len[r] - q_len + (i - q_start[r]).
  const int32_t* q_start = nullptr;       // [n_reqs + 1]
  const int32_t* kv_len = nullptr;        // [n_reqs]
  const int32_t* req_row = nullptr;       // [n_reqs] row of req_to_token
  const int32_t* req_to_token = nullptr;  // [max_reqs, max_len] slot of each position
  int64_t req_to_token_stride = 0;        // max_len
  int32_t n_reqs = 0;
  int32_t sliding_window = 0;           // 0 = none; else attend to the last W positions
  float scale = 0.0f;                   // softmax scale, usually 1/sqrt(head_dim)
  const float* alibi_slopes = nullptr;  // [n_heads] or null; adds slope * (key_pos - query_pos)
                                        // (CUDA: device memory, f32)

  // CUDA only: the same arrays in device memory, copied once per step by the model's step
  // staging. The host pointers above stay valid (checks, per-request rope, kernel choice).
  // req_to_token on the device holds only this step's requests, so req_row may differ.
  struct Device {
    const int32_t* q_start = nullptr;       // [n_reqs + 1]
    const int32_t* kv_len = nullptr;        // [n_reqs]
    const int32_t* req_row = nullptr;       // [n_reqs] row of the device req_to_token
    const int32_t* req_to_token = nullptr;  // [rows, req_to_token_stride]
    int64_t req_to_token_stride = 0;
    int32_t max_q_len = 0;   // longest q_len of the step
    int32_t max_kv_len = 0;  // longest kv_len of the step (an upper bound is allowed)
    // Scratch for the decode kernel's partial results, owned by the caller (CUDA graphs own
    // theirs: a captured graph must keep its addresses); null = the thread's own buffer.
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
  } device;
};

// Causal attention with GQA/MQA over the padding-free batch, reading K/V through
// req_to_token. q: [n_tokens, n_heads, head_dim] f32; out: [n_tokens, n_heads, head_dim] f32.
// n_heads % n_kv_heads == 0; query head h reads kv head h / (n_heads / n_kv_heads).
// CUDA (without a sliding window): the leading requests with q_len == 1 (the router puts
// decode rows first) run the split-K decode kernel, the rest the FlashAttention-2 prefill
// kernel, so a mixed step is two launches; with a sliding window every row runs the prefill
// kernel. Both take i8 KV and ALiBi.
Status attention(const Tensor& q, const KvCacheView& cache, const AttentionMeta& meta, Tensor& out);

// Bytes of AttentionMeta::Device::workspace the CUDA decode kernel needs for a decode step of
// n_reqs requests with kv lengths up to max_kv_len (0 without the CUDA backend).
size_t decode_attention_workspace_bytes(int n_reqs, int n_heads, int n_kv_heads, int head_dim,
                                        int max_kv_len);

// --- Device placement -----------------------------------------------------------------------

// True when this build has the CUDA backend (LIGHTLLM_CUDA).
bool cuda_built();
// Sets the calling thread's current CUDA stream (a cudaStream_t; nullptr = the default stream).
// The stream belongs to the thread's current device (set_cuda_device).
void set_cuda_stream(void* stream);
// The calling thread's current CUDA stream on its current device (nullptr = default stream).
void* cuda_stream();
// Makes `device` the calling thread's CUDA device (cudaSetDevice). The CUDA op state (stream,
// cuBLASLt handle, workspaces) is per thread and per device, so a thread that switches devices
// finds each device's own state. A thread that never calls this uses the device CUDA reports
// when it first runs an op (device 0 by default).
Status set_cuda_device(int device);
// Number of visible CUDA devices (0 without the CUDA backend or a driver).
int cuda_device_count();
// Waits for the calling thread's current stream.
Status cuda_synchronize();
// Free and total memory of the current CUDA device.
Status cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes);
// Name of the current CUDA device ("NVIDIA H100 80GB HBM3", ...).
core::Result<std::string> cuda_device_name();
// Device-to-device copy bandwidth of the current CUDA device, bytes/s read + written (median
// of `repeats` copies of `bytes`; see backend::cuda::copy_bandwidth).
core::Result<double> cuda_copy_bandwidth(int64_t bytes, int repeats);
// Failed device allocations in this process so far (0 without CUDA): lets a caller tell that an
// error surfacing in a later op came from device memory running out.
uint64_t device_alloc_failures();

// A new zero-filled host tensor in page-locked memory (cudaHostAlloc) when the CUDA backend
// is built, so device->host copies into it can be asynchronous; else Tensor::empty.
core::Result<Tensor> empty_pinned(const core::Shape& shape, core::DType dtype);
// A new zero-filled page-locked host buffer that the device reads and writes in place
// (cudaHostAllocMapped): `host` and `device` are two views of the same bytes (Device::cpu /
// Device::cuda), freed with the last copy of either. Kernel results written there need no copy
// to reach the host: they are visible once a StreamMark recorded after the kernel has passed.
// Meant for a few bytes per step (every device access crosses the bus).
struct MappedTensor {
  Tensor host, device;
};
core::Result<MappedTensor> empty_mapped(const core::Shape& shape, core::DType dtype);
// A new zero-filled tensor on `device` (CPU: Tensor::empty; CUDA: cudaMalloc, freed with the
// last copy of the tensor).
core::Result<Tensor> empty_on(core::Device device, const core::Shape& shape, core::DType dtype);
// `t` (any device) on `device` in `dtype`: a copy, except that a host tensor already in
// `dtype` asked for on the host is returned as is. Float conversions (f32/bf16/f16 to
// f32/bf16/f16) round to nearest even on the host; other dtypes must match.
core::Result<Tensor> to_device(const Tensor& t, core::Device device, core::DType dtype);
// dst (host, f32) = src (any device; f32, bf16 or f16) converted; same numel. Synchronous.
Status copy_to_host_f32(const Tensor& src, Tensor& dst);
// dst (host) = src (any device), same dtype and numel, no conversion (ids, f32 results).
// Waits for the current stream.
Status copy_to_host(const Tensor& src, Tensor& dst);
// dst (device) = src (host), same dtype and numel, on the current stream (the host buffer may
// be reused as soon as this returns).
Status copy_to_device(const Tensor& src, Tensor& dst);
// dst (host) = src (device), same dtype and numel, queued on the current stream and NOT waited
// for: dst must be page-locked (empty_pinned), and is valid once a StreamMark recorded after
// this call has been waited for. A host src is copied at once.
Status copy_to_host_async(const Tensor& src, Tensor& dst);

// A point in the calling thread's current CUDA stream (a CUDA event; move-only). The host can
// wait for the device to pass it, and two passed timed marks give the device time between
// them. An untimed mark (the default: cudaEventDisableTiming) costs the device less where it
// sits between two kernels (docs/PERFORMANCE.md run 23). Without the CUDA backend record() and
// wait() succeed at once and elapsed_ms_since() is 0.
class StreamMark {
 public:
  enum class Timing { off, on };
  StreamMark() = default;  // untimed
  explicit StreamMark(Timing timing);
  ~StreamMark();
  StreamMark(StreamMark&&) noexcept;
  StreamMark& operator=(StreamMark&&) noexcept;
  StreamMark(const StreamMark&) = delete;
  StreamMark& operator=(const StreamMark&) = delete;

  // Marks the current end of the current stream (creates the event on first use).
  Status record();
  // Marks, on a side stream of the calling thread's device, the moment the device passes `on`
  // (a recorded mark of the current stream), give or take a hand-off between streams: a timed
  // mark that puts no timed event between two kernels of the current stream (such an event
  // holds the second kernel back until the first completes; docs/PERFORMANCE.md run 23).
  Status record_after(const StreamMark& on);
  // Blocks the host until the device has passed the mark (ok if it was never recorded).
  Status wait() const;
  // Recorded and passed by the device (asks without blocking).
  bool passed() const;
  // Device milliseconds from `earlier` to this mark; both timed, recorded and passed.
  core::Result<float> elapsed_ms_since(const StreamMark& earlier) const;
  bool recorded() const { return recorded_; }
  // Back to unrecorded, keeping the event for the next record() (a mark reused step after step
  // creates its event once).
  void reset() { recorded_ = false; }

 private:
  Status record_on(void* stream);  // cudaStream_t

  Timing timing_ = Timing::off;
  void* event_ = nullptr;  // cudaEvent_t
  bool recorded_ = false;
};

// Page-locked host memory that the device reads a step's uploads from, in two buffers used by
// alternate uploads: mapped into the device (empty_mapped), so a kernel can read it in place
// (ops::upload_step), and a copy queued from it never blocks the host (from pageable memory the
// driver may first wait for the stream), which lets the runner queue step N+1 while step N
// runs. Before a buffer is rewritten the device must have read what was queued from it two
// uploads earlier: begin() waits for that (normally long passed). A buffer grows to the next
// power of two (at least 64 KiB) when an upload does not fit; the outgrown one is kept until
// the ring goes. Not thread-safe.
class UploadRing {
 public:
  // A buffer of n elements of `dtype`, free to fill through .host; the device reads .device.
  core::Result<MappedTensor> begin(int64_t n, core::DType dtype);
  // Call once the work that reads begin()'s buffer is queued on the current stream.
  Status end();

 private:
  struct Buffer {
    MappedTensor mem;  // bytes
    StreamMark read;   // passed when the work queued on `mem` has run
  };
  std::array<Buffer, 2> buffers_;
  // Outgrown buffers, freed with the ring: freeing page-locked memory waits for the whole
  // device (a 37 ms stall in a serving run, docs/PERFORMANCE.md run 23).
  std::vector<MappedTensor> retired_;
  int turn_ = 0;
};

}  // namespace lightllm::ops
