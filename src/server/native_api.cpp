// src/server/native_api.cpp — LightLLM's native API (lightllm/server/api_lightllm.py, api_http.py):
//   POST /generate        {"inputs", "parameters"} -> {"generated_text": [..],
//   "count_output_tokens",
//                         "finish_reason", "prompt_tokens", "tokens"? (return_details)}
//   POST /generate_stream one SSE event per token:
//                         data:{"token": {"id","text","logprob","special","count_output_tokens",
//                         "prompt_tokens"}, "generated_text": null, "finished", "finish_reason",
//                         "details": null}\n\n
//   POST /                routes on the body's "stream" boolean
//   /health, /token_load, /tokens, /metrics.
// Single-completion values are scalars and n > 1 gives lists, as LightLLM does.
#include <fmt/format.h>

#include "server/json_fields.h"
#include "server/routes.h"

namespace lightllm::server {
namespace {

struct NativeRequest {
  PromptSpec prompt;
  SamplingParams params;
  bool return_details = false;
};

// LightLLM's SamplingParams names; unknown keys are rejected like SamplingParams.init() does.
SamplingParams parse_parameters(const Json* raw, const ServerContext& ctx, bool* details) {
  SamplingParams p = ctx.engine.default_sampling_params();  // generation_config.json defaults
  p.return_logprobs = true;                                 // LightLLM reports each token's logprob
  if (!raw) return p;
  if (!raw->is_object())
    bad_field("parameters", fmt::format("parameters must be an object, got {}", raw->type_name()));
  const Fields f(*raw, "parameters.");
  f.reject_unknown({"do_sample", "temperature", "top_p", "top_k", "repetition_penalty",
                    "presence_penalty", "frequency_penalty", "max_new_tokens", "min_new_tokens",
                    "ignore_eos", "stop_sequences", "stop_token_ids", "best_of", "n", "seed",
                    "return_details", "skip_special_tokens", "add_special_tokens"});
  const int64_t ctx_len = ctx.context_limit;
  if (auto v = f.get_bool("do_sample")) p.do_sample = *v;
  if (auto v = f.get_number("temperature", 0.0, 1e6, true)) p.temperature = static_cast<float>(*v);
  if (auto v = f.get_number("top_p", 0.0, 1.0, true)) p.top_p = static_cast<float>(*v);
  if (auto v = f.get_int("top_k", -1, ctx.model.vocab_size)) p.top_k = static_cast<int>(*v);
  if (auto v = f.get_number("repetition_penalty", 0.0, 1e6, true))
    p.repetition_penalty = static_cast<float>(*v);
  if (auto v = f.get_number("presence_penalty", -2.0, 2.0))
    p.presence_penalty = static_cast<float>(*v);
  if (auto v = f.get_number("frequency_penalty", -2.0, 2.0))
    p.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.get_int("max_new_tokens", 1, ctx_len)) p.max_new_tokens = static_cast<int>(*v);
  if (auto v = f.get_int("min_new_tokens", 0, ctx_len)) p.min_new_tokens = static_cast<int>(*v);
  if (p.min_new_tokens > p.max_new_tokens) {
    bad_field("parameters.min_new_tokens",
              fmt::format("parameters.min_new_tokens ({}) must not exceed max_new_tokens ({})",
                          p.min_new_tokens, p.max_new_tokens));
  }
  if (auto v = f.get_bool("ignore_eos")) p.ignore_eos = *v;
  if (auto v = f.get_strings("stop_sequences", 16)) p.stop_sequences = *v;
  if (auto v = f.get_int_list("stop_token_ids", 0, ctx.model.vocab_size - 1)) p.stop_token_ids = *v;
  if (auto v = f.get_int("n", 1, 64)) p.n = static_cast<int>(*v);
  p.best_of = p.n;
  if (auto v = f.get_int("best_of", 1, 64)) p.best_of = static_cast<int>(*v);
  if (p.best_of < p.n) {
    bad_field("parameters.best_of",
              fmt::format("parameters.best_of ({}) must be >= n ({})", p.best_of, p.n));
  }
  if (auto v = f.get_int("seed", 0, INT64_MAX)) p.seed = static_cast<uint64_t>(*v);
  if (auto v = f.get_bool("return_details")) *details = *v;
  if (auto v = f.get_bool("skip_special_tokens")) p.skip_special_tokens = *v;
  return p;
}

NativeRequest parse_native(const ServerContext& ctx, const Json& body) {
  const Fields f(body);
  f.reject_unknown({"inputs", "parameters", "stream", "multimodal_params"});
  if (const Json* mm = f.get_raw("multimodal_params"); mm && !mm->empty()) {
    bad_field("multimodal_params", "multimodal_params is not supported by this server");
  }
  NativeRequest r;
  const Json* inputs = f.get_raw("inputs");
  if (!inputs) bad_field("inputs", "inputs is required");
  r.prompt.field = "inputs";
  r.prompt.max_tokens_field = "parameters.max_new_tokens";
  if (inputs->is_string()) {
    r.prompt.text = inputs->get<std::string>();
    if (r.prompt.text.empty()) bad_field("inputs", "inputs must not be empty");
  } else if (inputs->is_array()) {
    r.prompt.ids = *f.get_int_list("inputs", 0, ctx.model.vocab_size - 1);
    if (r.prompt.ids.empty()) bad_field("inputs", "inputs must not be empty");
  } else {
    bad_field("inputs", fmt::format("inputs must be a string or a list of token ids, got {}",
                                    inputs->type_name()));
  }
  const Json* params = f.get_raw("parameters");
  r.params = parse_parameters(params, ctx, &r.return_details);
  if (params && params->contains("add_special_tokens") &&
      (*params)["add_special_tokens"].is_boolean()) {
    r.prompt.add_special_tokens = (*params)["add_special_tokens"].get<bool>();
  }
  return r;
}

Json token_json(const TokenOutput& t) {
  return {{"id", t.id}, {"text", t.text}, {"logprob", t.logprob}, {"special", t.special}};
}

template <typename T>
Json one_or_list(const std::vector<T>& v) {
  return v.size() == 1 ? Json(v[0]) : Json(v);
}

void generate_whole(ServerContext& ctx, NativeRequest r, const SessionPtr& s) {
  const bool details = r.return_details;
  auto on_done = [details](const SessionPtr& session, const Collector& col) {
    std::vector<std::string> texts;
    std::vector<int> counts;
    std::vector<std::string> reasons;
    Json tokens = Json::array();
    for (const auto& c : col.choices) {
      texts.push_back(c.text);
      counts.push_back(c.completion_tokens);
      reasons.push_back(finish_reason_wire(c.finish));
      Json list = Json::array();
      for (const auto& t : c.tokens) list.push_back(token_json(t));
      tokens.push_back(std::move(list));
    }
    Json out = {{"generated_text", texts},
                {"count_output_tokens", one_or_list(counts)},
                {"finish_reason", one_or_list(reasons)},
                {"prompt_tokens", col.prompt_tokens()}};
    if (details) out["tokens"] = tokens.size() == 1 ? tokens[0] : tokens;
    respond_json(session, 200, out);
  };
  const int n = r.params.n;
  submit_generation(ctx, std::move(r.prompt), r.params, s, collect_then(n, s, on_done));
}

// Python's json.dumps(obj, ensure_ascii=False): ", " and ": " separators, keys in order. LightLLM
// writes each stream event that way, so the bytes on the wire are the same as LightLLM's.
void dump_python_style(const Json& j, std::string& out) {
  if (j.is_object()) {
    out += '{';
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ", ";
      out += dump_json(Json(it.key()));
      out += ": ";
      dump_python_style(it.value(), out);
    }
    out += '}';
  } else if (j.is_array()) {
    out += '[';
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (i > 0) out += ", ";
      dump_python_style(j[i], out);
    }
    out += ']';
  } else {
    out += dump_json(j);
  }
}

