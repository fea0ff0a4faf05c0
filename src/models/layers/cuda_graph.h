// src/models/layers/cuda_graph.h — CUDA graphs for decode steps, for any decoder family.
//
// A decode-only step of n requests (one token each, logits for every row in order) is padded
// to the next captured batch size B >= n and its longest kv_len to a kv-length bucket K, and
// runs as one replay of the graph captured for (B, K). Everything the graph reads lives at
// fixed device addresses owned here:
//   inputs  i32 [InputLayout::total()]: ids | positions | slots | q_start | kv_len | req_row,
//           each with room for max_batch rows, the device token feed (2 x max_batch), then
//           req_to_token [max_batch + 1, stride] whose last row is the padding row (entry 0 =
//           the KV pool's scratch slot);
//   logits  f32 [max_batch, vocab]; the decode-attention partials; and a Workspace of
//           activations sized once for max_batch rows and then frozen.
// Per step the host validates and packs the inputs (pack_step's checks); one kernel
// (ops::upload_step, outside the graph) reads the header and the requests' req_to_token rows
// from page-locked memory into them and feeds the ids the batch takes from the device
// (StepBatch::device_feed); then the graph is launched and the n real logits rows go back
// (asynchronously into page-locked host logits, waited for by finish(), so the host can prepare
// the next step meanwhile; device logits are not copied, see start()). Padding rows feed token
// 0 at position 0, write their K/V to the scratch slot and attend to it alone (kv_len 1); their
// logits are ignored. A replay runs on the caller's current stream; binding and capture run on
// a stream owned here, ordered after and before the caller's stream by events.
//
// Capture is lazy: the first step of a (B, K) runs the forward eagerly once on the graph
// stream (creating cuBLASLt plans, uploading rotary tables) and is then captured and replayed.
// Invariants: the graphs are tied to one KvStorage (another one drops them); the Workspace
// never reallocates after the first warm-up; bucket sizes and layout are pure functions of
// the options (tested on the CPU in tests/models/cuda_graph_test.cpp).
//
// A model uses them the same way whatever its family (LlamaModel, the generic DecoderModel):
// set_cuda_graphs() calls configure_for_model() with its attention shape; its forward is split
// into a capture-safe run_layers(staged batch, kv, ws, observer, attention) and the lm_head,
// which make its ModelStep; forward() and start_forward() run the steps accepts() takes through
// run() / start() after the host-side checks a graph cannot make.
//
// Rotary under graphs: a graph rotates every row with one table, so a step is accepted only when
// all its requests use the table the eager step gives each of them (graph_rope_table); the
// graph then runs the model with graph_attention(): the same rotary kernel and table, so each
// row rotates bit for bit as eagerly. Graphs are keyed by (batch, kv bucket, table).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/layers/attention.h"
#include "models/layers/step_staging.h"
#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models {

// Captured batch sizes, ascending, ending at max_batch: 1, 2, 4, 8, 16, 24, 32, 48, 64, 96,
// 128, then steps of 64, each kept only while < max_batch. Empty for max_batch <= 0.
std::vector<int> graph_batch_sizes(int max_batch);
// The smallest size in `sizes` >= n, or 0 when there is none.
int graph_padded_batch(const std::vector<int>& sizes, int n);
// The kv-length bucket of a step whose longest kv_len is `max_kv`: the smallest power of two
// >= max(max_kv, kMinKvBucket), capped at `limit`; 0 when max_kv > limit.
inline constexpr int kMinKvBucket = 256;
int graph_kv_bucket(int max_kv, int limit);

// Offsets (i32 elements) of the fixed input buffer for `max_batch` rows and req_to_token
// `stride` columns.
struct InputLayout {
  int max_batch = 0;
  int stride = 0;
  int64_t ids() const { return 0; }
  int64_t positions() const { return max_batch; }
  int64_t slots() const { return 2 * int64_t{max_batch}; }
  int64_t q_start() const { return 3 * int64_t{max_batch}; }  // max_batch + 1 entries
  int64_t kv_len() const { return 4 * int64_t{max_batch} + 1; }
  int64_t req_row() const { return 5 * int64_t{max_batch} + 1; }
  int64_t feed() const { return 6 * int64_t{max_batch} + 1; }  // [2, n_feed], n_feed <= max_batch
  int64_t header_size() const { return 8 * int64_t{max_batch} + 1; }
  int64_t req_to_token() const { return (header_size() + 63) / 64 * 64; }  // 256-byte aligned
  int64_t padding_row() const { return max_batch; }
  int64_t total() const { return req_to_token() + int64_t{max_batch + 1} * stride; }
};

// True for a step a graph can run: n_reqs >= 1, every request feeds one token, n_tokens ==
// n_reqs and logit_rows == [0, n_reqs).
bool is_graph_decode_step(const StepBatch& batch);

// The host side of one replay. header: [layout.header_size()] in the graph layout, padded to
// `padded` rows (padding: id 0, position 0, slot `scratch_slot`, kv_len 1, req_row = the
// padding row; q_start[r] = r for all r <= padded; the feed rows then sources as
// [2, packed.n_feed] at feed()). The requests' req_to_token rows stay in
// `staging` as pack_step left them: [packed.n_reqs, packed.stride] at packed.off_r2t.
struct PackedDecode {
  PackedStep packed;
  int padded = 0;
  std::vector<int32_t> header;
};
Status pack_graph_decode(const StepBatch& batch, const InputLayout& layout, int padded,
                         int64_t vocab, int64_t kv_capacity, int64_t scratch_slot,
                         std::vector<int32_t>& staging, PackedDecode& out);

