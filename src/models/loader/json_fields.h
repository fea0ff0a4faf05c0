// src/models/loader/json_fields.h — typed, non-throwing reads of JSON object fields.
// Every error is invalid_argument and names the file and the field ("config.json: field
// 'hidden_size' must be an integer, got string"). A field set to null counts as absent,
// as HF configs write `"rope_scaling": null` for "not set".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::loader {

class JsonFields {
 public:
  // `obj` must outlive this reader. `prefix` is prepended to field names in messages
  // ("rope_scaling." for a nested object).
  JsonFields(const nlohmann::json& obj, std::string file, std::string prefix = "")
      : obj_(obj), file_(std::move(file)), prefix_(std::move(prefix)) {}

  // The value of `key`, or nullptr when it is missing or null.
  const nlohmann::json* find(const std::string& key) const;
  // The first of `keys` that is present (not null), or "" when none is.
  std::string first_present(std::initializer_list<const char*> keys) const;

  core::Result<std::optional<int64_t>> opt_int(const std::string& key) const;
  core::Result<std::optional<double>> opt_double(const std::string& key) const;
  core::Result<std::optional<bool>> opt_bool(const std::string& key) const;
  core::Result<std::optional<std::string>> opt_string(const std::string& key) const;
  // An integer or a list of integers (eos_token_id); empty when absent.
  core::Result<std::vector<int64_t>> int_or_int_list(const std::string& key) const;

  // invalid_argument: "<file>: field '<prefix><key>' <what>".
  core::Status error(const std::string& key, const std::string& what) const;

 private:
  core::Status type_error(const std::string& key, const char* expected) const;

  const nlohmann::json& obj_;
  std::string file_;
  std::string prefix_;
};

}  // namespace lightllm::loader
