// src/server/generation.cpp — see generation.h.
#include "server/generation.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "server/json_fields.h"

namespace lightllm::server {
namespace {

using Clock = std::chrono::steady_clock;

// Per-request bookkeeping for metrics and the in-flight set; lives on the session strand.
struct Tracker {
  ServerContext* ctx = nullptr;
  uint64_t id = 0;
  int n = 1;
  int finished = 0;
  int max_new_tokens = 0;
  int prompt_tokens = 0;
  int generated = 0;
  bool success = true;
  bool record_metrics = true;
  Clock::time_point start = Clock::now();
  double first_token_s = -1;
  EventHandler handler;

  void on_event(const StreamEvent& ev) {
    if (ev.prompt_tokens > 0) prompt_tokens = ev.prompt_tokens;
    if (!ev.tokens.empty() && first_token_s < 0) {
      first_token_s = std::chrono::duration<double>(Clock::now() - start).count();
    }
    generated += static_cast<int>(ev.tokens.size());
    if (ev.finished) {
      ++finished;
      if (ev.finish_reason == FinishReason::error || ev.finish_reason == FinishReason::abort) {
        success = false;
      }
    }
    // Book-keeping before the client sees the final event: a client that reads /metrics right
    // after its response must find its request counted.
    const bool done = ev.finished && finished == n;
    if (done) {
      ctx->untrack(id);
      ctx->http_in_flight--;
      if (record_metrics) {
        RequestRecord r;
        r.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
        r.first_token_s = first_token_s;
        r.prompt_tokens = prompt_tokens;
        r.generated_tokens = generated;
        r.max_new_tokens = max_new_tokens;
        r.success = success;
        ctx->metrics.request_finished(r);
      }
    }
    handler(ev);
    if (done) handler = nullptr;  // drops the session reference
  }
};

}  // namespace

ServerContext::ServerContext(Engine& e, std::string served_name, int64_t max_req_total_len)
    : engine(e), model(e.model_info()), metrics(e.model_info().max_context) {
  model_name = served_name.empty() ? model.name : std::move(served_name);
  context_limit = max_req_total_len > 0 ? max_req_total_len : model.max_context;
  created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
}

void ServerContext::track(uint64_t id) {
  std::lock_guard lk(mu_);
  ids_.insert(id);
}

void ServerContext::untrack(uint64_t id) {
  std::lock_guard lk(mu_);
  ids_.erase(id);
}

std::size_t ServerContext::in_flight() const {
  std::lock_guard lk(mu_);
  return ids_.size();
}

void ServerContext::abort_all() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lk(mu_);
    ids.assign(ids_.begin(), ids_.end());
  }
  for (uint64_t id : ids) engine.abort(id);
}

namespace {

// A prompt tokenized and checked against the context, with its request's parameters.
struct PreparedPrompt {
  GenerateRequest request;
  bool record_metrics = true;
};

// Throws ApiError when the prompt is empty or does not fit the context with its output.
PreparedPrompt prepare_prompt(const ServerContext& ctx, PromptSpec prompt, SamplingParams params) {
  std::vector<int32_t> ids = prompt.ids.empty()
                                 ? ctx.engine.tokenize(prompt.text, prompt.add_special_tokens)
                                 : std::move(prompt.ids);
  if (ids.empty()) bad_field(prompt.field, fmt::format("{} must not be empty", prompt.field));
  const int64_t limit = ctx.context_limit;
  if (prompt.truncate_to && static_cast<int64_t>(ids.size()) > *prompt.truncate_to) {
    ids.erase(ids.begin(), ids.end() - *prompt.truncate_to);
  }
  const auto n_prompt = static_cast<int64_t>(ids.size());
  if (n_prompt >= limit) {
    bad_field(prompt.field,
              fmt::format("{} has {} tokens but the model's context is {} tokens (prompt and "
                          "output together); shorten it or ask for truncation",
                          prompt.field, n_prompt, limit));
  }
  if (!prompt.max_tokens_given) {
    params.max_new_tokens = static_cast<int>(limit - n_prompt);
  } else if (n_prompt + params.max_new_tokens > limit) {
    bad_field(prompt.max_tokens_field,
              fmt::format("{} ({}) plus the prompt's {} tokens exceeds the model's context of "
                          "{} tokens",
                          prompt.max_tokens_field, params.max_new_tokens, n_prompt, limit));
  }
  PreparedPrompt out;
  out.request.prompt_ids = std::move(ids);
  out.request.add_special_tokens = prompt.add_special_tokens;
  out.request.params = params;
  out.record_metrics = prompt.record_metrics;
  return out;
}

// Submits to the engine and tracks the request; throws ApiError when the engine refuses it.
uint64_t submit_prepared(ServerContext& ctx, PreparedPrompt prepared,
                         const std::shared_ptr<HttpSession>& session, EventHandler on_event) {
  auto tracker = std::make_shared<Tracker>();
  tracker->ctx = &ctx;
  tracker->n = prepared.request.params.n;
  tracker->max_new_tokens = prepared.request.params.max_new_tokens;
  tracker->record_metrics = prepared.record_metrics;
  tracker->handler = std::move(on_event);
  auto gate = ctx.gate;
  auto ex = session->executor();
  StreamCallback cb = [gate, ex, tracker](const StreamEvent& ev) {
    std::shared_lock lk(gate->mu);
    if (!gate->open) return;
    asio::post(ex, [tracker, ev] { tracker->on_event(ev); });
  };
  std::string error;
  const uint64_t id = ctx.engine.submit(std::move(prepared.request), std::move(cb), &error);
  if (id == 0) {
    throw ApiError(400, error.empty() ? "the engine rejected the request" : error);
  }
  tracker->id = id;
  ctx.track(id);
  ctx.http_in_flight++;
  return id;
}

}  // namespace

