// src/engine/engine_impl.h — the Engine: the asynchronous pipeline of DESIGN.md §2.
//
//   submit() ──> tokenizer pool (N threads) ──> router thread ──> output thread ──> callbacks
//                 text → ids, length checks      plan → run →       detokenize, stop strings,
//                                                commit (router +   StreamEvents
//                                                ModelRunner)
//
// Every stage is its own thread joined by BlockingQueues, so tokenizing and detokenizing
// overlap the model step; on CUDA the router thread also plans step N+1 while the device runs
// step N (max_inflight_steps = 2, see router_loop). The router thread is the only owner of
// scheduling state (Router) and of the model (ModelRunner), which it also loads and checks at
// start-up (init), so the ops' per-thread device state is made where the steps run; the output
// thread is the only caller of callbacks. A request's life: live_ entry at submit → sequences in
// the router → one final event per completion → erased from live_ when all its completions have
// ended.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/blocking_queue.h"
#include "engine/memory_check.h"
#include "engine/router/router.h"
#include "engine/runner/model_runner.h"
#include "engine/runner/tp_runner.h"
#include "engine/step_loop.h"
#include "lightllm/engine.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::engine {

class EngineImpl final : public Engine {
 public:
  static std::unique_ptr<Engine> create(const EngineConfig& config, std::string* error);
  ~EngineImpl() override;

  uint64_t submit(GenerateRequest request, StreamCallback on_event, std::string* error) override;
  void abort(uint64_t request_id) override;
  EngineStats stats() const override;
  SamplingParams default_sampling_params() const override { return defaults_; }
  ModelInfo model_info() const override { return info_; }
  std::vector<int32_t> tokenize(const std::string& text, bool add_special_tokens) const override;
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const override;
  bool render_chat(const std::string& request_json, bool add_generation_prompt, std::string* prompt,
                   std::string* error) const override;
  void shutdown() override;

 private:
  // A user request as the pipeline carries it (shared by its completions' output states).
  struct Request {
    uint64_t id = 0;
    GenerateRequest input;
    StreamCallback on_event;
    std::vector<int32_t> prompt_ids;
    int completions = 1;       // n
    int open_completions = 1;  // not yet ended (output thread only)
  };
  // Messages to the router thread.
  struct RouterCommand {
    enum class Kind { submit, reject, abort, finish } kind;
    std::shared_ptr<Request> request;  // submit, reject
    uint64_t id = 0;                   // request id (abort) or sequence id (finish)
    std::string message;               // reject
  };
  // Messages to the output thread.
  struct OutputBatch {
    std::vector<router::SeqEvent> events;
    std::shared_ptr<Request> failed;  // a request that ends in error before running
    std::string error;
  };
  // Per completion, owned by the output thread.
  struct CompletionState {
    std::shared_ptr<Request> request;
    int index = 0;
    std::unique_ptr<tokenizer::IncrementalDetokenizer> detok;
    std::unique_ptr<tokenizer::StopMatcher> stops;
    int completion_tokens = 0;
    bool done = false;  // final event sent (the router's own final event is then swallowed)
  };

  EngineImpl() = default;
  // Runs init() on the router thread, then (on success) that thread's router_loop(), the
  // tokenizer threads and the output thread; returns init()'s status.
  core::Status start(const EngineConfig& config);
  // Loads the model, sizes and checks the KV pool (memory_check.h), makes the router and the
  // runner.
  core::Status init(const EngineConfig& config);
  // The KV pool for rc.max_total_tokens slots (+ the CUDA-graph scratch slot when
  // `scratch_slot`), with the start-up memory check (memory_check.h) when --memory-check says
  // so; the pool may come back smaller.
  core::Result<PoolFit> allocate_pool(models::Model& model, const router::RouterConfig& rc,
                                      core::DType kv_elem, bool scratch_slot) const;
  // tp > 1: the KV pools of every rank and the TpRunner (after the router exists).
  core::Status start_tp_runner(TpLeader& tp, int64_t capacity, core::DType kv_dtype);
  void tokenizer_loop();
  void router_loop();
  void output_loop();
  void handle_command(RouterCommand& cmd);
  void fail_running(const core::Status& st);
  void emit_output(const router::SeqEvent& ev);
  void fail_request(const std::shared_ptr<Request>& req, FinishReason reason,
                    const std::string& message);

  EngineConfig config_;
  ModelInfo info_;
  SamplingParams defaults_;
  std::vector<int32_t> eos_ids_;
  int64_t max_req_total_len_ = 0;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;       // null when the folder has none
  std::optional<tokenizer::ChatTemplate> chat_template_;  // parsed once at start-up
  std::unique_ptr<router::Router> router_;
  std::unique_ptr<ModelRunner> runner_;  // tp == 1
  std::unique_ptr<TpRunner> tp_runner_;  // tp > 1
  StepExecutor* executor_ = nullptr;     // the one of the two that runs the steps

  core::BlockingQueue<std::shared_ptr<Request>> tokenize_queue_;
  core::BlockingQueue<RouterCommand> router_queue_;
  core::BlockingQueue<OutputBatch> output_queue_;
  std::vector<std::thread> tokenizer_threads_;
  std::thread router_thread_;
  std::thread output_thread_;

  // Router-thread state.
  std::unordered_map<uint64_t, std::vector<uint64_t>> group_seqs_;  // request -> sequences
  std::unordered_map<uint64_t, int> group_open_;                    // request -> live sequences
  std::vector<uint64_t> early_aborts_;  // aborted before reaching the router

  // Output-thread state, keyed by sequence id (registered by the router thread first).
  std::mutex outputs_mu_;
  std::unordered_map<uint64_t, CompletionState> outputs_;

  mutable std::mutex live_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Request>> live_;  // submitted, not yet ended

  std::atomic<uint64_t> next_request_id_{1};
  uint64_t next_seq_id_ = 1;  // router thread only
  std::atomic<bool> stopping_{false};
  mutable std::mutex stats_mu_;
  EngineStats stats_;
};

}  // namespace lightllm::engine
