// src/tokenizer/chat_template.cpp — ChatTemplate on top of the Jinja parser / interpreter.
#include "tokenizer/chat_template.h"

#include "tokenizer/jinja_interp.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::tokenizer {

core::Result<ChatTemplate> ChatTemplate::parse(std::string source) {
  ChatTemplate t;
  LLM_ASSIGN_OR_RETURN(auto root, jinja::parse_template(source));
  t.root_ = std::make_shared<const std::vector<std::unique_ptr<jinja::Node>>>(std::move(root));
  t.source_ = std::move(source);
  return t;
}

core::Result<std::string> ChatTemplate::render(const nlohmann::json& context) const {
  if (!context.is_object())
    return core::invalid_argument("chat template context must be an object");
  return render(nlohmann::ordered_json::parse(context.dump()));
}

core::Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object())
    return core::invalid_argument("chat template context must be an object");
  return jinja::render(*root_, context);
}

nlohmann::json make_chat_context(const nlohmann::json& messages, bool add_generation_prompt,
                                 const Tokenizer& tokenizer) {
  nlohmann::json ctx = nlohmann::json::object();
  const auto& raw = tokenizer.config().raw;
  for (const char* key : {"unk_token", "pad_token"}) {
    if (!raw.is_object() || !raw.contains(key)) continue;
    const auto& v = raw[key];
    if (v.is_string())
      ctx[key] = v;
    else if (v.is_object() && v.contains("content"))
      ctx[key] = v["content"];
  }
  ctx["bos_token"] = tokenizer.bos_token();
  ctx["eos_token"] = tokenizer.eos_token();
  ctx["messages"] = messages;
  ctx["add_generation_prompt"] = add_generation_prompt;
  return ctx;
}

}  // namespace lightllm::tokenizer
