// src/server/openai_format.h — OpenAI request state shared by openai_api.cpp (parsing, whole
// responses) and openai_stream.cpp (SSE chunks), and the logprobs shapes of both APIs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/json_fields.h"
#include "server/routes.h"

namespace lightllm::server {

struct OpenAiRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return logprobs at all
  int top_logprobs = 0;        // alternatives per token
  std::string id;              // "cmpl-..." / "chatcmpl-..."
  std::string model;
  int64_t created = 0;
  PromptSpec prompt;  // what every prompt shares (truncation, special tokens, max_tokens field)
  std::vector<PromptSpec> prompts;  // completions: 1-kMaxPromptBatch; chat: the rendered messages
  SamplingParams params;
};

// Most prompts in one completions request (a list of strings or of token-id lists).
inline constexpr std::size_t kMaxPromptBatch = 64;

// Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}.
Json completion_logprobs(const std::vector<TokenOutput>& tokens, int top, std::size_t* text_offset);
// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
Json chat_logprobs(const std::vector<TokenOutput>& tokens, int top);
Json usage_json(int prompt_tokens, int completion_tokens, int cached_tokens);

void stream_openai(ServerContext& ctx, OpenAiRequest r, const SessionPtr& s);

}  // namespace lightllm::server
