// src/server/json_fields.cpp — see json_fields.h.
#include "server/json_fields.h"

#include <cmath>

#include <fmt/format.h>

namespace lightllm::server {

void bad_field(const std::string& param, const std::string& message) {
  throw ApiError(400, message, param);
}

std::string error_body(std::string_view message, std::string_view param, std::string_view type) {
  Json err = {{"message", message},
              {"type", type},
              {"param", param.empty() ? Json(nullptr) : Json(param)},
              {"code", nullptr}};
  return dump_json(Json{{"error", err}, {"message", message}});
}

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json parse_json_object(const std::string& body) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    throw ApiError(400, fmt::format("body is not valid JSON: {}", e.what()), "body");
  }
  if (!j.is_object()) {
    throw ApiError(400, fmt::format("body must be a JSON object, got {}", j.type_name()), "body");
  }
  return j;
}

Fields::Fields(const Json& object, std::string prefix) : obj_(object), prefix_(std::move(prefix)) {}

const Json* Fields::get_raw(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Fields::has(std::string_view key) const {
  return get_raw(key) != nullptr;
}

std::optional<bool> Fields::get_bool(std::string_view key) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    bad_field(name(key), fmt::format("{} must be a boolean, got {}", name(key), v->type_name()));
  return v->get<bool>();
}

std::optional<std::string> Fields::get_string(std::string_view key) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  if (!v->is_string())
    bad_field(name(key), fmt::format("{} must be a string, got {}", name(key), v->type_name()));
  return v->get<std::string>();
}

std::optional<int64_t> Fields::get_int(std::string_view key, int64_t lo, int64_t hi) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  int64_t x = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      bad_field(name(key),
                fmt::format("{} must be in [{}, {}], got {}", name(key), lo, hi, v->dump()));
    }
    x = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             std::floor(v->get<double>()) == v->get<double>() &&
             std::fabs(v->get<double>()) < 9e18) {
    x = static_cast<int64_t>(v->get<double>());
  } else {
    bad_field(name(key), fmt::format("{} must be an integer, got {}", name(key),
                                     v->is_number() ? v->dump() : std::string(v->type_name())));
  }
  if (x < lo || x > hi) {
    bad_field(name(key), fmt::format("{} must be in [{}, {}], got {}", name(key), lo, hi, x));
  }
  return x;
}

std::optional<double> Fields::get_number(std::string_view key, double lo, double hi,
                                         bool lo_open) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  if (!v->is_number())
    bad_field(name(key), fmt::format("{} must be a number, got {}", name(key), v->type_name()));
  const double x = v->get<double>();
  const bool below = lo_open ? !(x > lo) : !(x >= lo);
  if (below || !(x <= hi)) {
    bad_field(name(key), fmt::format("{} must be in {}{}, {}], got {}", name(key),
                                     lo_open ? "(" : "[", lo, hi, v->dump()));
  }
  return x;
}

std::optional<std::vector<std::string>> Fields::get_strings(std::string_view key,
                                                            std::size_t max_items) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        bad_field(name(key), fmt::format("{}[{}] must be a string, got {}", name(key), i,
                                         (*v)[i].type_name()));
      }
      out.push_back((*v)[i].get<std::string>());
    }
  } else {
    bad_field(name(key), fmt::format("{} must be a string or a list of strings, got {}", name(key),
                                     v->type_name()));
  }
  if (out.size() > max_items) {
    bad_field(name(key), fmt::format("{} may hold at most {} strings, got {}", name(key), max_items,
                                     out.size()));
  }
  for (const auto& s : out) {
    if (s.empty())
      bad_field(name(key), fmt::format("{} must not contain empty strings", name(key)));
  }
  return out;
}

std::optional<std::vector<int32_t>> Fields::get_int_list(std::string_view key, int64_t lo,
                                                         int64_t hi) const {
  const Json* v = get_raw(key);
  if (!v) return std::nullopt;
  if (!v->is_array())
    bad_field(name(key),
              fmt::format("{} must be a list of integers, got {}", name(key), v->type_name()));
  std::vector<int32_t> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (!e.is_number_integer() || e.get<int64_t>() < lo || e.get<int64_t>() > hi) {
      bad_field(name(key), fmt::format("{}[{}] must be an integer in [{}, {}], got {}", name(key),
                                       i, lo, hi, e.dump()));
    }
    out.push_back(static_cast<int32_t>(e.get<int64_t>()));
  }
  return out;
}

void Fields::reject_unknown(std::initializer_list<std::string_view> known) const {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || (k == it.key());
    if (!ok) bad_field(name(it.key()), fmt::format("unknown field {}", name(it.key())));
  }
}

}  // namespace lightllm::server
