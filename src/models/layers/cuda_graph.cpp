// src/models/layers/cuda_graph.cpp — decode-step CUDA graphs (see cuda_graph.h). The bucket,
// layout and packing functions are plain host code; the capture and replay parts need the
// CUDA backend (LIGHTLLM_CUDA) and otherwise leave graphs disabled.
#include "models/layers/cuda_graph.h"

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <optional>
#include <tuple>
#include <utility>

#include "core/log.h"
#include "ops/ops.h"

#if LIGHTLLM_CUDA
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/graph.h"
#include "backend/cuda/stream.h"
#endif

namespace lightllm::models {

std::vector<int> graph_batch_sizes(int max_batch) {
  std::vector<int> sizes;
  if (max_batch <= 0) return sizes;
  for (int b : {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128})
    if (b < max_batch) sizes.push_back(b);
  for (int b = 192; b < max_batch; b += 64) sizes.push_back(b);
  sizes.push_back(max_batch);
  return sizes;
}

int graph_padded_batch(const std::vector<int>& sizes, int n) {
  auto it = std::lower_bound(sizes.begin(), sizes.end(), n);
  return it == sizes.end() ? 0 : *it;
}

int graph_kv_bucket(int max_kv, int limit) {
  if (max_kv > limit || limit <= 0) return 0;
  int64_t b = kMinKvBucket;
  while (b < max_kv) b *= 2;
  return static_cast<int>(std::min<int64_t>(b, limit));
}

bool is_graph_decode_step(const StepBatch& batch) {
  const ops::AttentionMeta& m = batch.attn;
  if (m.n_reqs < 1 || batch.n_tokens() != m.n_reqs || m.q_start == nullptr) return false;
  if (static_cast<int64_t>(batch.logit_rows.size()) != m.n_reqs) return false;
  for (int32_t r = 0; r < m.n_reqs; ++r) {
    if (m.q_start[r + 1] - m.q_start[r] != 1) return false;
    if (batch.logit_rows[static_cast<size_t>(r)] != r) return false;
  }
  return true;
}

std::string graph_exclusion(const layers::AttentionShape& attn, bool tensor_parallel) {
  if (tensor_parallel) return "a tensor-parallel shard (collectives are not captured)";
  if (attn.position_fn) return "the family's position step keeps host state per request";
  return "";
}

GraphRope graph_rope_table(const layers::AttentionShape& attn, const StepBatch& batch) {
  if (attn.position_fn) return GraphRope::mixed;  // the family decides per request
  const ops::RopeScaling rs = attn.rope.scaling;
  const bool dynamic = rs == ops::RopeScaling::dynamic_ntk;
  if (!attn.use_rope || (!dynamic && rs != ops::RopeScaling::longrope)) return GraphRope::base;
  // As layers/attention.cpp apply_rope: a request is beyond the trained length when its kv_len
  // exceeds original_max_position (dynamic NTK rescales only then, and only when it is > 0).
  const int64_t limit = attn.rope.original_max_position;
  if (dynamic && limit <= 0) return GraphRope::base;
  int32_t beyond = 0;
  for (int32_t r = 0; r < batch.attn.n_reqs; ++r) beyond += batch.attn.kv_len[r] > limit ? 1 : 0;
  if (beyond == 0) return GraphRope::base;
  return !dynamic && beyond == batch.attn.n_reqs ? GraphRope::longer : GraphRope::mixed;
}

layers::AttentionShape graph_attention(const layers::AttentionShape& attn, GraphRope table) {
  layers::AttentionShape a = attn;
  const ops::RopeScaling rs = attn.rope.scaling;
  if (rs != ops::RopeScaling::dynamic_ntk && rs != ops::RopeScaling::longrope) return a;
  a.rope.scaling = ops::RopeScaling::none;  // one launch over every row with the chosen table
  if (table == GraphRope::longer && rs == ops::RopeScaling::longrope) a.inv_freq = a.inv_freq_long;
  a.inv_freq_long.clear();
  return a;
}

Status pack_graph_decode(const StepBatch& batch, const InputLayout& layout, int padded,
                         int64_t vocab, int64_t kv_capacity, int64_t scratch_slot,
                         std::vector<int32_t>& staging, PackedDecode& out) {
  const int32_t n = batch.attn.n_reqs;
  if (n != 0 && !is_graph_decode_step(batch))
    return core::invalid_argument(
        "graph step: not a decode step (one token and logits per request)");
  if (padded < n || padded > layout.max_batch)
    return core::invalid_argument("graph step: {} requests padded to {} (graph capacity {})", n,
                                  padded, layout.max_batch);
  if (scratch_slot < 0 || scratch_slot >= kv_capacity)
    return core::invalid_argument("graph step: scratch slot {} is outside the KV pool [0, {})",
                                  scratch_slot, kv_capacity);
  LLM_ASSIGN_OR_RETURN(out.packed, pack_step(batch, vocab, kv_capacity, staging));
  const PackedStep& p = out.packed;
  if (p.max_kv_len > layout.stride)
    return core::invalid_argument("graph step: kv_len {} exceeds the graph stride {}", p.max_kv_len,
                                  layout.stride);
  out.padded = padded;
  std::vector<int32_t>& h = out.header;
  h.assign(static_cast<size_t>(layout.header_size()), 0);
  auto at = [&](int64_t off, int64_t r) -> int32_t& { return h[static_cast<size_t>(off + r)]; };
  for (int32_t r = 0; r < n; ++r) {
    at(layout.ids(), r) = staging[static_cast<size_t>(r)];
    at(layout.positions(), r) = staging[static_cast<size_t>(p.off_pos + r)];
    at(layout.slots(), r) = staging[static_cast<size_t>(p.off_slots + r)];
    at(layout.kv_len(), r) = staging[static_cast<size_t>(p.off_kv + r)];
    at(layout.req_row(), r) = r;
  }
  for (int32_t r = n; r < padded; ++r) {
    at(layout.ids(), r) = 0;
    at(layout.positions(), r) = 0;
    at(layout.slots(), r) = static_cast<int32_t>(scratch_slot);
    at(layout.kv_len(), r) = 1;
    at(layout.req_row(), r) = static_cast<int32_t>(layout.padding_row());
  }
  for (int32_t r = 0; r <= padded; ++r) at(layout.q_start(), r) = r;
  const auto feed = staging.begin() + p.off_feed;  // [2, n_feed], copied as is
  std::copy(feed, feed + 2 * p.n_feed, h.begin() + layout.feed());
  return {};
}

struct DecodeGraphs::Impl {
  CudaGraphOptions opts;
  DecodeGraphShape shape;
  std::vector<int> sizes;
  InputLayout layout;
  bool enabled = false;
  bool counting = false;  // eager steps count in the stats (graphs requested for this model)
  CudaGraphStats stats;
  layers::AttentionShape model_attn;                // the model's, for graph_rope_table
  std::array<layers::AttentionShape, 2> rope_attn;  // graph_attention per GraphRope table
  std::vector<int32_t> staging;  // pack_step's compact arrays (req_to_token rows)
  PackedDecode packed;

#if LIGHTLLM_CUDA
  backend::cuda::Stream stream;
  backend::cuda::Event before, after;  // orders the graph stream after / before the caller's
  backend::cuda::Event done;           // the logits copy of a started step
  bool pending = false;                // a started step's logits are still being copied
  Tensor inputs;                       // i32 [layout.total()]
  Tensor logits;                       // f32 [max_batch, vocab]
  Tensor decode_ws;                    // i8 [bytes] decode-attention partials
  Workspace ws;                        // activations; frozen after the first warm-up
  bool warmed = false;
  const void* kv_key = nullptr;  // the KvStorage the graphs were captured on
  std::map<std::tuple<int, int, int>, backend::cuda::Graph> graphs;  // (batch, kv bucket, table)