void submit_generation(ServerContext& ctx, PromptSpec prompt, const SamplingParams& params,
                       const std::shared_ptr<HttpSession>& session, EventHandler on_event) {
  std::vector<PromptSpec> one;
  one.push_back(std::move(prompt));
  submit_generations(ctx, std::move(one), params, session,
                     [h = std::move(on_event)](std::size_t, const StreamEvent& ev) { h(ev); });
}

void submit_generations(ServerContext& ctx, std::vector<PromptSpec> prompts,
                        const SamplingParams& params, const std::shared_ptr<HttpSession>& session,
                        BatchEventHandler on_event) {
  if (ctx.draining) throw ApiError(503, "server is shutting down", "", "unavailable");
  std::vector<PreparedPrompt> prepared;
  prepared.reserve(prompts.size());
  for (auto& prompt : prompts) prepared.push_back(prepare_prompt(ctx, std::move(prompt), params));
  // Set when the engine refuses a prompt: the ones already submitted are aborted, and their
  // events (on this strand, after the error response) must not answer the session again.
  auto dropped = std::make_shared<bool>(false);
  auto handler = std::make_shared<BatchEventHandler>(std::move(on_event));
  std::vector<uint64_t> ids;
  try {
    for (std::size_t p = 0; p < prepared.size(); ++p) {
      ids.push_back(submit_prepared(ctx, std::move(prepared[p]), session,
                                    [dropped, handler, p](const StreamEvent& ev) {
                                      if (!*dropped) (*handler)(p, ev);
                                    }));
    }
  } catch (...) {
    *dropped = true;
    for (uint64_t id : ids) ctx.engine.abort(id);
    throw;
  }
  session->on_disconnect([&ctx, ids] {
    for (uint64_t id : ids) ctx.engine.abort(id);
  });
}

Collector::Collector(int n, int n_prompts)
    : choices(static_cast<std::size_t>(n) * static_cast<std::size_t>(n_prompts)),
      n_(n),
      prompt_tokens_of_(static_cast<std::size_t>(n_prompts), 0),
      cached_of_(static_cast<std::size_t>(n_prompts), 0) {}

void Collector::add(std::size_t prompt, const StreamEvent& ev) {
  if (prompt >= prompt_tokens_of_.size()) return;
  if (ev.prompt_tokens > 0) prompt_tokens_of_[prompt] = ev.prompt_tokens;
  cached_of_[prompt] = std::max(cached_of_[prompt], ev.cached_prompt_tokens);
  if (ev.index < 0 || ev.index >= n_) return;
  Completion& c =
      choices[prompt * static_cast<std::size_t>(n_) + static_cast<std::size_t>(ev.index)];
  c.text += ev.text;  // the tokens' text plus any tail released by the final event
  for (const auto& t : ev.tokens) c.tokens.push_back(t);
  c.completion_tokens = std::max(c.completion_tokens, ev.completion_tokens);
  if (c.completion_tokens < static_cast<int>(c.tokens.size())) {
    c.completion_tokens = static_cast<int>(c.tokens.size());
  }
  if (ev.finished) {
    c.finished = true;
    c.finish = ev.finish_reason;
    c.error = ev.error;
  }
}

bool Collector::all_finished() const {
  for (const auto& c : choices) {
    if (!c.finished) return false;
  }
  return true;
}

int Collector::prompt_tokens() const {
  return std::accumulate(prompt_tokens_of_.begin(), prompt_tokens_of_.end(), 0);
}

int Collector::cached_prompt_tokens() const {
  return std::accumulate(cached_of_.begin(), cached_of_.end(), 0);
}

const Completion* Collector::first_error() const {
  for (const auto& c : choices) {
    if (c.finish == FinishReason::error) return &c;
  }
  return nullptr;
}

BatchEventHandler collect_batch_then(int n, int n_prompts,
                                     const std::shared_ptr<HttpSession>& session,
                                     CollectedHandler done) {
  auto col = std::make_shared<Collector>(n, n_prompts);
  std::weak_ptr<HttpSession> ws = session;
  return [col, ws, done = std::move(done)](std::size_t prompt, const StreamEvent& ev) {
    col->add(prompt, ev);
    if (!col->all_finished()) return;
    auto s = ws.lock();
    if (!s) return;
    if (const Completion* e = col->first_error()) {
      s->respond(500, "application/json", error_body(e->error, "", "internal_error"));
      return;
    }
    done(s, *col);
  };
}

EventHandler collect_then(int n, const std::shared_ptr<HttpSession>& session,
                          CollectedHandler done) {
  return
      [h = collect_batch_then(n, 1, session, std::move(done))](const StreamEvent& ev) { h(0, ev); };
}

const char* finish_reason_wire(FinishReason r) {
  switch (r) {
    case FinishReason::length: return "length";
    case FinishReason::stop:
    case FinishReason::eos: return "stop";
    case FinishReason::abort: return "abort";
    case FinishReason::error: return "error";
    case FinishReason::none: break;
  }
  return nullptr;
}

}  // namespace lightllm::server
