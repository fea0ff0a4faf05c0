// src/core/status.cpp — Status formatting.
#include "core/status.h"

namespace lightllm::core {

std::string_view status_code_name(StatusCode c) {
  switch (c) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::not_found: return "not_found";
    case StatusCode::data_loss: return "data_loss";
    case StatusCode::unimplemented: return "unimplemented";
    case StatusCode::out_of_memory: return "out_of_memory";
    case StatusCode::internal: return "internal";
    case StatusCode::cancelled: return "cancelled";
    case StatusCode::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", status_code_name(code_), message_);
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, fmt::format("{}: {}", context, message_));
}

}  // namespace lightllm::core