// What the graphs need to know about the model.
struct DecodeGraphShape {
  int64_t vocab = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  core::DType act_dtype = core::DType::bf16;
};

// Why decode steps of a model with attention `attn` must run eagerly, or "" when a graph can
// run them. Each reason is a per-step host decision or work a graph does not hold:
//  - a tensor-parallel shard: its collectives and gathered logits are not captured;
//  - a family position step (AttentionShape::position_fn, Qwen v1): host state per request row
//    (its NTK alpha) and per-request rotary launches at host offsets.
// (Dynamic NTK and longrope are not excluded: graph_rope_table decides per step.)
std::string graph_exclusion(const layers::AttentionShape& attn, bool tensor_parallel);

// The rotary table every request of a decode step uses, as the eager step chooses it per
// request (layers/attention.cpp):
//  base   — attn.inv_freq: rotary without per-request scaling (none, linear, llama3), no rotary
//           (ALiBi, learned positions), dynamic NTK with every kv_len within
//           original_max_position (rope_inv_freq is the unscaled table there), longrope with
//           every kv_len within original_max_position (short factors);
//  longer — attn.inv_freq_long: longrope with every kv_len beyond original_max_position;
//  mixed  — anything else: requests on both sides of original_max_position, or dynamic NTK
//           beyond it (each request's table then depends on its own kv_len). Runs eagerly.
enum class GraphRope : int { mixed = -1, base = 0, longer = 1 };
GraphRope graph_rope_table(const layers::AttentionShape& attn, const StepBatch& batch);
// `attn` rotating every row with table `table` (base or longer) in one rotary launch: the
// per-request scaling (dynamic NTK, longrope) becomes none with that table as inv_freq; other
// shapes come back unchanged.
layers::AttentionShape graph_attention(const layers::AttentionShape& attn, GraphRope table);

class DecodeGraphs {
 public:
  // A model's decode step: `run_layers` runs the embedding, every layer (attention as `attn`
  // says) and the final norm over a staged batch (device index arrays, n_tokens == n_reqs rows)
  // in `ws`, returning the normed hidden states [n_tokens, hidden]; then the logits of every row
  // are lm_head [vocab, hidden] times them. run_layers must be capture-safe: no host branches on
  // per-step values.
  using RunLayers = std::function<Result<Tensor>(const StepBatch& staged, Workspace& ws,
                                                 const layers::AttentionShape& attn)>;
  struct ModelStep {
    RunLayers run_layers;
    Tensor lm_head;
  };

  DecodeGraphs();
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // Drops every graph and buffer; graphs are on when opts.max_batch > 0 and the build has CUDA.
  // Rotary as for a model without per-request tables.
  void configure(const CudaGraphOptions& opts, const DecodeGraphShape& shape);
  // A model's set_cuda_graphs(): configure() for a model on `device` (graphs need CUDA) whose
  // attention is `attn`, with opts.max_kv_len <= 0 meaning `max_context`. A model that
  // graph_exclusion() excludes keeps graphs off although requested: it is logged once and every
  // step of such a model counts as eager in the stats.
  void configure_for_model(const CudaGraphOptions& opts, core::Device device, int64_t max_context,
                           const DecodeGraphShape& shape, const layers::AttentionShape& attn,
                           bool tensor_parallel);
  bool enabled() const;

  // True when `batch` on `kv` runs from a graph: enabled, kv has a scratch slot, a graph
  // decode step of at most max_batch requests whose kv lengths fit the stride, and one rotary
  // table for all of them (graph_rope_table).
  bool accepts(const StepBatch& batch, const KvStorage& kv) const;
  // Runs an accepted step; logits: [n_reqs, vocab] f32 on the host (or on the device).
  Status run(const StepBatch& batch, KvStorage& kv, const ModelStep& step, Tensor& logits);
  // The same in two halves: start() queues the step and returns without waiting when
  // `logits` is page-locked (ops::empty_pinned; the copy back is then asynchronous too);
  // finish() waits for the logits. `logits` must stay untouched in between, and every start()
  // is followed by its finish() before the next start(). Device `logits` (device sampling) are
  // not copied: start() points `logits` at the graph's own rows, which work queued after it on
  // the same stream may read and change, until the next start() (a device-to-device copy
  // between the graph and the sampling kernel cost ~1.4 us and a switch at batch 1).
  Status start(const StepBatch& batch, KvStorage& kv, const ModelStep& step, Tensor& logits);
  Status finish();

  // Counts an eager step taken while graphs are enabled, or requested but excluded or turned
  // off by a failed capture (for the stats).
  void note_eager_step();
  CudaGraphStats stats() const;

 private:
  // The captured work: the model's step over a staged batch into f32 logits [n_tokens, vocab]
  // (device), for one rotary table.
  using Body = std::function<Status(const StepBatch& staged, Workspace& ws, Tensor& logits)>;
  // start() and run(): device logits become a view of the graph's rows when `alias_device`.
  Status start_step(const StepBatch& batch, KvStorage& kv, const ModelStep& step, Tensor& logits,
                    bool alias_device);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightllm::models
