// src/tokenizer/jinja_value.h — runtime values of the Jinja interpreter: JSON data (ordered, as
// Python dicts are), undefined, macros / builtin callables and mutable namespace() objects.
// Also the Python-compatible string forms: str() for output, repr() inside containers, and
// json.dumps() for the tojson filter as transformers defines it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace lightllm::tokenizer::jinja {

using Json = nlohmann::ordered_json;
struct Node;
struct Value;

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};
using Builtin = std::function<core::Result<Value>(CallArgs&)>;

struct Value {
  enum class Kind { undefined, data, builtin, ns };
  Kind kind = Kind::undefined;
  Json data;                    // Kind::data
  std::shared_ptr<Builtin> fn;  // Kind::builtin (also macros)
  std::shared_ptr<Json> ns;     // Kind::ns: attributes of a namespace() object
  // A string that jinja2 holds as markupsafe.Markup (made by |safe or |escape): '+' with a
  // plain string HTML-escapes that string, as Markup.__add__ / __radd__ do. Kept through
  // variables, lost in containers and by every other operation (which give plain str).
  bool markup = false;
  // Set on a list that jinja2 holds as a generator (what map / select / reject / selectattr /
  // rejectattr return), shared by its copies: the index of its next item. Iterating it
  // (as_list) consumes the rest and `first` one item. It is truthy even when empty; len() and
  // json.dumps() and slicing of it raise TypeError, indexing gives undefined, `last` cannot
  // reverse it, and it is no sequence. (Printing shows the list where jinja2 prints the
  // generator's repr with its address; a generator made from another consumes it at once.)
  std::shared_ptr<size_t> generator;

  Value() = default;
  Value(Json j) : kind(Kind::data), data(std::move(j)) {}  // NOLINT: implicit by design
  static Value undefined() { return Value(); }
  static Value callable(Builtin f) {
    Value v;
    v.kind = Kind::builtin;
    v.fn = std::make_shared<Builtin>(std::move(f));
    return v;
  }
  bool is_undefined() const { return kind == Kind::undefined; }
  bool is_data() const { return kind == Kind::data; }
};

// Python truthiness.
bool truthy(const Value& v);
// str(v) as Jinja prints it (None -> "None", True -> "True", lists as Python repr).
std::string to_str(const Value& v);
std::string py_repr(const Json& j);
// json.dumps(j, ensure_ascii=False, indent=indent (<0: None), sort_keys=false).
std::string to_json(const Json& j, int indent);

}  // namespace lightllm::tokenizer::jinja
