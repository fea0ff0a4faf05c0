// src/tokenizer/jinja_builtins.h — the Jinja library the interpreter calls, all with Python
// semantics. Where each part lives:
//   jinja_py.cpp         shared Python helpers (jinja_py.h), utf8_chars, as_list
//   jinja_access.cpp     get_attr / get_item (with str and dict methods), slice_value
//   jinja_operators.cpp  install_globals (namespace, range, raise_exception, strftime_now,
//                        dict), binary_op and apply_test
//   jinja_filters.cpp    apply_filter
// Errors are invalid_argument (Python's TypeError / ValueError); the interpreter adds the line
// and column. An unsupported filter is unimplemented.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_value.h"

namespace lightllm::tokenizer::jinja {

// The code points of UTF-8 `s`, one string each (how Python indexes and iterates a str).
std::vector<std::string> utf8_chars(const std::string& s);
// list(v): a list as is, a dict's keys, a string's code points; undefined is empty; what is
// left of a generator (Value::generator), which it consumes.
core::Result<Json> as_list(const Value& v);
void install_globals(std::map<std::string, Value>& scope);
core::Result<Value> get_attr(const Value& obj, const std::string& name);
core::Result<Value> get_item(const Value& obj, const Value& key);
core::Result<Value> slice_value(const Value& obj, std::optional<int64_t> start,
                                std::optional<int64_t> stop, std::optional<int64_t> step);
// args.args[0] is the filtered / tested value.
core::Result<Value> apply_filter(const std::string& name, CallArgs& args);
core::Result<bool> apply_test(const std::string& name, CallArgs& args);
core::Result<Value> binary_op(const std::string& op, const Value& l, const Value& r);

}  // namespace lightllm::tokenizer::jinja