  // Switches the thread's ops stream to the graph stream for one step, ordered after the
  // work already on the caller's stream; on exit orders the caller's stream after it.
  class StreamScope {
   public:
    explicit StreamScope(Impl& g) : g_(g), prev_(ops::cuda_stream()) {}
    Status enter() {
      LLM_RETURN_IF_ERROR(g_.before.record(static_cast<cudaStream_t>(prev_)));
      LLM_RETURN_IF_ERROR(g_.before.wait_on(g_.stream.get()));
      ops::set_cuda_stream(g_.stream.get());
      entered_ = true;
      return {};
    }
    ~StreamScope() {
      if (!entered_) return;
      ops::set_cuda_stream(prev_);
      if (!g_.after.record(g_.stream.get()).ok() ||
          !g_.after.wait_on(static_cast<cudaStream_t>(prev_)).ok())
        LLM_ERROR("CUDA graphs: ordering the caller's stream after the graph stream failed");
    }

   private:
    Impl& g_;
    void* prev_;
    bool entered_ = false;
  };

  Status allocate() {
    LLM_ASSIGN_OR_RETURN(stream, backend::cuda::Stream::create());
    LLM_ASSIGN_OR_RETURN(before, backend::cuda::Event::create(/*timing=*/false));
    LLM_ASSIGN_OR_RETURN(after, backend::cuda::Event::create(/*timing=*/false));
    LLM_ASSIGN_OR_RETURN(done, backend::cuda::Event::create(/*timing=*/false));
    LLM_ASSIGN_OR_RETURN(inputs,
                         ops::empty_on(core::Device::cuda, {layout.total()}, core::DType::i32));
    LLM_ASSIGN_OR_RETURN(logits, ops::empty_on(core::Device::cuda, {layout.max_batch, shape.vocab},
                                               core::DType::f32));
    size_t ws_bytes = 0;
    for (int b : sizes)
      for (int k = graph_kv_bucket(1, layout.stride); k > 0;
           k = k == layout.stride ? 0 : graph_kv_bucket(k + 1, layout.stride))
        ws_bytes = std::max(ws_bytes, ops::decode_attention_workspace_bytes(
                                          b, shape.n_heads, shape.n_kv_heads, shape.head_dim, k));
    LLM_ASSIGN_OR_RETURN(
        decode_ws,
        ops::empty_on(core::Device::cuda, {static_cast<int64_t>(ws_bytes)}, core::DType::i8));
    ws.set_device(core::Device::cuda, shape.act_dtype);
    return {};
  }