std::string sse_event(const Json& j) {
  std::string out = "data:";
  dump_python_style(j, out);
  out += "\n\n";
  return out;
}

void generate_stream(ServerContext& ctx, NativeRequest r, const SessionPtr& s) {
  if (r.params.n != 1 || r.params.best_of != 1) {
    bad_field("parameters.n", "the stream API supports only n == 1 and best_of == 1");
  }
  std::weak_ptr<HttpSession> ws = s;
  auto count = std::make_shared<int>(0);
  submit_generation(ctx, std::move(r.prompt), r.params, s, [ws, count](const StreamEvent& ev) {
    auto s = ws.lock();
    if (!s) return;
    auto event = [&](const TokenOutput* t, bool last) {
      Json tok = t ? token_json(*t)
                   : Json{{"id", nullptr}, {"text", ""}, {"logprob", nullptr}, {"special", false}};
      tok["count_output_tokens"] = *count;
      tok["prompt_tokens"] = ev.prompt_tokens;
      const bool fin = last && ev.finished;
      Json j = {{"token", tok},
                {"generated_text", nullptr},
                {"finished", fin},
                {"finish_reason", fin ? Json(finish_reason_wire(ev.finish_reason)) : Json(nullptr)},
                {"details", nullptr}};
      if (fin && ev.finish_reason == FinishReason::error) j["error"] = ev.error;
      s->stream_send(sse_event(j));
    };
    for (std::size_t i = 0; i < ev.tokens.size(); ++i) {
      ++*count;
      event(&ev.tokens[i], i + 1 == ev.tokens.size());
    }
    if (ev.finished && ev.tokens.empty()) event(nullptr, true);
    if (ev.finished) s->end_stream();
  });
  s->begin_stream("text/event-stream");
}

}  // namespace

