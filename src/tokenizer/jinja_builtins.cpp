// src/tokenizer/jinja_builtins.cpp — Jinja globals, filters, tests, methods and operators with
// Python semantics (see jinja_builtins.h).
#include "tokenizer/jinja_builtins.h"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "tokenizer/unicode.h"

namespace lightllm::tokenizer::jinja {

namespace {

using core::Result;

Result<Value> type_error(const std::string& msg) {
  return core::invalid_argument("{}", msg);
}

const Json& data_or_null(const Value& v) {
  static const Json kNull;
  return v.is_data() ? v.data : kNull;
}

std::string type_name(const Value& v) {
  if (v.is_undefined()) return "Undefined";
  if (!v.is_data()) return "function";
  switch (v.data.type()) {
    case Json::value_t::null: return "NoneType";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::string: return "str";
    case Json::value_t::array: return "list";
    case Json::value_t::object: return "dict";
    case Json::value_t::number_float: return "float";
    default: return "int";
  }
}

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool l,
                     bool r) {
  auto in_set = [&](char c) { return chars ? chars->find(c) != std::string::npos : is_ws(c); };
  size_t b = 0, e = s.size();
  if (l)
    while (b < e && in_set(s[b])) ++b;
  if (r)
    while (e > b && in_set(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Json py_split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit) {
  Json out = Json::array();
  if (!sep) {
    size_t i = 0;
    int64_t n = 0;
    while (true) {
      while (i < s.size() && is_ws(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && n >= maxsplit) {
        size_t e = s.size();
        while (e > i && is_ws(s[e - 1])) --e;
        out.push_back(s.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_ws(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      ++n;
      i = j;
    }
    return out;
  }
  size_t prev = 0;
  int64_t n = 0;
  while (true) {
    const size_t pos = (maxsplit >= 0 && n >= maxsplit) ? std::string::npos : s.find(*sep, prev);
    if (pos == std::string::npos || sep->empty()) {
      out.push_back(s.substr(prev));
      break;
    }
    out.push_back(s.substr(prev, pos - prev));
    prev = pos + sep->size();
    ++n;
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to,
                        int64_t count = -1) {
  if (from.empty()) return s;
  size_t pos = 0;
  for (int64_t n = 0; (count < 0 || n < count) && (pos = s.find(from, pos)) != std::string::npos;
       ++n) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::string capitalize(const std::string& s) {
  std::string l = to_lower(s);
  if (!l.empty()) l[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(l[0])));
  return l;
}

std::string title(const std::string& s) {
  std::string out;
  bool prev_alpha = false;
  for (char c : s) {
    const bool alpha = std::isalpha(static_cast<unsigned char>(c)) != 0;
    out.push_back(alpha ? static_cast<char>(prev_alpha ? std::tolower(c) : std::toupper(c)) : c);
    prev_alpha = alpha;
  }
  return out;
}

const Value* kwarg(CallArgs& a, const char* name, size_t pos) {
  for (auto& [k, v] : a.kwargs)
    if (k == name) return &v;
  return pos < a.args.size() ? &a.args[pos] : nullptr;
}

std::optional<std::string> opt_str(CallArgs& a, const char* name, size_t pos) {
  const Value* v = kwarg(a, name, pos);
  if (!v || !v->is_data() || !v->data.is_string()) return std::nullopt;
  return v->data.get<std::string>();
}

int64_t opt_int(CallArgs& a, const char* name, size_t pos, int64_t def) {
  const Value* v = kwarg(a, name, pos);
  if (!v || !v->is_data() || !v->data.is_number()) return def;
  return v->data.get<int64_t>();
}

bool py_equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

Result<int> py_compare(const Value& l, const Value& r) {
  const Json &a = data_or_null(l), &b = data_or_null(r);
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return core::invalid_argument("'<' not supported between '{}' and '{}'", type_name(l),
                                type_name(r));
}

Result<bool> contains(const Value& container, const Value& item) {
  const Json& c = data_or_null(container);
  const Json& x = data_or_null(item);
  if (c.is_string()) {
    if (!x.is_string())
      return core::invalid_argument("'in <string>' requires string as left operand");
    return c.get_ref<const std::string&>().find(x.get<std::string>()) != std::string::npos;
  }
  if (c.is_array()) {
    for (const auto& e : c)
      if (py_equal(e, x)) return true;
    return false;
  }
  if (c.is_object()) return x.is_string() && c.contains(x.get<std::string>());
  if (container.is_undefined()) return false;
  return core::invalid_argument("argument of type '{}' is not iterable", type_name(container));
}

// Attribute of an element for selectattr / map / sort / join(attribute=...): "a.b" paths.
Json attr_path(const Json& obj, const std::string& path) {
  Json cur = obj;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_object() && cur.contains(key)) {
      cur = cur[key];
    } else {
      return Json();  // undefined -> null
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

bool has_attr_path(const Json& obj, const std::string& path) {
  const size_t dot = path.find('.');
  const std::string key = path.substr(0, dot);
  if (!obj.is_object() || !obj.contains(key)) return false;
  return dot == std::string::npos || has_attr_path(obj[key], path.substr(dot + 1));
}

Value method(std::function<Result<Value>(CallArgs&)> f) {
  return Value::callable(std::move(f));
}

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
    return method([s, start](CallArgs& a) -> Result<Value> {
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
    });
  }
  if (name == "upper")
    return method([s](CallArgs&) -> Result<Value> { return Value(Json(to_upper(s))); });
  if (name == "lower")
    return method([s](CallArgs&) -> Result<Value> { return Value(Json(to_lower(s))); });
  if (name == "title")
    return method([s](CallArgs&) -> Result<Value> { return Value(Json(title(s))); });
  if (name == "capitalize")
    return method([s](CallArgs&) -> Result<Value> { return Value(Json(capitalize(s))); });
  if (name == "replace") {
    return method([s](CallArgs& a) -> Result<Value> {
      auto from = opt_str(a, "old", 0), to = opt_str(a, "new", 1);
      if (!from || !to) return type_error("replace() needs two strings");
      return Value(Json(replace_all(s, *from, *to, opt_int(a, "count", 2, -1))));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return method([s, find](CallArgs& a) -> Result<Value> {
      auto x = opt_str(a, "sub", 0);
      if (!x) return type_error("find()/count() needs a string");
      if (find) {
        const size_t p = s.find(*x);
        return Value(Json(p == std::string::npos ? int64_t{-1} : static_cast<int64_t>(p)));
      }
      int64_t n = 0;
      for (size_t p = s.find(*x); p != std::string::npos && !x->empty();
           p = s.find(*x, p + x->size()))
        ++n;
      return Value(Json(n));
    });
  }
  if (name == "join") {
    return method([s](CallArgs& a) -> Result<Value> {
      std::string out;
      const Json& l = a.args.empty() ? Json() : data_or_null(a.args[0]);
      bool first = true;
      for (const auto& e : l) {
        if (!first) out += s;
        first = false;
        out += e.is_string() ? e.get<std::string>() : py_repr(e);
      }
      return Value(Json(out));
    });
  }
  return Value::undefined();
}

Result<Value> dict_method(const Json& d, const std::string& name) {
  if (name == "items") {
    return method([d](CallArgs&) -> Result<Value> {
      Json out = Json::array();
      for (const auto& [k, v] : d.items()) out.push_back(Json::array({k, v}));
      return Value(out);
    });
  }
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

int64_t py_len(const Json& j) {
  if (j.is_string()) return static_cast<int64_t>(utf8_chars(j.get<std::string>()).size());
  if (j.is_array() || j.is_object()) return static_cast<int64_t>(j.size());
  return -1;
}

Result<Json> as_list(const Value& v) {
  if (v.is_undefined()) return Json::array();
  const Json& j = data_or_null(v);
  if (j.is_array()) return j;
  if (j.is_object()) {
    Json out = Json::array();
    for (const auto& [k, x] : j.items()) out.push_back(k);
    return out;
  }
  if (j.is_string()) {
    Json out = Json::array();
    for (const auto& c : utf8_chars(j.get<std::string>())) out.push_back(c);
    return out;
  }
  return core::invalid_argument("'{}' object is not iterable", type_name(v));
}

}  // namespace

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    decode_utf8(s, i, len);
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

void install_globals(std::map<std::string, Value>& scope) {
  scope["raise_exception"] = method([](CallArgs& a) -> Result<Value> {
    return core::invalid_argument("template raised an exception: {}",
                                  a.args.empty() ? "" : to_str(a.args[0]));
  });
  scope["namespace"] = method([](CallArgs& a) -> Result<Value> {
    Value v;
    v.kind = Value::Kind::ns;
    v.ns = std::make_shared<Json>(Json::object());
    if (!a.args.empty() && a.args[0].is_data() && a.args[0].data.is_object())
      *v.ns = a.args[0].data;
    for (auto& [k, x] : a.kwargs) (*v.ns)[k] = data_or_null(x);
    return v;
  });
  scope["dict"] = method([](CallArgs& a) -> Result<Value> {
    Json d = Json::object();
    for (auto& [k, x] : a.kwargs) d[k] = data_or_null(x);
    return Value(d);
  });
  scope["range"] = method([](CallArgs& a) -> Result<Value> {
    int64_t start = 0, stop = 0, step = 1;
    auto num = [&](size_t i) {
      return data_or_null(a.args[i]).is_number() ? data_or_null(a.args[i]).get<int64_t>() : 0;
    };
    if (a.args.size() == 1)
      stop = num(0);
    else if (a.args.size() >= 2)
      start = num(0), stop = num(1);
    if (a.args.size() >= 3) step = num(2);
    if (step == 0) return type_error("range() arg 3 must not be zero");
    Json out = Json::array();
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
    return Value(out);
  });
  scope["strftime_now"] = method([](CallArgs& a) -> Result<Value> {
    const std::string fmt = a.args.empty() ? "" : to_str(a.args[0]);
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[256];
    const size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
    return Value(Json(std::string(buf, n)));
  });
}

Result<Value> get_attr(const Value& obj, const std::string& name) {
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
  if (obj.kind == Value::Kind::ns) return get_attr(obj, to_str(key));
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
  const Json& j = data_or_null(obj);
  const bool is_str = j.is_string();
  std::vector<Json> items;
  if (is_str) {
    for (auto& c : utf8_chars(j.get<std::string>())) items.emplace_back(c);
  } else if (j.is_array()) {
    items.assign(j.begin(), j.end());
  } else {
    return core::invalid_argument("'{}' object is not subscriptable", type_name(obj));
  }
  const auto n = static_cast<int64_t>(items.size());
  const int64_t step = step_opt.value_or(1);
  if (step == 0) return core::invalid_argument("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t def, bool is_stop) -> int64_t {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1) + (is_stop ? 0 : 0);
  };
  const int64_t b = clamp(start, step > 0 ? 0 : n - 1, false);
  const int64_t e = clamp(stop, step > 0 ? n : -1, true);
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

Result<Value> binary_op(const std::string& op, const Value& l, const Value& r) {
  const Json &a = data_or_null(l), &b = data_or_null(r);
  if (op == "~") return Value(Json(to_str(l) + to_str(r)));
  if (op == "==") return Value(Json(l.is_undefined() == r.is_undefined() && py_equal(a, b)));
  if (op == "!=") return Value(Json(!(l.is_undefined() == r.is_undefined() && py_equal(a, b))));
  if (op == "in" || op == "not in") {
    LLM_ASSIGN_OR_RETURN(bool c, contains(r, l));
    return Value(Json(op == "in" ? c : !c));
  }
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    LLM_ASSIGN_OR_RETURN(int c, py_compare(l, r));
    const bool v = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
    return Value(Json(v));
  }
  if (l.is_undefined() || r.is_undefined())
    return core::invalid_argument("'{}' on an undefined value", op);
  if (op == "+") {
    if (a.is_string() && b.is_string())
      return Value(Json(a.get<std::string>() + b.get<std::string>()));
    if (a.is_array() && b.is_array()) {
      Json out = a;
      for (const auto& e : b) out.push_back(e);
      return Value(out);
    }
  }
  if (op == "*" && a.is_string() && b.is_number_integer()) {
    std::string out;
    for (int64_t i = 0; i < b.get<int64_t>(); ++i) out += a.get<std::string>();
    return Value(Json(out));
  }
  if ((!a.is_number() && !a.is_boolean()) || (!b.is_number() && !b.is_boolean()))
    return core::invalid_argument("unsupported operand types for {}: '{}' and '{}'", op,
                                  type_name(l), type_name(r));
  const bool ints = !a.is_number_float() && !b.is_number_float();
  const double x = a.is_boolean() ? a.get<bool>() : a.get<double>();
  const double y = b.is_boolean() ? b.get<bool>() : b.get<double>();
  const int64_t xi = a.is_boolean() ? a.get<bool>() : a.is_number_float() ? 0 : a.get<int64_t>();
  const int64_t yi = b.is_boolean() ? b.get<bool>() : b.is_number_float() ? 0 : b.get<int64_t>();
  // Python ints never overflow; past int64 we fall back to float arithmetic.
  int64_t out = 0;
  if (op == "+")
    return ints && !__builtin_add_overflow(xi, yi, &out) ? Value(Json(out)) : Value(Json(x + y));
  if (op == "-")
    return ints && !__builtin_sub_overflow(xi, yi, &out) ? Value(Json(out)) : Value(Json(x - y));
  if (op == "*")
    return ints && !__builtin_mul_overflow(xi, yi, &out) ? Value(Json(out)) : Value(Json(x * y));
  if (op == "/") {
    if (y == 0) return core::invalid_argument("division by zero");
    return Value(Json(x / y));
  }
  if (op == "//" || op == "%") {
    if (y == 0) return core::invalid_argument("integer division or modulo by zero");
    if (ints) {
      int64_t q = xi / yi, m = xi % yi;
      if (m != 0 && ((m < 0) != (yi < 0))) --q, m += yi;
      return op == "//" ? Value(Json(q)) : Value(Json(m));
    }
    const double q = std::floor(x / y);
    return op == "//" ? Value(Json(q)) : Value(Json(x - q * y));
  }
  if (op == "**") {
    if (ints && yi >= 0) {  // exact by squaring; past int64 (Python would go big) a float
      int64_t result = 1, base = xi;
      bool overflow = false;
      for (int64_t e = yi; e > 0 && !overflow; e >>= 1) {
        if (e & 1) overflow = __builtin_mul_overflow(result, base, &result);
        if (e > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
      }
      if (!overflow) return Value(Json(result));
    }
    return Value(Json(std::pow(x, y)));
  }
  return core::invalid_argument("unknown operator '{}'", op);
}

Result<bool> apply_test(const std::string& name, CallArgs& a) {
  const Value& v = a.args[0];
  const Json& j = data_or_null(v);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_data() && j.is_null();
  if (name == "string") return v.is_data() && j.is_string();
  if (name == "mapping") return (v.is_data() && j.is_object()) || v.kind == Value::Kind::ns;
  if (name == "sequence") return v.is_data() && (j.is_array() || j.is_string() || j.is_object());
  if (name == "iterable") return v.is_data() && (j.is_array() || j.is_string() || j.is_object());
  if (name == "number") return v.is_data() && j.is_number();
  if (name == "integer") return v.is_data() && j.is_number_integer();
  if (name == "float") return v.is_data() && j.is_number_float();
  if (name == "boolean") return v.is_data() && j.is_boolean();
  if (name == "true") return v.is_data() && j.is_boolean() && j.get<bool>();
  if (name == "false") return v.is_data() && j.is_boolean() && !j.get<bool>();
  if (name == "callable") return v.kind == Value::Kind::builtin;
  if (name == "even" || name == "odd") {
    if (!j.is_number_integer()) return core::invalid_argument("test '{}' needs an integer", name);
    return (j.get<int64_t>() % 2 == 0) == (name == "even");
  }
  if (name == "lower" || name == "upper") {
    if (!j.is_string()) return false;
    const std::string s = j.get<std::string>();
    return s == (name == "lower" ? to_lower(s) : to_upper(s));
  }
  if (a.args.size() < 2) return core::invalid_argument("unknown test '{}'", name);
  const Value& o = a.args[1];
  if (name == "eq" || name == "equalto" || name == "==") {
    LLM_ASSIGN_OR_RETURN(Value r, binary_op("==", v, o));
    return truthy(r);
  }
  if (name == "ne" || name == "!=") {
    LLM_ASSIGN_OR_RETURN(Value r, binary_op("!=", v, o));
    return truthy(r);
  }
  if (name == "in") return contains(o, v);
  if (name == "sameas") return v.is_data() && o.is_data() && j == o.data && j.is_null();
  if (name == "divisibleby") {
    const Json& d = data_or_null(o);
    if (!j.is_number_integer() || !d.is_number_integer() || d.get<int64_t>() == 0)
      return core::invalid_argument("divisibleby needs integers");
    return j.get<int64_t>() % d.get<int64_t>() == 0;
  }
  if (name == "gt" || name == "ge" || name == "lt" || name == "le") {
    LLM_ASSIGN_OR_RETURN(int c, py_compare(v, o));
    return name == "gt" ? c > 0 : name == "ge" ? c >= 0 : name == "lt" ? c < 0 : c <= 0;
  }
  return core::invalid_argument("unknown test '{}'", name);
}

Result<Value> apply_filter(const std::string& name, CallArgs& a) {
  const Value v = a.args[0];
  const Json& j = data_or_null(v);
  auto str_arg = [&](const char* k, size_t pos) { return opt_str(a, k, pos); };
  if (name == "trim") return Value(Json(py_strip(to_str(v), str_arg("chars", 1), true, true)));
  if (name == "tojson") {
    const Value* ind = kwarg(a, "indent", 1);
    const int indent = ind && ind->is_data() && ind->data.is_number() ? ind->data.get<int>() : -1;
    return Value(Json(to_json(j, indent)));
  }
  if (name == "length" || name == "count") {
    const int64_t n = py_len(j);
    if (n < 0) return type_error("object of type '" + type_name(v) + "' has no len()");
    return Value(Json(n));
  }
  if (name == "string") return Value(Json(to_str(v)));
  if (name == "upper") return Value(Json(to_upper(to_str(v))));
  if (name == "lower") return Value(Json(to_lower(to_str(v))));
  if (name == "capitalize") return Value(Json(capitalize(to_str(v))));
  if (name == "title") return Value(Json(title(to_str(v))));
  if (name == "safe" || name == "e" || name == "escape") {
    if (name == "safe") return v;
    std::string s = to_str(v), out;
    for (char c : s) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
      }
    }
    return Value(Json(out));
  }
  if (name == "default" || name == "d") {
    const Value* b = kwarg(a, "boolean", 2);
    const bool boolean = b && truthy(*b);
    const Value def = a.args.size() > 1 ? a.args[1] : Value(Json(""));
    if (v.is_undefined() || (boolean && !truthy(v))) return def;
    return v;
  }
  if (name == "replace") {
    auto from = str_arg("old", 1), to = str_arg("new", 2);
    if (!from || !to) return type_error("replace filter needs two strings");
    return Value(Json(replace_all(to_str(v), *from, *to, opt_int(a, "count", 3, -1))));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(Json::array());
    if (!j.is_object()) return type_error("items filter needs a mapping");
    Json out = Json::array();
    for (const auto& [k, x] : j.items()) out.push_back(Json::array({k, x}));
    return Value(out);
  }
  if (name == "int") {
    if (j.is_number()) return Value(Json(static_cast<int64_t>(j.get<double>())));
    if (j.is_boolean()) return Value(Json(int64_t{j.get<bool>()}));
    if (j.is_string()) {
      try {
        return Value(Json(std::stoll(j.get<std::string>())));
      } catch (...) {
      }
    }
    return Value(Json(opt_int(a, "default", 1, 0)));
  }
  if (name == "float") {
    if (j.is_number()) return Value(Json(j.get<double>()));
    if (j.is_string()) {
      try {
        return Value(Json(std::stod(j.get<std::string>())));
      } catch (...) {
      }
    }
    return Value(Json(0.0));
  }
  if (name == "abs") {
    if (j.is_number_float()) return Value(Json(std::fabs(j.get<double>())));
    if (j.is_number()) return Value(Json(std::llabs(j.get<int64_t>())));
    return type_error("abs needs a number");
  }
  if (name == "round") {
    if (!j.is_number()) return type_error("round needs a number");
    const int64_t prec = opt_int(a, "precision", 1, 0);
    const double f = std::pow(10.0, static_cast<double>(prec));
    return Value(Json(std::round(j.get<double>() * f) / f));
  }
  if (name == "indent") {
    const int64_t width = opt_int(a, "width", 1, 4);
    const Value* first = kwarg(a, "first", 2);
    const std::string pad(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
    std::string s = to_str(v), out;
    if (first && truthy(*first)) out = pad;
    for (size_t i = 0; i < s.size(); ++i) {
      out.push_back(s[i]);
      if (s[i] == '\n' && i + 1 < s.size() && s[i + 1] != '\n') out += pad;
    }
    return Value(Json(out));
  }
  // Filters over sequences. select/reject/map iterate only a truthy value (jinja2 `if value:`).
  const bool lenient = name == "selectattr" || name == "rejectattr" || name == "select" ||
                       name == "reject" || name == "map";
  if (lenient && !truthy(v)) return Value(Json::array());
  LLM_ASSIGN_OR_RETURN(Json list, as_list(v));
  if (name == "list") return Value(list);
  if (name == "first") return list.empty() ? Value::undefined() : Value(list.front());
  if (name == "last") return list.empty() ? Value::undefined() : Value(list.back());
  if (name == "reverse") {
    if (j.is_string()) {
      auto chars = utf8_chars(j.get<std::string>());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(Json(out));
    }
    std::reverse(list.begin(), list.end());
    return Value(list);
  }
  if (name == "join") {
    const std::string sep = str_arg("d", 1).value_or("");
    const auto attr = opt_str(a, "attribute", 2);
    std::string out;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out += sep;
      const Json e = attr ? attr_path(list[i], *attr) : list[i];
      out += to_str(Value(e));
    }
    return Value(Json(out));
  }
  if (name == "unique") {
    Json out = Json::array();
    for (const auto& e : list)
      if (std::none_of(out.begin(), out.end(), [&](const Json& x) { return py_equal(x, e); }))
        out.push_back(e);
    return Value(out);
  }
  if (name == "sort") {
    const Value* rev = kwarg(a, "reverse", 1);
    const auto attr = opt_str(a, "attribute", 3);
    std::vector<Json> items(list.begin(), list.end());
    std::stable_sort(items.begin(), items.end(), [&](const Json& x, const Json& y) {
      const Json kx = attr ? attr_path(x, *attr) : x, ky = attr ? attr_path(y, *attr) : y;
      auto c = py_compare(Value(kx), Value(ky));
      return c.ok() && *c < 0;
    });
    if (rev && truthy(*rev)) std::reverse(items.begin(), items.end());
    return Value(Json(items));
  }
  if (name == "sum") {
    Json total = Json(int64_t{0});
    for (const auto& e : list) {
      LLM_ASSIGN_OR_RETURN(Value s, binary_op("+", Value(total), Value(e)));
      total = s.data;
    }
    return Value(total);
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    const bool attr_mode = name == "selectattr" || name == "rejectattr";
    const bool keep_if = name == "selectattr" || name == "select";
    size_t pos = 1;
    std::string attr;
    if (attr_mode) {
      if (a.args.size() < 2) return type_error(name + " needs an attribute name");
      attr = to_str(a.args[pos++]);
    }
    const std::optional<std::string> test =
        a.args.size() > pos ? std::optional<std::string>(to_str(a.args[pos])) : std::nullopt;
    Json out = Json::array();
    for (const auto& e : list) {
      bool ok;
      Value item = attr_mode
                       ? (has_attr_path(e, attr) ? Value(attr_path(e, attr)) : Value::undefined())
                       : Value(e);
      if (!test) {
        ok = truthy(item);
      } else {
        CallArgs targs;
        targs.args.push_back(item);
        for (size_t k = pos + 1; k < a.args.size(); ++k) targs.args.push_back(a.args[k]);
        LLM_ASSIGN_OR_RETURN(ok, apply_test(*test, targs));
      }
      if (ok == keep_if) out.push_back(e);
    }
    return Value(out);
  }
  if (name == "map") {
    Json out = Json::array();
    const auto attr = opt_str(a, "attribute", 99);
    for (const auto& e : list) {
      if (attr) {
        if (has_attr_path(e, *attr)) {
          out.push_back(attr_path(e, *attr));
        } else {
          const Value* d = kwarg(a, "default", 99);
          out.push_back(d ? data_or_null(*d) : Json());
        }
        continue;
      }
      if (a.args.size() < 2) return type_error("map needs a filter name or attribute=");
      CallArgs fargs;
      fargs.args.push_back(Value(e));
      for (size_t k = 2; k < a.args.size(); ++k) fargs.args.push_back(a.args[k]);
      LLM_ASSIGN_OR_RETURN(Value r, apply_filter(to_str(a.args[1]), fargs));
      out.push_back(data_or_null(r));
    }
    return Value(out);
  }
  if (name == "batch" || name == "slice")
    return core::unimplemented("filter '{}' is not supported", name);
  return core::invalid_argument("unknown filter '{}'", name);
}

}  // namespace lightllm::tokenizer::jinja