  // The staged batch the body sees for `padded` rows and kv bucket `kv_bucket`: views of the
  // fixed input buffer (device) and of packed.header (host).
  StepBatch staged(const StepBatch& host, int padded, int kv_bucket) {
    int32_t* d = inputs.data<int32_t>();
    auto view = [&](int64_t off) {
      return Tensor::view(d + off, {padded}, core::DType::i32, core::Device::cuda);
    };
    StepBatch s;
    s.token_ids = view(layout.ids());
    s.positions = view(layout.positions());
    s.out_slots = view(layout.slots());
    s.attn.sliding_window = host.attn.sliding_window;
    s.attn.scale = host.attn.scale;
    s.attn.alibi_slopes = host.attn.alibi_slopes;
    s.attn.n_reqs = padded;
    const int32_t* h = packed.header.data();
    s.attn.q_start = h + layout.q_start();
    s.attn.kv_len = h + layout.kv_len();
    s.attn.req_row = h + layout.req_row();
    s.attn.req_to_token = nullptr;  // the compacted rows live on the device only
    s.attn.req_to_token_stride = layout.stride;
    s.attn.device = {.q_start = d + layout.q_start(),
                     .kv_len = d + layout.kv_len(),
                     .req_row = d + layout.req_row(),
                     .req_to_token = d + layout.req_to_token(),
                     .req_to_token_stride = layout.stride,
                     .max_q_len = 1,
                     .max_kv_len = kv_bucket,
                     .workspace = decode_ws.raw(),
                     .workspace_bytes = decode_ws.nbytes()};
    s.logit_rows.resize(static_cast<size_t>(padded));
    std::iota(s.logit_rows.begin(), s.logit_rows.end(), 0);
    s.max_seq_len = kv_bucket;
    return s;
  }

