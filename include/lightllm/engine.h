// include/lightllm/engine.h — the public engine API used by the server, the CLI and embedders.
//
// An Engine owns one model, its tokenizer, the KV pool, the router thread, the runner and the
// detokenizer thread (DESIGN.md §2). submit() validates and enqueues a request and returns at
// once; its output arrives as StreamEvents on the callback, always from the engine's own
// output thread. Each of the request's n completions (StreamEvent::index) ends with exactly
// one event whose `finished` is true. abort() (or a client disconnect) ends a request at the
// next step and frees its KV slots.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lightllm/sampling_params.h"

namespace lightllm {

struct EngineConfig {
  std::string model_dir;       // HF folder: config.json, *.safetensors, tokenizer files
  std::string device = "cpu";  // "cpu" or "cuda"
  int tp = 1;                  // tensor-parallel ranks (GPUs over all nodes)
  int nnodes = 1;              // hosts of the tensor-parallel group (tp / nnodes GPUs each)
  int node_rank = 0;           // this host's index; 0 runs the router and the server
  std::string nccl_host = "127.0.0.1";  // node 0's address for the multi-node rendezvous
  int nccl_port = 28765;                // node 0's rendezvous TCP port
  int64_t max_total_token_num = 0;      // KV pool slots; 0 = size from memory * mem_fraction
  double mem_fraction = 0.9;            // share of free memory after weights for the KV pool
  std::string kv_cache_dtype = "auto";  // "auto" (model dtype), "f32", "bf16", "int8"
  int64_t batch_max_tokens = 0;         // max tokens in one prefill step; 0 = auto
  int running_max_req_size = 1000;      // max concurrent running requests
  int64_t max_req_total_len = 0;        // prompt + output limit per request; 0 = model context
  double router_token_ratio = 0.0;      // 0 = plain future-token admission
  int router_max_new_token_len = 1024;  // output-length estimate floor for admission
  int64_t chunked_prefill_size = 0;     // 0 = no chunking
  bool disable_prefix_cache = false;
  int tokenizer_threads = 2;
  int cpu_threads = 0;  // 0 = all cores
  // Start-up proof that the largest steps fit beside the KV pool (dummy steps; the pool shrinks
  // on out-of-memory): "auto" (on for cuda, off for cpu), "on", "off".
  std::string memory_check = "auto";
  // CUDA graphs for decode steps of up to this many requests (larger ones run eagerly).
  int graph_max_batch_size = 128;
  bool disable_cuda_graph = false;
  // Steps planned ahead: 2 plans step N+1 while step N runs on the device (its decode tokens
  // are filled in when step N's samples are known); 0 = auto (2 on CUDA, 1 on the CPU, where
  // the step runs on the planning thread and nothing would overlap).
  int max_inflight_steps = 0;
  // CUDA: with device sampling, start step N+1 before step N's tokens reach the host (its decode
  // tokens are fed from N's samples on the device), so the GPU does not idle between steps.
  // Off: N+1 starts once N is finished (A/B, debugging).
  bool disable_overlap = false;
};

enum class FinishReason { none, length, stop, eos, abort, error };
const char* finish_reason_name(FinishReason r);  // "length", "stop", ... (OpenAI's words)

struct TopLogprob {
  int32_t id;
  std::string text;
  float logprob;
};

struct TokenOutput {
  int32_t id;
  std::string text;  // the text this token completes (may be "" while UTF-8 is incomplete)
  float logprob = 0.0f;
  bool special = false;
  std::vector<TopLogprob> top_logprobs;
};

struct StreamEvent {
  uint64_t request_id = 0;
  int index = 0;                    // which of the n completions
  std::vector<TokenOutput> tokens;  // new tokens since the last event
  std::string text;                 // new text since the last event: the tokens' text plus, in
                                    // the final event, any tail held back (stop-string prefix,
                                    // incomplete UTF-8); stops right before a matched stop string
  bool finished = false;
  FinishReason finish_reason = FinishReason::none;
  std::string error;  // set when finish_reason == error
  int prompt_tokens = 0;
  int completion_tokens = 0;     // so far, for this index
  int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct GenerateRequest {
  std::string prompt;               // text; ignored when prompt_ids is non-empty
  std::vector<int32_t> prompt_ids;  // pre-tokenized prompt
  bool add_special_tokens = true;   // BOS etc. when tokenizing `prompt`
  SamplingParams params;
};

using StreamCallback = std::function<void(const StreamEvent&)>;

// CUDA: the time the device waited for the host between steps planned back to back (the next
// step was planned while the previous one ran): 0 for a step queued before the previous one
// ended (the usual case with the overlap), else from the event after the previous step's
// sampling to the event queued before this step's upload. What runs between two forwards (the
// sampling and upload kernels and the device's hand-off latencies) is not counted: kernel
// traces show ~9 us between two batch-1 graph replays, ~3 us of it idle (docs/PERFORMANCE.md
// run 23, tools/kernel_trace.sh).
struct DeviceIdleStats {
  double total_us = 0.0;
  double max_us = 0.0;
  uint64_t steps = 0;  // steps measured
  // The step after the longest idle (router step number) and its size in tokens: what a
  // one-off stall preceded.
  uint64_t max_step = 0;
  int64_t max_prefill_tokens = 0;
  int64_t max_decode_tokens = 0;
};

struct EngineStats {
  int running = 0;
  int waiting = 0;
  int paused = 0;
  int64_t kv_total = 0;   // pool slots
  int64_t kv_used = 0;    // slots held by running requests
  int64_t kv_cached = 0;  // slots held only by the prefix cache
  uint64_t requests_finished = 0;
  uint64_t prompt_tokens_total = 0;
  uint64_t generated_tokens_total = 0;
  // Router counters (cumulative since start).
  uint64_t steps = 0;           // model steps run
  uint64_t pauses = 0;          // running requests paused because the pool ran out
  uint64_t prefill_tokens = 0;  // prompt tokens computed (prefix-cache hits excluded)
  uint64_t decode_tokens = 0;
  uint64_t prefix_hit_tokens = 0;  // prompt tokens served from the prefix cache
  // Router-thread time (steady clock, cumulative): scheduling and bookkeeping (commands,
  // plan, commit, events, stats) vs running the model step (forward + sampling).
  double router_seconds = 0.0;
  double step_seconds = 0.0;
  // CUDA: device idle time between steps planned back to back (see DeviceIdleStats).
  DeviceIdleStats device_idle;
  // CUDA graphs of decode steps: captured (the first step of each batch size x kv-length bucket
  // runs eagerly and captures, a one-off cost) and replayed.
  uint64_t cuda_graphs_captured = 0;
  uint64_t cuda_graph_replays = 0;
};

struct ModelInfo {
  std::string name;          // folder name
  std::string architecture;  // e.g. "LlamaForCausalLM"
  int64_t vocab_size = 0;
  int64_t max_context = 0;  // max_position_embeddings
  std::string dtype;
  int64_t weight_bytes = 0;         // as stored where the model runs (one rank's with tp > 1)
  int64_t decode_weight_bytes = 0;  // of those, what a batch-1 decode step reads (no unread
                                    // embedding rows)
  int64_t kv_bytes_per_token = 0;   // KV pool bytes per token slot (one rank's with tp > 1)
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Loads the model and starts the engine threads. Errors name the file or flag at fault.
  // (Defined by the engine library; returns nullptr and fills *error on failure.)
  static std::unique_ptr<Engine> create(const EngineConfig& config, std::string* error);

