// src/server/generation.cpp — see generation.h.
#include "server/generation.h"

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

uint64_t submit_generation(ServerContext& ctx, PromptSpec prompt, SamplingParams& params,
                           const std::shared_ptr<HttpSession>& session, EventHandler on_event) {
  if (ctx.draining) throw ApiError(503, "server is shutting down", "", "unavailable");
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

  auto tracker = std::make_shared<Tracker>();
  tracker->ctx = &ctx;
  tracker->n = params.n;
  tracker->max_new_tokens = params.max_new_tokens;
  tracker->record_metrics = prompt.record_metrics;
  tracker->handler = std::move(on_event);

  GenerateRequest req;
  req.prompt_ids = std::move(ids);
  req.add_special_tokens = prompt.add_special_tokens;
  req.params = params;
  auto gate = ctx.gate;
  auto ex = session->executor();
  StreamCallback cb = [gate, ex, tracker](const StreamEvent& ev) {
    std::shared_lock lk(gate->mu);
    if (!gate->open) return;
    asio::post(ex, [tracker, ev] { tracker->on_event(ev); });
  };
  std::string error;
  const uint64_t id = ctx.engine.submit(std::move(req), std::move(cb), &error);
  if (id == 0) {
    throw ApiError(400, error.empty() ? "the engine rejected the request" : error);
  }
  tracker->id = id;
  ctx.track(id);
  ctx.http_in_flight++;
  session->on_disconnect([&ctx, id] { ctx.engine.abort(id); });
  return id;
}

void Collector::add(const StreamEvent& ev) {
  if (ev.prompt_tokens > 0) prompt_tokens = ev.prompt_tokens;
  cached_prompt_tokens = std::max(cached_prompt_tokens, ev.cached_prompt_tokens);
  if (ev.index < 0 || ev.index >= static_cast<int>(choices.size())) return;
  Completion& c = choices[static_cast<std::size_t>(ev.index)];
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

const Completion* Collector::first_error() const {
  for (const auto& c : choices) {
    if (c.finish == FinishReason::error) return &c;
  }
  return nullptr;
}

EventHandler collect_then(int n, const std::shared_ptr<HttpSession>& session,
                          CollectedHandler done) {
  auto col = std::make_shared<Collector>(n);
  std::weak_ptr<HttpSession> ws = session;
  return [col, ws, done = std::move(done)](const StreamEvent& ev) {
    col->add(ev);
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
