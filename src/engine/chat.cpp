// src/engine/chat.cpp — Engine::render_chat: the model's chat template over OpenAI messages.
#include "engine/engine_impl.h"

namespace lightllm::engine {

bool EngineImpl::render_chat(const std::string& request_json, bool add_generation_prompt,
                             std::string* prompt, std::string* error) const {
  (void)request_json;
  (void)add_generation_prompt;
  (void)prompt;
  if (error) *error = "chat templates are not available in this build yet";
  return false;
}

}  // namespace lightllm::engine
