// src/engine/chat.cpp — Engine::render_chat: the model's chat template (tokenizer_config.json)
// over an OpenAI-style request, rendered exactly as transformers' apply_chat_template does.
// The rendered prompt already holds the template's special tokens, so callers tokenize it
// with add_special_tokens = false (as HF does).
#include "engine/engine_impl.h"
#include "tokenizer/chat_template.h"

namespace lightllm::engine {

bool EngineImpl::render_chat(const std::string& request_json, bool add_generation_prompt,
                             std::string* prompt, std::string* error) const {
  auto fail = [&](std::string msg) {
    if (error) *error = std::move(msg);
    return false;
  };
  if (!chat_template_) {
    return fail(tokenizer_ ? "this model has no chat_template in tokenizer_config.json"
                           : "this model folder has no tokenizer, so no chat template");
  }
  // Keep the client's key order (Python dicts do), for templates that iterate items / tojson.
  nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(request_json, nullptr, false);
  if (ctx.is_discarded() || !ctx.is_object()) return fail("the chat request is not a JSON object");
  if (!ctx.contains("messages") || !ctx["messages"].is_array() || ctx["messages"].empty())
    return fail("messages must be a non-empty array");
  const auto& raw = tokenizer_->config().raw;
  for (const char* key : {"unk_token", "pad_token"}) {
    if (!raw.is_object() || !raw.contains(key)) continue;
    const auto& v = raw[key];
    if (v.is_string()) ctx[key] = v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
      ctx[key] = v["content"].get<std::string>();
  }
  ctx["bos_token"] = tokenizer_->bos_token();
  ctx["eos_token"] = tokenizer_->eos_token();
  ctx["add_generation_prompt"] = add_generation_prompt;
  auto rendered = chat_template_->render(ctx);
  if (!rendered.ok()) return fail("chat template: " + rendered.status().message());
  *prompt = std::move(rendered).value();
  return true;
}

}  // namespace lightllm::engine
