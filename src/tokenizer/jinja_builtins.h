// src/tokenizer/jinja_builtins.h — the Jinja library: global functions (namespace, range,
// raise_exception, strftime_now, dict), filters, tests, attribute / item access with Python
// string / dict methods, slicing and binary operators, all with Python semantics.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_value.h"

namespace lightllm::tokenizer::jinja {

std::vector<std::string> utf8_chars(const std::string& s);
void install_globals(std::map<std::string, Value>& scope);
core::Result<Value> get_attr(const Value& obj, const std::string& name);
core::Result<Value> get_item(const Value& obj, const Value& key);
core::Result<Value> slice_value(const Value& obj, std::optional<int64_t> start,
                                std::optional<int64_t> stop, std::optional<int64_t> step);
core::Result<Value> apply_filter(const std::string& name, CallArgs& args);
core::Result<bool> apply_test(const std::string& name, CallArgs& args);
core::Result<Value> binary_op(const std::string& op, const Value& l, const Value& r);
core::Result<Value> call_value(const Value& f, CallArgs& args);

}  // namespace lightllm::tokenizer::jinja
