// src/tokenizer/chat_template.h — chat templates (the Jinja `chat_template` of
// tokenizer_config.json), rendered character-for-character as transformers does with jinja2.
//
//   auto tmpl = ChatTemplate::parse(config.chat_template.value());
//   nlohmann::json ctx = make_chat_context(messages, /*add_generation_prompt=*/true, tok);
//   auto prompt = tmpl->render(ctx);
//
// Invariants: a parsed ChatTemplate is immutable and render() is thread-safe; syntax and
// runtime errors (including raise_exception) come back as Status with line and column.
// Object key order: nlohmann::json sorts object keys, so with render(const json&) iterating a
// message's items / tojson of a dict lists keys alphabetically; render(const ordered_json&)
// keeps insertion order exactly as Python dicts do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer {

class Tokenizer;
namespace jinja {
struct Node;
}

class ChatTemplate {
 public:
  static core::Result<ChatTemplate> parse(std::string source);
  core::Result<std::string> render(const nlohmann::json& context) const;
  // Same, keeping the context's object key order (what Python dicts do): use it when a template
  // iterates dict items or applies tojson to dicts.
  core::Result<std::string> render(const nlohmann::ordered_json& context) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Node>>> root_;
};

// {"messages": messages, "add_generation_prompt": ..., "bos_token": ..., "eos_token": ...,
//  plus the other string special tokens of tokenizer_config.json (unk_token, pad_token)}.
nlohmann::json make_chat_context(const nlohmann::json& messages, bool add_generation_prompt,
                                 const Tokenizer& tokenizer);

}  // namespace lightllm::tokenizer
