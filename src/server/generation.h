// src/server/generation.h — the bridge between HTTP handlers and the Engine.
//
// ServerContext is the state every route shares (engine, model info, metrics, the set of engine
// requests in flight). submit_generations() tokenizes the prompts, enforces the context limit
// (rejecting, or truncating only when the request asked for it), submits to the engine and
// delivers the engine's events on the session's strand. A client disconnect aborts the engine
// requests. Completions of one request (n > 1) each end with their own finished event; the
// request is done when all n have finished.
// Threading: engine callbacks only post onto strands, through an EventGate that the server
// closes before its io_context goes away (so late engine events are dropped, never run).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "lightllm/engine.h"
#include "server/http_session.h"
#include "server/metrics.h"

namespace lightllm::server {

struct EventGate {
  std::shared_mutex mu;
  bool open = true;
};

struct ServerContext {
  ServerContext(Engine& e, std::string served_name, int64_t max_req_total_len);

  Engine& engine;
  ModelInfo model;
  std::string model_name;     // what /get_model_name and /v1/models report
  int64_t context_limit = 0;  // prompt + output tokens per request
  int64_t created_unix = 0;   // server start, for /v1/models
  Metrics metrics;
  std::shared_ptr<EventGate> gate = std::make_shared<EventGate>();
  std::atomic<bool> draining{false};
  std::atomic<int> http_in_flight{0};

  void track(uint64_t id);
  void untrack(uint64_t id);
  std::size_t in_flight() const;
  void abort_all();

 private:
  mutable std::mutex mu_;
  std::unordered_set<uint64_t> ids_;
};

// How a route describes a prompt to submit_generations().
struct PromptSpec {
  std::string text;
  std::vector<int32_t> ids;  // used instead of text when non-empty
  bool add_special_tokens = true;
  std::string field = "prompt";  // named in errors about the prompt
  std::string max_tokens_field = "max_tokens";
  bool max_tokens_given = true;        // false: max_new_tokens = what the context leaves
  std::optional<int64_t> truncate_to;  // keep only the last K prompt tokens (user asked)
  bool record_metrics = true;          // false: a /health probe, not a user request
};

using EventHandler = std::function<void(const StreamEvent&)>;
// The events of a request of several prompts: prompt's index in the request, then the event.
using BatchEventHandler = std::function<void(std::size_t prompt, const StreamEvent&)>;

// One prompt: submit_generations() below with a single prompt. Throws ApiError on bad input or
// engine refusal.
void submit_generation(ServerContext& ctx, PromptSpec prompt, const SamplingParams& params,
                       const std::shared_ptr<HttpSession>& session, EventHandler on_event);

// The prompts of one HTTP request (an OpenAI completions batch), each an engine request with
// `params` (max_new_tokens, when not given, is what each prompt's context leaves). Every prompt
// is tokenized and checked before any is submitted, so a bad one rejects the whole request with
// nothing running; if the engine refuses one, those already submitted are aborted and their
// events dropped. A client disconnect aborts them all. `on_event` runs on the session strand.
void submit_generations(ServerContext& ctx, std::vector<PromptSpec> prompts,
                        const SamplingParams& params, const std::shared_ptr<HttpSession>& session,
                        BatchEventHandler on_event);

// Accumulates the events of a non-streaming request, per completion index.
struct Completion {
  std::string text;
  std::vector<TokenOutput> tokens;
  FinishReason finish = FinishReason::none;
  std::string error;
  int completion_tokens = 0;
  bool finished = false;
};

// Completions of `n_prompts` prompts with `n` each: prompt p's completion i is choices[p·n + i]
// (the OpenAI index of a batch). Prompt tokens are summed over the prompts.
struct Collector {
  explicit Collector(int n, int n_prompts = 1);
  void add(std::size_t prompt, const StreamEvent& ev);
  bool all_finished() const;
  const Completion* first_error() const;

  // Summed over the prompts.
  int prompt_tokens() const;
  int cached_prompt_tokens() const;

  std::vector<Completion> choices;

 private:
  int n_;
  std::vector<int> prompt_tokens_of_, cached_of_;  // per prompt
};

// The event handler of a non-streaming request of `n` completions of each of `n_prompts`
// prompts: collects every event and, once all completions finished and the session is still
// open, answers 500 with the first completion's error or calls `done` with the session and what
// was collected.
using CollectedHandler =
    std::function<void(const std::shared_ptr<HttpSession>& session, const Collector& col)>;
BatchEventHandler collect_batch_then(int n, int n_prompts,
                                     const std::shared_ptr<HttpSession>& session,
                                     CollectedHandler done);
// The same for one prompt.
EventHandler collect_then(int n, const std::shared_ptr<HttpSession>& session,
                          CollectedHandler done);

// LightLLM and OpenAI both say "stop" for EOS and stop strings, "length", "abort".
const char* finish_reason_wire(FinishReason r);

}  // namespace lightllm::server
