// src/core/log.h — process-wide logging on spdlog (stderr, one line per event).
// Use LLM_INFO("loaded {} tensors", n) etc.; set the level once at startup.
#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

namespace lightllm::core {

// Level names: trace, debug, info, warn, error, off. Unknown names keep "info".
void set_log_level(std::string_view level);

}  // namespace lightllm::core

#define LLM_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define LLM_INFO(...) ::spdlog::info(__VA_ARGS__)
#define LLM_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define LLM_ERROR(...) ::spdlog::error(__VA_ARGS__)
