// src/models/model.h — what every model family implements, and the flat batch it runs on.
//
// One forward pass runs one StepBatch: all tokens of all requests in the step concatenated
// with no padding (DESIGN.md §5). Each token's K/V is written to its pool slot (out_slots)
// and attention reads every request's history through req_to_token (Token Attention, §3).
// Only the rows listed in logit_rows get logits (usually each request's last token).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "ops/ops.h"

namespace lightllm::loader {
struct ModelConfig;
}  // namespace lightllm::loader

namespace lightllm::models {

using core::Result;
using core::Status;
using core::Tensor;

// Token ids a step takes from the device rather than the host: the samples of the previous
// step, still on the device when this one is queued (engine/runner: the runner starts step N+1
// before step N's tokens reach the host). token_ids[rows[i]] is -1 on the host and becomes
// sampled[sources[i]] on the device when the batch is staged. rows ascend strictly.
struct DeviceTokenFeed {
  Tensor sampled;                // [n_sampled] i32 on the device
  std::vector<int32_t> rows;     // rows of token_ids fed
  std::vector<int32_t> sources;  // ... from these rows of sampled
  bool empty() const { return rows.empty(); }
};

struct StepBatch {
  Tensor token_ids;                 // [n_tokens] i32 (-1 at device_feed.rows)
  DeviceTokenFeed device_feed;      // ids known only on the device (CUDA models; else empty)
  Tensor positions;                 // [n_tokens] i32, position of each token in its sequence
  Tensor out_slots;                 // [n_tokens] i32, KV slot each token's K/V is written to
  ops::AttentionMeta attn;          // per-request offsets + req_to_token (built once per step)
  std::vector<int32_t> logit_rows;  // rows of the flat batch that need logits, in output order
  int64_t max_seq_len = 0;          // longest sequence in the batch (dynamic NTK rope)

  int64_t n_tokens() const { return token_ids.defined() ? token_ids.dim(0) : 0; }
};

// Called after each decoder layer with the residual stream [n_tokens, hidden] (on the model's
// device, in its activation dtype: f32 on the CPU) — used by the golden tests to name the
// first layer that diverges from the reference.
using LayerObserver = std::function<void(int layer, const Tensor& hidden)>;

// The KV pool memory of one device: one KvCacheView per layer, `capacity` token slots each.
struct KvStorage {
  std::vector<ops::KvCacheView> layers;
  int64_t capacity = 0;
  core::DType dtype = core::DType::f32;
  // A slot in [0, capacity) that no request ever owns, or -1: the padding rows of a CUDA-graph
  // decode step write their K/V there (graphs are used only when it is set).
  int64_t scratch_slot = -1;
  // The pool for `capacity` slots; sizes come from kv::bytes_per_token (src/kv/kv_sizing.h).
  static KvStorage allocate(int n_layers, int64_t capacity, int n_kv_heads, int head_dim,
                            core::DType dtype);
  // The same on `device` (zero-filled device memory for CUDA; out_of_memory when it does not
  // fit). On CUDA the dtype must be the model's activation dtype (Model::activation_dtype).
  static Result<KvStorage> allocate_on(core::Device device, int n_layers, int64_t capacity,
                                       int n_kv_heads, int head_dim, core::DType dtype);
};

// Of a tensor-parallel rank (load_model with a sharded ShardSpec): n_heads and n_kv_heads are
// this rank's (the rank's KV pool is sized with them); vocab, hidden, head_dim and the logits
// stay the whole model's.
struct ModelShape {
  std::string architecture;
  int64_t vocab = 0;
  int64_t hidden = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t max_context = 0;
  core::DType weight_dtype = core::DType::f32;
  int tp_rank = 0;   // this rank of a tensor-parallel group
  int tp_world = 1;  // ranks in the group (1: the whole model)
};

// CUDA graphs for decode steps (src/models/layers/cuda_graph.h). A decode-only step of n
// requests runs as a replay of the graph captured for the next batch size >= n (padding rows
// are computed and ignored); larger steps, prefill and mixed steps run eagerly.
struct CudaGraphOptions {
  int max_batch = 0;       // largest captured batch (--graph-max-batch-size); 0 = no graphs
  int64_t max_kv_len = 0;  // longest sequence a graph serves (--max-req-total-len); 0 = model's
};

struct CudaGraphStats {
  int64_t captured = 0;     // graphs captured (one per batch size x kv-length bucket used)
  int64_t replays = 0;      // steps run from a graph
  int64_t eager_steps = 0;  // forward calls that ran eagerly while graphs were on
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelShape& shape() const = 0;
  // logits: [batch.logit_rows.size(), vocab] f32, allocated by the caller; on the host, or on
  // the device for a model that runs there (the runner's device sampling).
  virtual Status forward(const StepBatch& batch, KvStorage& kv, Tensor& logits,
                         const LayerObserver& observer = {}) = 0;
  // forward() in two halves, so the host can prepare the next step while the device runs
  // this one: start_forward() returns once the step is queued, finish_forward() waits for
  // the logits; until then `logits` (page-locked for an asynchronous copy: ops::empty_pinned)
  // and `kv` must stay untouched, and each start is finished before the next one. Device
  // `logits` may come back pointing at rows the model owns instead of holding a copy (a
  // CUDA-graph step: DecodeGraphs::start), valid for work queued on the same stream before the
  // model's next step. By default, and for steps a model cannot queue (everything but
  // CUDA-graph decode steps), start_forward() runs the whole step.
  virtual Status start_forward(const StepBatch& batch, KvStorage& kv, Tensor& logits) {
    return forward(batch, kv, logits);
  }
  virtual Status finish_forward() { return {}; }
  // Bytes of weights (for memory sizing), as stored on the device.
  virtual int64_t weight_bytes() const = 0;
  // Bytes of weights one forward step over `tokens` tokens reads (for the bandwidth bound of
  // decode): weight_bytes() less the rows of look-up tables (an embedding not shared with the
  // lm_head, learned positions) that no token of the step looks up.
  virtual int64_t step_weight_bytes(int64_t tokens) const = 0;

