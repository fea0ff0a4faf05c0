// src/server/json_fields.h — typed, range-checked reading of request JSON, and error bodies.
//
// Every reader throws ApiError whose message and `param` name the offending field with its full
// path ("parameters.top_p", "messages[2].content"), so each bad request gets a 4xx that says
// exactly what is wrong. ApiError is an exception used only inside the HTTP layer's request
// handling (DESIGN.md §8); the dispatcher catches it and answers with error_body().
// A JSON null counts as "absent" (OpenAI clients send nulls for unset fields).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lightllm::server {

using Json = nlohmann::ordered_json;  // keeps keys in the order we write them

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(std::move(message)),
        status_(status),
        param_(std::move(param)),
        type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_;
  std::string type_;
};

// 400 naming `param`.
[[noreturn]] void bad_field(const std::string& param, const std::string& message);

// {"error": {"message", "type", "param", "code"}, "message"}: OpenAI's shape plus LightLLM's
// top-level "message", so clients of either API read it. Empty param -> null.
std::string error_body(std::string_view message, std::string_view param, std::string_view type);

// Serializes without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string dump_json(const Json& j);

// Parses a request body that must be a JSON object; errors name "body".
Json parse_json_object(const std::string& body);

// Reads fields of one JSON object; `prefix` is prepended to field names in errors.
class Fields {
 public:
  Fields(const Json& object, std::string prefix = "");

  bool has(std::string_view key) const;  // present and not null
  std::string name(std::string_view key) const { return prefix_ + std::string(key); }

  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Integer in [lo, hi]; floats with a fractional part are rejected.
  std::optional<int64_t> get_int(std::string_view key, int64_t lo, int64_t hi) const;
  // Number in the range; `lo_open` makes the lower bound exclusive.
  std::optional<double> get_number(std::string_view key, double lo, double hi,
                                   bool lo_open = false) const;
  // A string or a list of strings (OpenAI `stop`), at most `max_items`, each non-empty.
  std::optional<std::vector<std::string>> get_strings(std::string_view key,
                                                      std::size_t max_items) const;
  std::optional<std::vector<int32_t>> get_int_list(std::string_view key, int64_t lo,
                                                   int64_t hi) const;
  const Json* get_raw(std::string_view key) const;

  // Rejects any key not in `known` (400 naming the first unknown field).
  void reject_unknown(std::initializer_list<std::string_view> known) const;

 private:
  const Json& obj_;
  std::string prefix_;
};

}  // namespace lightllm::server