  // Uploads packed.header and the requests' req_to_token rows into the input buffer and feeds
  // the ids `feed` takes from the device, in one kernel that reads ws's UploadRing in place
  // (ops::upload_step): a copy op between the sampling kernel and the graph left the device
  // idle several us at batch 1 (docs/PERFORMANCE.md runs 22-23).
  Status upload(const DeviceTokenFeed& feed) {
    const PackedStep& p = packed.packed;
    const int64_t header_n = layout.header_size(), rows_n = int64_t{p.n_reqs} * p.stride;
    LLM_ASSIGN_OR_RETURN(ops::MappedTensor host,
                         ws.upload_ring().begin(header_n + rows_n, core::DType::i32));
    int32_t* h = host.host.data<int32_t>();
    std::copy(packed.header.begin(), packed.header.end(), h);
    std::copy_n(staging.begin() + p.off_r2t, rows_n, h + header_n);
    int32_t* in = inputs.data<int32_t>();
    LLM_RETURN_IF_ERROR(ops::upload_step(
        {.src = host.device,
         .dst = Tensor::view(in, {header_n}, core::DType::i32, core::Device::cuda),
         .dst_rows = Tensor::view(in + layout.req_to_token(), {layout.max_batch + 1, layout.stride},
                                  core::DType::i32, core::Device::cuda),
         .rows = p.n_reqs,
         .row_len = p.stride,
         .n_ids = packed.padded,
         .feed_at = layout.feed(),
         .n_feed = p.n_feed,
         .sampled = feed.sampled}));
    return ws.upload_ring().end();
  }

  // First use on `kv`: drops graphs of another pool, writes the padding row, and (once) runs
  // an all-padding max_batch step eagerly to size the workspace, then freezes it.
  Status bind(const StepBatch& host, KvStorage& kv, const Body& body) {
    graphs.clear();
    kv_key = kv.layers.front().k.raw();
    int32_t scratch = static_cast<int32_t>(kv.scratch_slot);
    Tensor one_host = Tensor::view(&scratch, {1}, core::DType::i32);
    Tensor one_dev = Tensor::view(
        inputs.data<int32_t>() + layout.req_to_token() + layout.padding_row() * layout.stride, {1},
        core::DType::i32, core::Device::cuda);
    LLM_RETURN_IF_ERROR(ops::copy_to_device(one_host, one_dev));
    if (warmed) return {};
    StepBatch none;
    none.attn = host.attn;
    none.attn.n_reqs = 0;
    none.logit_rows.clear();
    LLM_RETURN_IF_ERROR(pack_graph_decode(none, layout, layout.max_batch, shape.vocab, kv.capacity,
                                          kv.scratch_slot, staging, packed));
    LLM_RETURN_IF_ERROR(upload(none.device_feed));
    Tensor out = logits.rows(0, layout.max_batch);
    LLM_RETURN_IF_ERROR(body(staged(host, layout.max_batch, layout.stride), ws, out));
    ws.set_frozen(true);
    warmed = true;
    return {};
  }

  // logits rows [0, n) to `host`, on `s` (the ops stream of the moment): queued when it is
  // page-locked (finish() waits), else synchronous; a device tensor (device sampling) becomes a
  // view of the rows when `alias_device`, else gets a device copy; both ordered before the
  // caller's later work by `s` being the caller's stream or by the stream scope.
  Status copy_out(int n, Tensor& host, cudaStream_t s, bool alias_device) {
    Tensor rows = logits.rows(0, n);
    if (host.device() == core::Device::cuda) {  // device logits (device sampling)
      if (host.numel() != rows.numel() || host.dtype() != core::DType::f32)
        return core::invalid_argument("graph step: logits {} for {}", host.describe(),
                                      rows.describe());
      if (alias_device) {
        host = rows;
        return {};
      }
      return LLM_CUDA_CHECK(
          cudaMemcpyAsync(host.raw(), rows.raw(), rows.nbytes(), cudaMemcpyDeviceToDevice, s));
    }
    cudaPointerAttributes attr{};
    const bool pinned = cudaPointerGetAttributes(&attr, host.raw()) == cudaSuccess &&
                        attr.type == cudaMemoryTypeHost;
    cudaGetLastError();  // older runtimes report unregistered host memory as an error
    if (!pinned || host.numel() != rows.numel() || host.dtype() != core::DType::f32)
      return ops::copy_to_host_f32(rows, host);  // synchronizes s (the current stream)
    LLM_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(host.raw(), rows.raw(), rows.nbytes(), cudaMemcpyDeviceToHost, s));
    LLM_RETURN_IF_ERROR(done.record(s));
    pending = true;
    return {};
  }

