// src/server/openai_api.cpp — OpenAI's /v1/completions, /v1/chat/completions and /v1/models:
// request parsing with OpenAI's ranges (errors in OpenAI's shape, naming `param`), mapping onto
// SamplingParams, and the non-streaming response bodies. Streaming is in openai_stream.cpp.
// Extensions accepted beyond OpenAI (as vLLM/LightLLM do): top_k, min_tokens,
// repetition_penalty, ignore_eos, skip_special_tokens, add_special_tokens, stop_token_ids,
// truncate_prompt_tokens, do_sample. Any other unknown field is rejected (400 naming it).
#include <atomic>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "server/openai_format.h"

namespace lightllm::server {
namespace {

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return fmt::format("{}-{:x}{:06x}", prefix, static_cast<uint64_t>(now) & 0xffffffffffull,
                     counter.fetch_add(1) & 0xffffff);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// OpenAI logit_bias: {"token id": bias in [-100, 100], ...}; ids as decimal strings.
std::vector<std::pair<int32_t, float>> parse_logit_bias(const Json& lb, int64_t vocab_size) {
  if (!lb.is_object())
    bad_field("logit_bias", fmt::format("logit_bias must be an object of token id -> bias, got {}",
                                        lb.type_name()));
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& [key, value] : lb.items()) {
    int64_t id = -1;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0 || id >= vocab_size)
      bad_field("logit_bias",
                fmt::format("logit_bias key '{}' is not a token id in [0, {})", key, vocab_size));
    if (!value.is_number() || value.get<double>() < -100.0 || value.get<double>() > 100.0)
      bad_field("logit_bias",
                fmt::format("logit_bias of token {} must be a number in [-100, 100]", key));
    for (const auto& [seen, b] : out) {
      if (seen == id) bad_field("logit_bias", fmt::format("logit_bias names token {} twice", id));
    }
    out.emplace_back(static_cast<int32_t>(id), value.get<float>());
  }
  return out;
}

void parse_common(const ServerContext& ctx, const Fields& f, OpenAiRequest& r) {
  const int64_t lim = ctx.context_limit;
  r.params = ctx.engine.default_sampling_params();  // generation_config.json defaults
  SamplingParams& p = r.params;
  r.model = f.get_string("model").value_or(ctx.model_name);
  r.stream = f.get_bool("stream").value_or(false);
  if (const Json* so = f.get_raw("stream_options")) {
    if (!r.stream)
      bad_field("stream_options", "stream_options is only allowed when stream is true");
    if (!so->is_object()) bad_field("stream_options", "stream_options must be an object");
    const Fields sf(*so, "stream_options.");
    sf.reject_unknown({"include_usage", "continuous_usage_stats"});
    r.include_usage = sf.get_bool("include_usage").value_or(false);
  }
  // Sampling: temperature 0 means greedy, as in OpenAI.
  p.do_sample = true;
  if (auto v = f.get_number("temperature", 0.0, 2.0)) {
    if (*v == 0.0) {
      p.do_sample = false;
    } else {
      p.temperature = static_cast<float>(*v);
    }
  }
  if (auto v = f.get_bool("do_sample")) p.do_sample = *v;
  if (auto v = f.get_number("top_p", 0.0, 1.0, true)) p.top_p = static_cast<float>(*v);
  if (auto v = f.get_int("top_k", -1, ctx.model.vocab_size)) p.top_k = static_cast<int>(*v);
  if (auto v = f.get_number("presence_penalty", -2.0, 2.0))
    p.presence_penalty = static_cast<float>(*v);
  if (auto v = f.get_number("frequency_penalty", -2.0, 2.0))
    p.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.get_number("repetition_penalty", 0.0, 1e6, true))
    p.repetition_penalty = static_cast<float>(*v);
  if (auto v = f.get_int("n", 1, 64)) p.n = static_cast<int>(*v);
  p.best_of = p.n;
  if (auto v = f.get_strings("stop", 4)) p.stop_sequences = *v;
  if (auto v = f.get_int_list("stop_token_ids", 0, ctx.model.vocab_size - 1)) p.stop_token_ids = *v;
  if (auto v = f.get_int("seed", INT64_MIN, INT64_MAX)) p.seed = static_cast<uint64_t>(*v);
  if (auto v = f.get_bool("ignore_eos")) p.ignore_eos = *v;
  if (auto v = f.get_bool("skip_special_tokens")) p.skip_special_tokens = *v;
  if (auto v = f.get_int("min_tokens", 0, lim)) p.min_new_tokens = static_cast<int>(*v);
  if (auto v = f.get_int("truncate_prompt_tokens", 1, lim)) r.prompt.truncate_to = *v;
  if (auto v = f.get_bool("add_special_tokens")) r.prompt.add_special_tokens = *v;
  if (const Json* lb = f.get_raw("logit_bias"); lb && !lb->is_null()) {
    p.logit_bias = parse_logit_bias(*lb, ctx.model.vocab_size);
  }
}

