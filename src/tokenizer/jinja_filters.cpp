// src/tokenizer/jinja_filters.cpp — Jinja filters (`x | name(args)`) with jinja2's semantics (see
// jinja_builtins.h): string filters, format, default, tojson (transformers' json.dumps), numbers,
// and the sequence filters (list, first, join, sort, unique, sum, select / reject / selectattr /
// rejectattr, map). Argument positions count the filtered value as args[0]; keyword arguments are
// found by name (kwarg).
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_py.h"

namespace lightllm::tokenizer::jinja {

using core::Result;

namespace {

// select / reject (the items themselves) and selectattr / rejectattr (an attribute of each):
// keep the items whose value passes the test args[pos] (truthy when no test is named).
Result<Value> select_filter(const std::string& name, CallArgs& a, const Json& list) {
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

// map(attribute="a.b", default=...) or map("filter", args...) over the items.
Result<Value> map_filter(CallArgs& a, const Json& list) {
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

// select / reject / selectattr / rejectattr / map over list(v) (as_list).
Result<Value> lenient_filter(const std::string& name, CallArgs& a) {
  LLM_ASSIGN_OR_RETURN(Json list, as_list(a.args[0]));
  if (name == "map") return map_filter(a, list);
  return select_filter(name, a, list);
}

// The filters over a sequence: the value as list(v) (as_list).
Result<Value> sequence_filter(const std::string& name, CallArgs& a) {
  const Value v = a.args[0];
  const Json& j = data_or_null(v);
  // select / reject / map iterate only a truthy value (jinja2's `if value:`).
  const bool lenient = name == "selectattr" || name == "rejectattr" || name == "select" ||
                       name == "reject" || name == "map";
  if (lenient) {  // jinja2's generator functions
    LLM_ASSIGN_OR_RETURN(Value g, truthy(v) ? lenient_filter(name, a) : Value(Json::array()));
    g.generator = std::make_shared<size_t>(0);
    return g;
  }
  if (name == "first" && v.generator) {  // next(iter(generator))
    size_t& next = *v.generator;
    return next < j.size() ? Value(j[next++]) : Value::undefined();
  }
  LLM_ASSIGN_OR_RETURN(Json list, as_list(v));
  if (name == "list") return Value(list);
  if (name == "first") return list.empty() ? Value::undefined() : Value(list.front());
  if (name == "last") {
    if (v.generator) return type_error("'generator' object is not reversible");
    return list.empty() ? Value::undefined() : Value(list.back());
  }
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
    const std::string sep = opt_str(a, "d", 1).value_or("");
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
  if (name == "batch" || name == "slice")
    return core::unimplemented("filter '{}' is not supported", name);
  return core::invalid_argument("unknown filter '{}'", name);
}

}  // namespace

Result<Value> apply_filter(const std::string& name, CallArgs& a) {
  const Value v = a.args[0];
  const Json& j = data_or_null(v);
  if (name == "trim") return Value(Json(py_strip(to_str(v), opt_str(a, "chars", 1), true, true)));
  if (name == "tojson") {
    if (v.is_undefined()) return type_error("Object of type Undefined is not JSON serializable");
    if (v.generator) return type_error("Object of type generator is not JSON serializable");
    const Value* ind = kwarg(a, "indent", 1);
    const int indent = ind && ind->is_data() && ind->data.is_number() ? ind->data.get<int>() : -1;
    return Value(Json(to_json(j, indent)));
  }
  if (name == "length" || name == "count") {
    if (v.is_undefined()) return Value(Json(int64_t{0}));  // Undefined.__len__
    const int64_t n = v.generator ? -1 : py_len(j);
    if (n < 0) return type_error("object of type '" + type_name(v) + "' has no len()");
    return Value(Json(n));
  }
  if (name == "string") return Value(Json(to_str(v)));
  if (name == "format") {
    LLM_ASSIGN_OR_RETURN(std::string s, format_filter(a));
    return Value(Json(std::move(s)));
  }
  if (name == "title") return Value(Json(title_filter(to_str(v))));
  if (StringFn case_fn = string_case_fn(name)) return Value(Json(case_fn(to_str(v))));
  if (name == "safe" || name == "e" || name == "escape") {
    if (v.markup) return v;  // Markup is never escaped twice
    Value out(Json(name == "safe" ? to_str(v) : html_escape(to_str(v))));
    out.markup = true;
    return out;
  }
  if (name == "default" || name == "d") {
    const Value* b = kwarg(a, "boolean", 2);
    const bool boolean = b && truthy(*b);
    const Value def = a.args.size() > 1 ? a.args[1] : Value(Json(""));
    if (v.is_undefined() || (boolean && !truthy(v))) return def;
    return v;
  }
  if (name == "replace") {
    auto from = opt_str(a, "old", 1), to = opt_str(a, "new", 2);
    if (!from || !to) return type_error("replace filter needs two strings");
    return Value(Json(replace_all(to_str(v), *from, *to, opt_int(a, "count", 3, -1))));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(Json::array());
    if (!j.is_object()) return type_error("items filter needs a mapping");
    return Value(dict_items(j));
  }
  if ((name == "int" || name == "float") && v.is_undefined())  // Undefined.__int__ raises
    return undefined_error(name + "()");
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
  if (name == "indent") {  // jinja2's do_indent: lines of s + "\n" by str.splitlines()
    // width: a number of spaces, or the indentation itself
    const std::string pad =
        opt_str(a, "width", 1)
            .value_or(std::string(
                static_cast<size_t>(std::max<int64_t>(opt_int(a, "width", 1, 4), 0)), ' '));
    const Value* first = kwarg(a, "first", 2);
    const Value* blank = kwarg(a, "blank", 3);
    const std::vector<std::string> lines = py_splitlines(to_str(v) + "\n");
    std::string out = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += '\n';
      if ((blank && truthy(*blank)) || !lines[i].empty()) out += pad;
      out += lines[i];
    }
    if (first && truthy(*first)) out = pad + out;
    return Value(Json(out));
  }
  return sequence_filter(name, a);
}

}  // namespace lightllm::tokenizer::jinja