  Status finish() {
    if (!pending) return {};
    pending = false;
    return done.synchronize();
  }

  Status start(const StepBatch& batch, KvStorage& kv, const Body& body, Tensor& logits_host,
               int table, bool alias_device) {
    if (pending) return core::internal_error("DecodeGraphs: start() before the last finish()");
    if (!inputs.defined()) LLM_RETURN_IF_ERROR(allocate());
    // A replay needs no stream of its own (capture does): its upload, graph and logits copy go
    // on the caller's stream, so the device passes from the last step's sampling to this step
    // without a hand-off between streams (a few us idle each; docs/PERFORMANCE.md run 22).
    std::optional<StreamScope> scope;
    auto enter_scope = [&]() -> Status {
      scope.emplace(*this);
      return scope->enter();
    };
    if (kv_key != kv.layers.front().k.raw()) {  // bind() warms up (and drops the graphs) there
      LLM_RETURN_IF_ERROR(enter_scope());
      LLM_RETURN_IF_ERROR(bind(batch, kv, body));
    }
    const int n = batch.attn.n_reqs;
    const int padded = graph_padded_batch(sizes, n);
    LLM_RETURN_IF_ERROR(pack_graph_decode(batch, layout, padded, shape.vocab, kv.capacity,
                                          kv.scratch_slot, staging, packed));
    const int kv_bucket = graph_kv_bucket(packed.packed.max_kv_len, layout.stride);
    auto it = graphs.find({padded, kv_bucket, table});
    if (it == graphs.end() && !scope) LLM_RETURN_IF_ERROR(enter_scope());
    const auto on = static_cast<cudaStream_t>(ops::cuda_stream());  // the graph's or the caller's
    LLM_RETURN_IF_ERROR(upload(batch.device_feed));
    Tensor out = logits.rows(0, padded);
    if (it == graphs.end()) {
      // Eager run of this shape first: it creates what capture may not (GEMM plans, rotary
      // tables) and computes this step's logits, which stand if the capture fails.
      const StepBatch s = staged(batch, padded, kv_bucket);
      LLM_RETURN_IF_ERROR(body(s, ws, out));
      auto graph = backend::cuda::Graph::capture(stream.get(), [&] { return body(s, ws, out); });
      if (!graph.ok()) {
        LLM_WARN("CUDA graphs turned off for this model: {}", graph.status().to_string());
        enabled = false;
        ++stats.eager_steps;
        return copy_out(n, logits_host, on, alias_device);
      }
      LLM_DEBUG(
          "CUDA graph captured for batch {} (of {} requests), kv bucket {}, rotary table {}: "
          "{} nodes",
          padded, n, kv_bucket, table, graph->node_count());
      it =
          graphs.emplace(std::make_tuple(padded, kv_bucket, table), std::move(graph).value()).first;
      ++stats.captured;
    }
    LLM_RETURN_IF_ERROR(it->second.launch(on));
    ++stats.replays;
    return copy_out(n, logits_host, on, alias_device);
  }
#else
  Status start(const StepBatch&, KvStorage&, const Body&, Tensor&, int, bool) {
    return core::unimplemented("CUDA graphs: this build has no CUDA backend");
  }
  Status finish() {
    return {};
  }
#endif
};

DecodeGraphs::DecodeGraphs() : impl_(std::make_unique<Impl>()) {}
DecodeGraphs::~DecodeGraphs() = default;