void set_max_tokens(const ServerContext& ctx, const Fields& f, OpenAiRequest& r, bool chat) {
  const int64_t lim = ctx.context_limit;
  std::optional<int64_t> mt;
  const char* field = "max_tokens";
  if (chat && f.has("max_completion_tokens")) {
    mt = f.get_int("max_completion_tokens", 1, lim);
    field = "max_completion_tokens";
  } else {
    mt = f.get_int("max_tokens", 1, lim);
  }
  r.prompt.max_tokens_field = field;
  if (mt) {
    r.params.max_new_tokens = static_cast<int>(*mt);
  } else if (chat) {
    r.prompt.max_tokens_given = false;  // chat: up to the context, as OpenAI does
  } else {
    r.params.max_new_tokens = 16;  // OpenAI's completions default
  }
  if (r.params.min_new_tokens > r.params.max_new_tokens && r.prompt.max_tokens_given) {
    bad_field("min_tokens", fmt::format("min_tokens ({}) must not exceed {} ({})",
                                        r.params.min_new_tokens, field, r.params.max_new_tokens));
  }
}

OpenAiRequest parse_completions(const ServerContext& ctx, const Json& body) {
  const Fields f(body);
  f.reject_unknown({"model",
                    "prompt",
                    "max_tokens",
                    "temperature",
                    "top_p",
                    "n",
                    "stream",
                    "stream_options",
                    "logprobs",
                    "echo",
                    "stop",
                    "presence_penalty",
                    "frequency_penalty",
                    "best_of",
                    "logit_bias",
                    "user",
                    "suffix",
                    "seed",
                    "top_k",
                    "min_tokens",
                    "repetition_penalty",
                    "ignore_eos",
                    "skip_special_tokens",
                    "add_special_tokens",
                    "stop_token_ids",
                    "truncate_prompt_tokens",
                    "do_sample"});
  OpenAiRequest r;
  r.id = new_id("cmpl");
  r.created = unix_now();
  parse_common(ctx, f, r);
  if (f.get_bool("echo").value_or(false)) bad_field("echo", "echo is not supported");
  if (f.has("suffix")) bad_field("suffix", "suffix is not supported");
  if (auto v = f.get_int("best_of", 1, 64)) {
    if (*v < r.params.n)
      bad_field("best_of", fmt::format("best_of ({}) must be >= n ({})", *v, r.params.n));
    if (r.stream && *v != r.params.n) bad_field("best_of", "best_of must equal n when streaming");
    r.params.best_of = static_cast<int>(*v);
  }
  if (auto v = f.get_int("logprobs", 0, 20)) {
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(*v);
  }
  set_max_tokens(ctx, f, r, false);
  const Json* prompt = f.get_raw("prompt");
  if (!prompt) bad_field("prompt", "prompt is required");
  // One prompt (a string or token ids) or a batch (a list of strings or of token-id lists):
  // prompt p's completion i is choice p·n + i.
  const bool batch = prompt->is_array() && !prompt->empty() &&
                     ((*prompt)[0].is_string() || (*prompt)[0].is_array());
  const std::size_t count = batch ? prompt->size() : 1;
  if (count > kMaxPromptBatch)
    bad_field("prompt", fmt::format("a batch of {} prompts; at most {} in one request", count,
                                    kMaxPromptBatch));
  for (std::size_t i = 0; i < count; ++i) {
    const Json& one = batch ? (*prompt)[i] : *prompt;
    PromptSpec spec = r.prompt;
    spec.field = batch ? fmt::format("prompt[{}]", i) : "prompt";
    if (one.is_string()) {
      spec.text = one.get<std::string>();
      if (spec.text.empty()) bad_field(spec.field, spec.field + " must not be empty");
    } else if (one.is_array() && !one.empty() && one[0].is_number()) {
      const Json wrap = {{spec.field, one}};
      spec.ids = *Fields(wrap).get_int_list(spec.field, 0, ctx.model.vocab_size - 1);
    } else if (batch) {
      bad_field(spec.field,
                fmt::format("{} must be a non-empty string or a non-empty list of token ids, "
                            "like the batch's first prompt",
                            spec.field));
    } else {
      bad_field("prompt", "prompt must be a non-empty string or a list of token ids");
    }
    if (batch && one.is_string() != (*prompt)[0].is_string())
      bad_field(spec.field, "a batch is a list of strings or a list of token-id lists, not both");
    r.prompts.push_back(std::move(spec));
  }
  return r;
}

