// src/models/loader/json_fields.cpp — typed reads of JSON fields (see json_fields.h).
#include "models/loader/json_fields.h"

#include <cmath>

namespace lightllm::loader {

using nlohmann::json;

const json* JsonFields::find(const std::string& key) const {
  if (!obj_.is_object()) return nullptr;
  const auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string JsonFields::first_present(std::initializer_list<const char*> keys) const {
  for (const char* k : keys)
    if (find(k) != nullptr) return k;
  return "";
}

core::Status JsonFields::error(const std::string& key, const std::string& what) const {
  return core::invalid_argument("{}: field '{}{}' {}", file_, prefix_, key, what);
}

core::Status JsonFields::type_error(const std::string& key, const char* expected) const {
  return error(key, std::string("must be ") + expected + ", got " + find(key)->type_name() + " " +
                        find(key)->dump().substr(0, 40));
}

core::Result<std::optional<int64_t>> JsonFields::opt_int(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_number_integer() && !v->is_number_unsigned()) return std::optional(v->get<int64_t>());
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return error(key, "is too large");
    return std::optional(static_cast<int64_t>(u));
  }
  // 4096.0 is accepted as 4096; 1.5 is not an integer.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return std::optional(static_cast<int64_t>(d));
  }
  return type_error(key, "an integer");
}

core::Result<std::optional<double>> JsonFields::opt_double(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::optional<double>();
  if (v->is_number()) return std::optional(v->get<double>());
  return type_error(key, "a number");
}

core::Result<std::optional<bool>> JsonFields::opt_bool(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional(v->get<bool>());
  return type_error(key, "true or false");
}

core::Result<std::optional<std::string>> JsonFields::opt_string(const std::string& key) const {
  const json* v = find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_string()) return std::optional(v->get<std::string>());
  return type_error(key, "a string");
}

core::Result<std::vector<int64_t>> JsonFields::int_or_int_list(const std::string& key) const {
  const json* v = find(key);
  std::vector<int64_t> out;
  if (v == nullptr) return out;
  if (v->is_array()) {
    for (const json& x : *v) {
      if (!x.is_number_integer()) return type_error(key, "an integer or a list of integers");
      out.push_back(x.get<int64_t>());
    }
    return out;
  }
  LLM_ASSIGN_OR_RETURN(std::optional<int64_t> one, opt_int(key));
  if (one) out.push_back(*one);
  return out;
}

}  // namespace lightllm::loader