void DecodeGraphs::configure(const CudaGraphOptions& opts, const DecodeGraphShape& shape) {
  impl_ = std::make_unique<Impl>();
  Impl& g = *impl_;
  g.opts = opts;
  g.shape = shape;
  g.sizes = graph_batch_sizes(opts.max_batch);
  g.layout = {.max_batch = std::max(opts.max_batch, 0),
              .stride = static_cast<int>(std::max<int64_t>(opts.max_kv_len, 0))};
  g.enabled = ops::cuda_built() && opts.max_batch > 0 && opts.max_kv_len > 0 && shape.vocab > 0;
  g.counting = g.enabled;
}

void DecodeGraphs::configure_for_model(const CudaGraphOptions& opts, core::Device device,
                                       int64_t max_context, const DecodeGraphShape& shape,
                                       const layers::AttentionShape& attn, bool tensor_parallel) {
  const std::string exclusion = graph_exclusion(attn, tensor_parallel);
  CudaGraphOptions o = opts;
  if (o.max_kv_len <= 0) o.max_kv_len = max_context;
  const bool requested = device == core::Device::cuda && o.max_batch > 0;
  if (device != core::Device::cuda || !exclusion.empty()) o.max_batch = 0;
  configure(o, shape);
  impl_->model_attn = attn;
  impl_->rope_attn = {graph_attention(attn, GraphRope::base),
                      graph_attention(attn, GraphRope::longer)};
  if (requested && !exclusion.empty()) {
    LLM_INFO("CUDA graphs stay off for this model, decode steps run eagerly: {}", exclusion);
    impl_->counting = true;
  }
}

bool DecodeGraphs::enabled() const {
  return impl_->enabled;
}

bool DecodeGraphs::accepts(const StepBatch& batch, const KvStorage& kv) const {
  const Impl& g = *impl_;
  if (!g.enabled || kv.layers.empty() || kv.scratch_slot < 0 || kv.scratch_slot >= kv.capacity)
    return false;
  if (batch.attn.n_reqs > g.layout.max_batch || !is_graph_decode_step(batch)) return false;
  for (int32_t r = 0; r < batch.attn.n_reqs; ++r)
    if (batch.attn.kv_len[r] > g.layout.stride) return false;
  return graph_rope_table(g.model_attn, batch) != GraphRope::mixed;
}

Status DecodeGraphs::run(const StepBatch& batch, KvStorage& kv, const ModelStep& step,
                         Tensor& logits) {
  LLM_RETURN_IF_ERROR(start_step(batch, kv, step, logits, /*alias_device=*/false));
  return finish();
}

Status DecodeGraphs::start(const StepBatch& batch, KvStorage& kv, const ModelStep& step,
                           Tensor& logits) {
  return start_step(batch, kv, step, logits, /*alias_device=*/true);
}

Status DecodeGraphs::start_step(const StepBatch& batch, KvStorage& kv, const ModelStep& step,
                                Tensor& logits, bool alias_device) {
  if (!accepts(batch, kv)) return core::internal_error("DecodeGraphs::start: step not accepted");
  const GraphRope table = graph_rope_table(impl_->model_attn, batch);
  const layers::AttentionShape& attn = impl_->rope_attn[static_cast<size_t>(table)];
  const Body body = [&step, &attn](const StepBatch& staged, Workspace& ws, Tensor& out) -> Status {
    LLM_ASSIGN_OR_RETURN(Tensor normed, step.run_layers(staged, ws, attn));
    return ops::matmul(normed, step.lm_head, Tensor(), out);  // every row: decode wants them all
  };
  return impl_->start(batch, kv, body, logits, static_cast<int>(table), alias_device);
}

Status DecodeGraphs::finish() {
  return impl_->finish();
}

void DecodeGraphs::note_eager_step() {
  if (impl_->counting) ++impl_->stats.eager_steps;
}

CudaGraphStats DecodeGraphs::stats() const {
  return impl_->stats;
}

}  // namespace lightllm::models
