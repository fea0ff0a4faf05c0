// src/core/log.cpp — logging setup: everything goes to stderr so stdout stays machine-readable.
#include "core/log.h"

#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace lightllm::core {

void set_log_level(std::string_view level) {
  static const bool installed = [] {
    auto logger = spdlog::stderr_color_mt("lightllm");
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)installed;
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for names it does not know; only "off" itself may turn logging off.
  spdlog::set_level(parsed == spdlog::level::off && level != "off" ? spdlog::level::info : parsed);
}

}  // namespace lightllm::core