  // Moves the weights to `device` (CUDA: 16-bit weights keep their dtype, f32 checkpoints are
  // rounded to bf16, which is then the activation dtype) and runs later steps there: the
  // StepBatch stays on the host (the model stages it), the KvStorage must be on the device,
  // logits come back to the host in f32 (or stay on the device when the caller's logits
  // tensor is there). Families without a CUDA path: unimplemented.
  virtual Status to_device(core::Device device) {
    if (device == core::Device::cpu) return {};
    return core::unimplemented("{}: no CUDA path for this model family yet", shape().architecture);
  }
  virtual core::Device device() const { return core::Device::cpu; }
  // Turns CUDA graphs for decode steps on (opts.max_batch > 0) or off. Families or settings
  // without graph support (and the CPU) keep running eagerly: this is not an error.
  virtual Status set_cuda_graphs(const CudaGraphOptions& /*opts*/) { return {}; }
  virtual CudaGraphStats cuda_graph_stats() const { return {}; }
  // Dtype of activations and of the KV cache on the device (f32 on the CPU).
  virtual core::DType activation_dtype() const { return core::DType::f32; }
};

// Loads the model in `model_dir` (config.json + safetensors), choosing the family from
// config.json's `architectures`, and places it on `device` (Model::to_device). Errors name
// the file and tensor at fault.
// With a sharded `shard` the model is rank shard.rank's part of a tensor-parallel model
// (layers/tensor_parallel.h): only that rank's slice of each weight is read, forward runs the
// group's collectives on shard.comm (every rank must call forward with the same batch) and
// still returns the full [rows, vocab] logits on every rank. Shapes that do not split (heads,
// KV heads, intermediate size not divisible) are invalid_argument; families without a
// tensor-parallel path are unimplemented.
Result<std::unique_ptr<Model>> load_model(const std::string& model_dir,
                                          core::Device device = core::Device::cpu,
                                          const dist::ShardSpec& shard = {});

// The architectures load_model() knows (the registry in registry.cpp is the only list).
std::vector<std::string> supported_architectures();

// Parameters of the checkpoint `config` describes, from its family's tensor table (no
// weights read or allocated); tied embeddings count once. unimplemented for families
// without a table (the LLaMA family).
Result<int64_t> parameter_count(const loader::ModelConfig& config);

// config.architecture when a family supports it; otherwise unimplemented, naming the
// architecture, the config file and the supported list.
Result<std::string> resolve_architecture(const loader::ModelConfig& config);

}  // namespace lightllm::models