// Normalizes OpenAI messages (string content or text parts) for Engine::render_chat.
Json normalize_messages(const Json* messages) {
  if (!messages) bad_field("messages", "messages is required");
  if (!messages->is_array())
    bad_field("messages", fmt::format("messages must be a list, got {}", messages->type_name()));
  if (messages->empty()) bad_field("messages", "messages must not be empty");
  Json out = Json::array();
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const std::string at = fmt::format("messages[{}]", i);
    const Json& m = (*messages)[i];
    if (!m.is_object()) bad_field(at, fmt::format("{} must be an object", at));
    const Fields mf(m, at + ".");
    const auto role = mf.get_string("role");
    if (!role) bad_field(at + ".role", fmt::format("{}.role is required", at));
    static const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};
    bool known = false;
    for (const char* k : kRoles) known = known || *role == k;
    if (!known)
      bad_field(at + ".role",
                fmt::format("{}.role '{}' is not one of system, developer, user, assistant, tool",
                            at, *role));
    Json nm = m;
    const Json* content = mf.get_raw("content");
    if (!content) {
      if (*role != "assistant")
        bad_field(at + ".content", fmt::format("{}.content is required", at));
      nm["content"] = "";
    } else if (content->is_array()) {
      std::string text;
      for (std::size_t j = 0; j < content->size(); ++j) {
        const Json& part = (*content)[j];
        const std::string pat = fmt::format("{}.content[{}]", at, j);
        if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
            !part.contains("text") || !part["text"].is_string()) {
          bad_field(pat,
                    fmt::format(
                        "{} must be {{\"type\": \"text\", \"text\": ...}} (only text is supported)",
                        pat));
        }
        if (!text.empty()) text += "\n";
        text += part["text"].get<std::string>();
      }
      nm["content"] = text;
    } else if (!content->is_string()) {
      bad_field(at + ".content",
                fmt::format("{}.content must be a string or a list of parts, got {}", at,
                            content->type_name()));
    }
    out.push_back(std::move(nm));
  }
  return out;
}

OpenAiRequest parse_chat(const ServerContext& ctx, const Json& body) {
  const Fields f(body);
  f.reject_unknown({"model",
                    "messages",
                    "max_tokens",
                    "max_completion_tokens",
                    "temperature",
                    "top_p",
                    "n",
                    "stream",
                    "stream_options",
                    "logprobs",
                    "top_logprobs",
                    "stop",
                    "presence_penalty",
                    "frequency_penalty",
                    "logit_bias",
                    "user",
                    "seed",
                    "response_format",
                    "tools",
                    "tool_choice",
                    "parallel_tool_calls",
                    "store",
                    "metadata",
                    "service_tier",
                    "top_k",
                    "min_tokens",
                    "repetition_penalty",
                    "ignore_eos",
                    "skip_special_tokens",
                    "add_special_tokens",
                    "stop_token_ids",
                    "truncate_prompt_tokens",
                    "do_sample",
                    "add_generation_prompt",
                    "chat_template_kwargs"});
  OpenAiRequest r;
  r.chat = true;
  r.id = new_id("chatcmpl");
  r.created = unix_now();
  r.prompt.add_special_tokens = false;  // the template writes BOS itself
  parse_common(ctx, f, r);
  r.logprobs = f.get_bool("logprobs").value_or(false);
  if (auto v = f.get_int("top_logprobs", 0, 20)) {
    if (!r.logprobs) bad_field("top_logprobs", "top_logprobs requires logprobs to be true");
    r.top_logprobs = static_cast<int>(*v);
  }
  if (const Json* t = f.get_raw("tools"); t && !t->empty())
    bad_field("tools", "tools are not supported");
  if (auto tc = f.get_raw("tool_choice"); tc && *tc != "none" && *tc != "auto") {
    bad_field("tool_choice", "tool_choice is not supported");
  }
  if (const Json* rf = f.get_raw("response_format")) {
    if (!rf->is_object() || rf->value("type", "") != "text") {
      bad_field("response_format", "only response_format {\"type\": \"text\"} is supported");
    }
  }
  set_max_tokens(ctx, f, r, true);
  Json tmpl = {{"messages", normalize_messages(f.get_raw("messages"))}};
  if (const Json* kw = f.get_raw("chat_template_kwargs")) {
    if (!kw->is_object())
      bad_field("chat_template_kwargs", "chat_template_kwargs must be an object");
    for (auto it = kw->begin(); it != kw->end(); ++it) {
      if (it.key() != "messages") tmpl[it.key()] = it.value();
    }
  }
  const bool gen_prompt = f.get_bool("add_generation_prompt").value_or(true);
  std::string prompt, error;
  if (!ctx.engine.render_chat(dump_json(tmpl), gen_prompt, &prompt, &error)) {
    bad_field("messages", "the chat template failed on messages: " + error);
  }
  r.prompt.text = std::move(prompt);
  r.prompt.field = "messages";
  // The template already wrote the special tokens (BOS...): tokenize without adding them, as
  // transformers' apply_chat_template does, unless the client asks otherwise.
  r.prompt.add_special_tokens = f.get_bool("add_special_tokens").value_or(false);
  r.prompts = {r.prompt};
  return r;
}

