// src/engine/output_stage.cpp — the output thread: turns the router's token events into
// StreamEvents. Detokenizes incrementally (only complete UTF-8 leaves), matches stop strings
// across tokens (text that may start a stop string is held back), asks the router to finish a
// sequence whose stop string matched (looked for once min_new_tokens tokens are out), and sends
// exactly one final event per completion.
#include "core/log.h"
#include "engine/engine_impl.h"

namespace lightllm::engine {

void EngineImpl::output_loop() {
  while (auto batch = output_queue_.pop()) {
    if (batch->failed) {
      fail_request(batch->failed, batch->error.empty() ? FinishReason::abort : FinishReason::error,
                   batch->error);
      continue;
    }
    for (const router::SeqEvent& ev : batch->events) emit_output(ev);
  }
}

void EngineImpl::emit_output(const router::SeqEvent& ev) {
  std::unique_lock lock(outputs_mu_);
  auto it = outputs_.find(ev.seq_id);
  if (it == outputs_.end()) return;
  CompletionState& c = it->second;
  const std::shared_ptr<Request> req = c.request;

  StreamEvent out;
  out.request_id = req->id;
  out.index = c.index;
  out.prompt_tokens = static_cast<int>(ev.prompt_tokens);
  out.cached_prompt_tokens = static_cast<int>(ev.cached_prompt_tokens);
  bool stopped_by_string = false;
  if (ev.has_token && !c.done) {
    TokenOutput t;
    t.id = ev.token.token;
    t.logprob = ev.token.logprob;
    if (tokenizer_) {
      t.special = tokenizer_->is_special(t.id);
      std::string piece = c.detok->push(t.id);
      if (c.completion_tokens + 1 < req->input.params.min_new_tokens) {
        // Before min_new_tokens, stop strings are not looked for (the sampler masks EOS and
        // stop ids the same way); the matcher sees only the text after that point.
        t.text = std::move(piece);
      } else {
        auto r = c.stops->push(piece);
        t.text = std::move(r.text);
        stopped_by_string = r.stopped;
      }
      for (const auto& [id, lp] : ev.token.top_logprobs)
        t.top_logprobs.push_back({id, tokenizer_->decode({&id, 1}, false), lp});
    } else {
      for (const auto& [id, lp] : ev.token.top_logprobs) t.top_logprobs.push_back({id, "", lp});
    }
    out.text += t.text;
    out.tokens.push_back(std::move(t));
    ++c.completion_tokens;
  } else if (c.done) {
    // The completion already ended on a stop string; this is the router catching up.
    if (ev.finished) outputs_.erase(it);
    return;
  }
  out.completion_tokens = c.completion_tokens;

  if (stopped_by_string) {
    out.finished = true;
    out.finish_reason = FinishReason::stop;
    c.done = true;
    router_queue_.push({.kind = RouterCommand::Kind::finish, .id = ev.seq_id});
    if (ev.finished) outputs_.erase(it);
  } else if (ev.finished) {
    if (tokenizer_) {  // release what was held back
      auto r = c.stops->push(c.detok->finish());
      std::string tail = std::move(r.text);
      if (r.stopped) {
        out.finish_reason = FinishReason::stop;
      } else {
        tail += c.stops->flush();
      }
      out.text += tail;
      if (!out.tokens.empty()) out.tokens.back().text += tail;  // tokens' text == out.text
    }
    out.finished = true;
    if (out.finish_reason == FinishReason::none) out.finish_reason = ev.reason;
    outputs_.erase(it);
  } else if (out.tokens.empty()) {
    return;
  }
  lock.unlock();

  if (out.finished) {
    std::lock_guard stats_lock(stats_mu_);
    stats_.generated_tokens_total += static_cast<uint64_t>(out.completion_tokens);
    if (out.index == 0) stats_.prompt_tokens_total += static_cast<uint64_t>(out.prompt_tokens);
    if (out.index == 0) ++stats_.requests_finished;
  }
  if (out.finished && --req->open_completions == 0) {
    std::lock_guard live_lock(live_mu_);
    live_.erase(req->id);
  }
  req->on_event(out);
}

void EngineImpl::fail_request(const std::shared_ptr<Request>& req, FinishReason reason,
                              const std::string& message) {
  {
    std::lock_guard lock(live_mu_);
    live_.erase(req->id);
  }
  for (int i = 0; i < req->completions; ++i) {
    StreamEvent out;
    out.request_id = req->id;
    out.index = i;
    out.finished = true;
    out.finish_reason = reason;
    out.error = message;
    out.prompt_tokens = static_cast<int>(req->prompt_ids.size());
    req->on_event(out);
  }
}

}  // namespace lightllm::engine
