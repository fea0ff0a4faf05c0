// src/server/openai_stream.cpp — OpenAI streaming: `data: {chunk}\n\n` ... `data: [DONE]\n\n`.
// Chat: per choice a first chunk with delta {"role": "assistant", "content": ""}, then content
// deltas, then a chunk with an empty delta and finish_reason. Completions: text chunks, then a
// chunk with text "" and finish_reason. With stream_options.include_usage every chunk carries
// "usage": null and a last chunk with "choices": [] carries the usage. An engine error becomes
// a `data: {"error": {...}}` event before [DONE]. A completions batch streams every prompt's
// choices (prompt p's completion i is index p·n + i) and sums the prompts' usage.
#include <fmt/format.h>

#include "server/openai_format.h"

namespace lightllm::server {
namespace {

struct StreamState {
  OpenAiRequest meta;
  int n = 1;                    // completions per prompt
  std::vector<bool> role_sent;  // per choice
  std::vector<std::size_t> text_offset;
  std::vector<int> completion_tokens;
  std::vector<int> prompt_tokens, cached_tokens;  // per prompt
  int finished = 0;
  bool failed = false;
};

std::string data_line(const Json& j) {
  return "data: " + dump_json(j) + "\n\n";
}

Json chunk(const StreamState& st, Json choice) {
  Json c = {{"id", st.meta.id},
            {"object", st.meta.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", st.meta.created},
            {"model", st.meta.model},
            {"choices", Json::array({std::move(choice)})}};
  if (st.meta.include_usage) c["usage"] = nullptr;
  return c;
}

void on_stream_event(StreamState& st, HttpSession& s, std::size_t prompt, const StreamEvent& ev) {
  if (prompt >= st.prompt_tokens.size() || ev.index < 0 || ev.index >= st.n) return;
  const std::size_t idx =
      prompt * static_cast<std::size_t>(st.n) + static_cast<std::size_t>(ev.index);
  if (ev.prompt_tokens > 0) st.prompt_tokens[prompt] = ev.prompt_tokens;
  st.cached_tokens[prompt] = std::max(st.cached_tokens[prompt], ev.cached_prompt_tokens);
  st.completion_tokens[idx] += static_cast<int>(ev.tokens.size());
  std::string out;
  const bool chat = st.meta.chat;
  if (chat && !st.role_sent[idx]) {
    st.role_sent[idx] = true;
    out += data_line(chunk(st, {{"index", idx},
                                {"delta", {{"role", "assistant"}, {"content", ""}}},
                                {"logprobs", nullptr},
                                {"finish_reason", nullptr}}));
  }
  if (!ev.tokens.empty() || !ev.text.empty()) {
    const std::string& text = ev.text;
    Json lp = nullptr;
    if (st.meta.logprobs) {
      lp = chat ? chat_logprobs(ev.tokens, st.meta.top_logprobs)
                : completion_logprobs(ev.tokens, st.meta.top_logprobs, &st.text_offset[idx]);
    }
    Json choice = {{"index", idx}, {"logprobs", lp}, {"finish_reason", nullptr}};
    if (chat) {
      choice["delta"] = {{"content", text}};
    } else {
      choice["text"] = text;
    }
    out += data_line(chunk(st, std::move(choice)));
  }
  if (ev.finished) {
    ++st.finished;
    if (ev.finish_reason == FinishReason::error) {
      st.failed = true;
      out += data_line(Json::parse(error_body(ev.error, "", "internal_error")));
    } else {
      Json choice = {{"index", idx},
                     {"logprobs", nullptr},
                     {"finish_reason", finish_reason_wire(ev.finish_reason)}};
      if (chat) {
        choice["delta"] = Json::object();
      } else {
        choice["text"] = "";
      }
      out += data_line(chunk(st, std::move(choice)));
    }
    if (st.finished == static_cast<int>(st.role_sent.size())) {
      if (st.meta.include_usage && !st.failed) {
        int total = 0, prompt_total = 0, cached_total = 0;
        for (int c : st.completion_tokens) total += c;
        for (int c : st.prompt_tokens) prompt_total += c;
        for (int c : st.cached_tokens) cached_total += c;
        Json last = chunk(st, nullptr);
        last["choices"] = Json::array();
        last["usage"] = usage_json(prompt_total, total, cached_total);
        out += data_line(last);
      }
      out += "data: [DONE]\n\n";
    }
  }
  s.stream_send(std::move(out));
  if (ev.finished && st.finished == static_cast<int>(st.role_sent.size())) s.end_stream();
}

}  // namespace

void stream_openai(ServerContext& ctx, OpenAiRequest r, const SessionPtr& s) {
  auto st = std::make_shared<StreamState>();
  st->n = r.params.n;
  const std::size_t n_prompts = r.prompts.size();
  const std::size_t choices = n_prompts * static_cast<std::size_t>(st->n);
  st->role_sent.assign(choices, false);
  st->text_offset.assign(choices, 0);
  st->completion_tokens.assign(choices, 0);
  st->prompt_tokens.assign(n_prompts, 0);
  st->cached_tokens.assign(n_prompts, 0);
  std::vector<PromptSpec> prompts = std::move(r.prompts);
  SamplingParams params = r.params;
  st->meta = std::move(r);
  std::weak_ptr<HttpSession> ws = s;
  submit_generations(ctx, std::move(prompts), params, s,
                     [st, ws](std::size_t prompt, const StreamEvent& ev) {
                       if (auto s = ws.lock()) on_stream_event(*st, *s, prompt, ev);
                     });
  s->begin_stream("text/event-stream");
}

}  // namespace lightllm::server