void finish_params(OpenAiRequest& r) {
  r.params.return_logprobs = r.logprobs;
  r.params.top_logprobs = r.top_logprobs;
}

void respond_whole(ServerContext& ctx, OpenAiRequest r, const SessionPtr& s) {
  auto meta = std::make_shared<OpenAiRequest>(r);
  auto on_done = [meta](const SessionPtr& session, const Collector& col) {
    Json choices = Json::array();
    int completion_tokens = 0;
    for (std::size_t i = 0; i < col.choices.size(); ++i) {
      const Completion& c = col.choices[i];
      completion_tokens += c.completion_tokens;
      Json choice = {{"index", i}, {"finish_reason", finish_reason_wire(c.finish)}};
      if (meta->chat) {
        choice["message"] = {{"role", "assistant"}, {"content", c.text}};
        choice["logprobs"] =
            meta->logprobs ? chat_logprobs(c.tokens, meta->top_logprobs) : Json(nullptr);
      } else {
        std::size_t offset = 0;
        choice["text"] = c.text;
        choice["logprobs"] = meta->logprobs
                                 ? completion_logprobs(c.tokens, meta->top_logprobs, &offset)
                                 : Json(nullptr);
      }
      choices.push_back(std::move(choice));
    }
    Json out = {
        {"id", meta->id},
        {"object", meta->chat ? "chat.completion" : "text_completion"},
        {"created", meta->created},
        {"model", meta->model},
        {"choices", choices},
        {"usage", usage_json(col.prompt_tokens(), completion_tokens, col.cached_prompt_tokens())}};
    respond_json(session, 200, out);
  };
  const int n = r.params.n;
  const auto n_prompts = static_cast<int>(r.prompts.size());
  submit_generations(ctx, std::move(r.prompts), r.params, s,
                     collect_batch_then(n, n_prompts, s, on_done));
}

}  // namespace

Json usage_json(int prompt_tokens, int completion_tokens, int cached_tokens) {
  Json u = {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
  if (cached_tokens > 0) u["prompt_tokens_details"] = {{"cached_tokens", cached_tokens}};
  return u;
}

static Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

Json completion_logprobs(const std::vector<TokenOutput>& tokens, int top, std::size_t* offset) {
  Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offs = Json::array();
  for (const auto& t : tokens) {
    toks.push_back(t.text);
    lps.push_back(t.logprob);
    Json alt = Json::object();
    for (std::size_t k = 0; k < t.top_logprobs.size() && static_cast<int>(k) < top; ++k) {
      alt[t.top_logprobs[k].text] = t.top_logprobs[k].logprob;
    }
    tops.push_back(std::move(alt));
    offs.push_back(*offset);
    *offset += t.text.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

Json chat_logprobs(const std::vector<TokenOutput>& tokens, int top) {
  Json content = Json::array();
  for (const auto& t : tokens) {
    Json alts = Json::array();
    for (std::size_t k = 0; k < t.top_logprobs.size() && static_cast<int>(k) < top; ++k) {
      const auto& a = t.top_logprobs[k];
      alts.push_back({{"token", a.text}, {"logprob", a.logprob}, {"bytes", bytes_of(a.text)}});
    }
    content.push_back({{"token", t.text},
                       {"logprob", t.logprob},
                       {"bytes", bytes_of(t.text)},
                       {"top_logprobs", alts}});
  }
  return {{"content", content}};
}

void handle_completions(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s) {
  OpenAiRequest r = parse_completions(ctx, parse_json_object(req.body));
  finish_params(r);
  if (r.stream) return stream_openai(ctx, std::move(r), s);
  respond_whole(ctx, std::move(r), s);
}

void handle_chat_completions(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s) {
  OpenAiRequest r = parse_chat(ctx, parse_json_object(req.body));
  finish_params(r);
  if (r.stream) return stream_openai(ctx, std::move(r), s);
  respond_whole(ctx, std::move(r), s);
}

void handle_models(ServerContext& ctx, const HttpRequest&, const SessionPtr& s) {
  Json model = {{"id", ctx.model_name},        {"object", "model"},
                {"created", ctx.created_unix}, {"owned_by", "lightllm"},
                {"root", ctx.model.name},      {"max_model_len", ctx.context_limit}};
  respond_json(s, 200, {{"object", "list"}, {"data", Json::array({model})}});
}

}  // namespace lightllm::server
