// tests/fuzz/chat_template_fuzz.cpp — libFuzzer target for the Jinja chat-template interpreter:
// the input is parsed as a template and, when it parses, rendered over a fixed conversation.
// Parse and render must return a Status (never crash, never hang: -timeout catches loops).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  auto tmpl = lightllm::tokenizer::ChatTemplate::parse(
      std::string(reinterpret_cast<const char*>(data), size));
  if (!tmpl.ok()) return 0;
  static const nlohmann::ordered_json ctx = {{"messages",
                                              {{{"role", "system"}, {"content", "Be brief."}},
                                               {{"role", "user"}, {"content", "Hi 中文 🚀"}},
                                               {{"role", "assistant"}, {"content", "  Hello!  "}},
                                               {{"role", "user"}, {"content", "Again?"}}}},
                                             {"add_generation_prompt", true},
                                             {"bos_token", "<s>"},
                                             {"eos_token", "</s>"},
                                             {"tools", nlohmann::ordered_json::array()}};
  auto out = tmpl->render(ctx);
  (void)out;
  return 0;
}