  // Validates and enqueues. On invalid input returns 0 and fills *error (nothing is enqueued).
  // Otherwise returns the request id; `on_event` is called from the engine's output thread.
  virtual uint64_t submit(GenerateRequest request, StreamCallback on_event, std::string* error) = 0;

  // Ends a request (all its n completions) at the next step; its final event has reason abort.
  virtual void abort(uint64_t request_id) = 0;

  virtual EngineStats stats() const = 0;
  // The model's defaults (generation_config.json over the built-in ones): the starting point
  // of every request's SamplingParams.
  virtual SamplingParams default_sampling_params() const = 0;
  virtual ModelInfo model_info() const = 0;

  // Text <-> ids with the model's tokenizer, and its chat template.
  virtual std::vector<int32_t> tokenize(const std::string& text, bool add_special_tokens) const = 0;
  virtual std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  // Renders the model's chat template (tokenizer_config.json) over an OpenAI-style
  // `{"messages": [...], ...extra template variables}` JSON object. Returns false and fills
  // *error when the template or the messages are invalid.
  virtual bool render_chat(const std::string& request_json, bool add_generation_prompt,
                           std::string* prompt, std::string* error) const = 0;

  // Stops accepting, aborts what is in flight (each gets its final event), joins threads.
  virtual void shutdown() = 0;
};

// A node of a multi-node tensor-parallel group other than node 0 (config.node_rank > 0): joins
// node 0's rendezvous, loads this node's shards, then runs every step node 0 sends until node 0
// shuts down (returns true) or something fails (returns false and fills *error).
bool run_tp_follower(const EngineConfig& config, std::string* error);

}  // namespace lightllm
