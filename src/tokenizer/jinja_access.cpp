// src/tokenizer/jinja_access.cpp — attribute, item and slice access of Jinja values (see
// jinja_builtins.h): namespace attributes, dict keys, list / string indexing by code point,
// Python's str methods (strip, split, startswith, replace, find, join, ...) and dict methods
// (items, keys, values, get) as bound callables, and slicing with Python's clamping rules.
// A missing attribute or index is undefined, never an error (jinja2's Undefined).
#include <charconv>

#include <algorithm>
#include <cctype>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_py.h"

namespace lightllm::tokenizer::jinja {

using core::Result;

namespace {

Result<Value> starts_or_ends_with(const std::string& s, bool start, CallArgs& a) {
  if (a.args.empty()) return type_error("startswith/endswith needs an argument");
  const Json& p = data_or_null(a.args[0]);
  std::vector<std::string> prefixes;
  if (p.is_string())
    prefixes.push_back(p.get<std::string>());
  else if (p.is_array())
    for (const auto& e : p)
      if (e.is_string()) prefixes.push_back(e.get<std::string>());
  for (const auto& x : prefixes) {
    if (x.size() <= s.size() && s.compare(start ? 0 : s.size() - x.size(), x.size(), x) == 0)
      return Value(Json(true));
  }
  return Value(Json(false));
}

Result<Value> find_or_count(const std::string& s, bool find, CallArgs& a) {
  auto x = opt_str(a, "sub", 0);
  if (!x) return type_error("find()/count() needs a string");
  if (find) {  // an index in code points
    const size_t p = s.find(*x);
    if (p == std::string::npos) return Value(Json(int64_t{-1}));
    return Value(Json(static_cast<int64_t>(utf8_chars(s.substr(0, p)).size())));
  }
  if (x->empty()) return Value(Json(static_cast<int64_t>(utf8_chars(s).size()) + 1));
  int64_t n = 0;
  for (size_t p = s.find(*x); p != std::string::npos; p = s.find(*x, p + x->size())) ++n;
  return Value(Json(n));
}

// The method `name` of string `s` bound to it; undefined when str has no such method.
Result<Value> string_method(const std::string& s, const std::string& name) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return method([s, l, r](CallArgs& a) -> Result<Value> {
      return Value(Json(py_strip(s, opt_str(a, "chars", 0), l, r)));
    });
  }
  if (name == "split") {
    return method([s](CallArgs& a) -> Result<Value> {
      return Value(py_split(s, opt_str(a, "sep", 0), opt_int(a, "maxsplit", 1, -1)));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool start = name == "startswith";
    return method([s, start](CallArgs& a) { return starts_or_ends_with(s, start, a); });
  }
  if (StringFn f = string_case_fn(name))
    return method([s, f](CallArgs&) -> Result<Value> { return Value(Json(f(s))); });
  if (name == "islower" || name == "isupper") {
    const LetterCase want = name == "islower" ? LetterCase::lower : LetterCase::upper;
    return method(
        [s, want](CallArgs&) -> Result<Value> { return Value(Json(py_is_case(s, want))); });
  }
  if (name == "replace") {
    return method([s](CallArgs& a) -> Result<Value> {
      auto from = opt_str(a, "old", 0), to = opt_str(a, "new", 1);
      if (!from || !to) return type_error("replace() needs two strings");
      return Value(Json(replace_all(s, *from, *to, opt_int(a, "count", 2, -1))));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return method([s, find](CallArgs& a) { return find_or_count(s, find, a); });
  }
  if (name == "join") {
    return method([s](CallArgs& a) -> Result<Value> {
      std::string out;
      const Json& l = a.args.empty() ? Json() : data_or_null(a.args[0]);
      bool first = true;
      for (const auto& e : l) {
        if (!first) out += s;
        first = false;
        out += to_str(Value(e));
      }
      return Value(Json(out));
    });
  }
  return Value::undefined();
}

// The method `name` of dict `d` bound to it; undefined when dict has no such method.
Result<Value> dict_method(const Json& d, const std::string& name) {
  if (name == "items")
    return method([d](CallArgs&) -> Result<Value> { return Value(dict_items(d)); });
  if (name == "keys" || name == "values") {
    const bool keys = name == "keys";
    return method([d, keys](CallArgs&) -> Result<Value> {
      Json out = Json::array();
      for (const auto& [k, v] : d.items()) out.push_back(keys ? Json(k) : v);
      return Value(out);
    });
  }
  if (name == "get") {
    return method([d](CallArgs& a) -> Result<Value> {
      auto k = opt_str(a, "key", 0);
      if (k && d.contains(*k)) return Value(d[*k]);
      return a.args.size() > 1 ? a.args[1] : Value(Json());
    });
  }
  return Value::undefined();
}

}  // namespace

Result<Value> get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return undefined_error(name);
  if (obj.kind == Value::Kind::ns) {
    if (obj.ns->contains(name)) return Value((*obj.ns)[name]);
    return Value::undefined();
  }
  if (!obj.is_data()) return Value::undefined();
  const Json& j = obj.data;
  if (j.is_object()) {
    if (j.contains(name)) return Value(j[name]);
    return dict_method(j, name);
  }
  if (j.is_string()) return string_method(j.get<std::string>(), name);
  if (j.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
    int64_t index = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (ec != std::errc() || end != name.data() + name.size()) return Value::undefined();
    return get_item(obj, Value(Json(index)));
  }
  return Value::undefined();
}

Result<Value> get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return undefined_error(to_str(key));
  if (obj.kind == Value::Kind::ns) return get_attr(obj, to_str(key));
  if (obj.generator) return Value::undefined();  // generator[i]: TypeError, so undefined
  const Json& j = data_or_null(obj);
  const Json& k = data_or_null(key);
  if (j.is_object()) {
    if (k.is_string() && j.contains(k.get<std::string>())) return Value(j[k.get<std::string>()]);
    if (k.is_string()) return dict_method(j, k.get<std::string>());
    return Value::undefined();
  }
  if ((j.is_array() || j.is_string()) && k.is_number_integer()) {
    int64_t i = k.get<int64_t>();
    if (j.is_array()) {
      const auto n = static_cast<int64_t>(j.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined();
      return Value(j[static_cast<size_t>(i)]);
    }
    const auto chars = utf8_chars(j.get<std::string>());
    const auto n = static_cast<int64_t>(chars.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined();
    return Value(Json(chars[static_cast<size_t>(i)]));
  }
  if (j.is_string() && k.is_string())
    return string_method(j.get<std::string>(), k.get<std::string>());
  return Value::undefined();
}

Result<Value> slice_value(const Value& obj, std::optional<int64_t> start,
                          std::optional<int64_t> stop, std::optional<int64_t> step_opt) {
  if (obj.generator)  // jinja2 slices by Python's own subscript, not environment.getitem
    return core::invalid_argument("'generator' object is not subscriptable");
  const Json& j = data_or_null(obj);
  const bool is_str = j.is_string();
  if (!is_str && !j.is_array())
    return core::invalid_argument("'{}' object is not subscriptable", type_name(obj));
  LLM_ASSIGN_OR_RETURN(const Json items, as_list(obj));  // a string's code points
  const auto n = static_cast<int64_t>(items.size());
  const int64_t step = step_opt.value_or(1);
  if (step == 0) return core::invalid_argument("slice step cannot be zero");
  // Python's slice.indices: negative bounds count from the end, then clamp to the range the
  // step direction can reach.
  auto clamp = [&](std::optional<int64_t> v, int64_t def) -> int64_t {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    return step > 0 ? std::clamp<int64_t>(x, 0, n) : std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t b = clamp(start, step > 0 ? 0 : n - 1);
  const int64_t e = clamp(stop, step > 0 ? n : -1);
  Json out = Json::array();
  std::string s;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
    if (is_str)
      s += items[static_cast<size_t>(i)].get<std::string>();
    else
      out.push_back(items[static_cast<size_t>(i)]);
  }
  return is_str ? Value(Json(s)) : Value(out);
}

}  // namespace lightllm::tokenizer::jinja