void handle_generate(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s, bool stream) {
  Json body = parse_json_object(req.body);
  if (stream) return generate_stream(ctx, parse_native(ctx, body), s);
  generate_whole(ctx, parse_native(ctx, body), s);
}

void handle_root(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s) {
  Json body = parse_json_object(req.body);
  const bool stream = Fields(body).get_bool("stream").value_or(false);
  if (stream) return generate_stream(ctx, parse_native(ctx, body), s);
  generate_whole(ctx, parse_native(ctx, body), s);
}

// A real one-token generation when the engine is idle; busy engines are evidently alive.
void handle_health(ServerContext& ctx, const HttpRequest&, const SessionPtr& s) {
  if (ctx.draining) return respond_json(s, 503, {{"message", "Error"}});
  const EngineStats st = ctx.engine.stats();
  if (st.running + st.waiting > 0) return respond_json(s, 200, {{"message", "Ok"}});
  PromptSpec prompt;
  prompt.text = "Hello";
  prompt.field = "health";
  prompt.record_metrics = false;  // LightLLM's health check does not count as a request
  SamplingParams p;
  p.max_new_tokens = 1;
  std::weak_ptr<HttpSession> ws = s;
  try {
    submit_generation(ctx, std::move(prompt), p, s, [ws](const StreamEvent& ev) {
      if (!ev.finished) return;
      if (auto s = ws.lock()) {
        const bool ok = ev.finish_reason != FinishReason::error;
        respond_json(s, ok ? 200 : 503, {{"message", ok ? "Ok" : "Error"}});
      }
    });
  } catch (const ApiError& e) {
    respond_json(s, 503, {{"message", "Error"}, {"detail", e.what()}});
  }
}

void handle_token_load(ServerContext& ctx, const HttpRequest&, const SessionPtr& s) {
  const EngineStats st = ctx.engine.stats();
  const double load =
      st.kv_total > 0 ? static_cast<double>(st.kv_used) / static_cast<double>(st.kv_total) : 0.0;
  respond_json(s, 200,
               {{"current_load", load}, {"logical_max_load", load}, {"dynamic_max_load", load}});
}

void handle_tokens(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s) {
  Json body = parse_json_object(req.body);
  const Fields f(body);
  f.reject_unknown({"text", "parameters", "multimodal_params"});
  auto text = f.get_string("text");
  if (!text) bad_field("text", "text is required");
  bool add_special = true;
  if (const Json* p = f.get_raw("parameters")) {
    if (!p->is_object()) bad_field("parameters", "parameters must be an object");
    if (auto v = Fields(*p, "parameters.").get_bool("add_special_tokens")) add_special = *v;
  }
  respond_json(s, 200, {{"ntokens", ctx.engine.tokenize(*text, add_special).size()}});
}

void handle_metrics(ServerContext& ctx, const HttpRequest&, const SessionPtr& s) {
  s->respond(200, "text/plain; version=0.0.4; charset=utf-8",
             ctx.metrics.render(ctx.engine.stats(), ctx.http_in_flight.load()));
}

}  // namespace lightllm::server
