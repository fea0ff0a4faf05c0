// src/server/routes.h — the route handlers (native_api.cpp: LightLLM's API; openai_api.cpp:
// OpenAI's). Each runs on the session strand, may throw ApiError for bad input, and answers
// through the session (now, or later from engine events).
#pragma once

#include <memory>

#include "server/generation.h"
#include "server/http_session.h"

namespace lightllm::server {

using SessionPtr = std::shared_ptr<HttpSession>;

// LightLLM native.
void handle_generate(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s, bool stream);
void handle_root(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);  // "stream" key
void handle_health(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);
void handle_token_load(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);
void handle_tokens(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);
void handle_metrics(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);

// OpenAI.
void handle_completions(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);
void handle_chat_completions(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);
void handle_models(ServerContext& ctx, const HttpRequest& req, const SessionPtr& s);

// Answers `j` as application/json with `status`.
void respond_json(const SessionPtr& s, int status, const Json& j);

}  // namespace lightllm::server
