// src/tokenizer/jinja_filters.cpp — Jinja filters (`x | name(args)`) with jinja2's semantics (see
// jinja_builtins.h): string filters (also format, center, truncate), default, tojson
// (transformers' json.dumps), numbers (round as Python's round()), dictsort, and the sequence
// filters (list, first, join, sort, unique, sum, max, min, batch, slice, select / reject /
// selectattr / rejectattr, map). Argument positions count the filtered value as args[0]; keyword
// arguments are found by name (kwarg).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

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

// truncate(length=255, killwords=False, end="...", leeway=5): s when it is at most length +
// leeway code points, else cut to length - len(end) (at the last space unless killwords) + end.
Result<Value> truncate_filter(CallArgs& a, const std::string& s) {
  const int64_t length = opt_int(a, "length", 1, 255);
  const Value* kill = kwarg(a, "killwords", 2);
  const std::string end = opt_str(a, "end", 3).value_or("...");
  const int64_t leeway = opt_int(a, "leeway", 4, 5);
  const std::vector<std::string> cps = utf8_chars(s), end_cps = utf8_chars(end);
  if (length < static_cast<int64_t>(end_cps.size()))
    return type_error("expected length >= " + std::to_string(end_cps.size()));
  if (leeway < 0) return type_error("expected leeway >= 0");
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value(Json(s));
  std::string head;
  for (int64_t i = 0; i < length - static_cast<int64_t>(end_cps.size()); ++i)
    head += cps[static_cast<size_t>(i)];
  if (!(kill && truthy(*kill))) {  // rsplit(" ", 1)[0]
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  return Value(Json(head + end));
}

// round(value, precision=0, method="common"): common is Python's round() (half to even on the
// exact binary value; an int stays an int), ceil / floor scale by 10**precision.
Result<Value> round_filter(CallArgs& a, const Json& j) {
  if (!j.is_number() && !j.is_boolean()) return type_error("round needs a number");
  const int64_t prec = opt_int(a, "precision", 1, 0);
  const std::string method = opt_str(a, "method", 2).value_or("common");
  const double x = j.is_boolean() ? j.get<bool>() : j.get<double>();
  const double scale = std::pow(10.0, static_cast<double>(prec));
  if (method == "ceil") return Value(Json(std::ceil(x * scale) / scale));
  if (method == "floor") return Value(Json(std::floor(x * scale) / scale));
  if (method != "common") return type_error("method must be common, ceil or floor");
  if (!j.is_number_float() && prec >= 0)
    return Value(j.is_boolean() ? Json(int64_t{j.get<bool>()}) : j);
  if (!std::isfinite(x)) return Value(Json(x));
  if (prec < 0) {  // to tens, hundreds, ...: half to even; an int stays an int
    const double r = std::nearbyint(x / std::pow(10.0, -prec)) * std::pow(10.0, -prec);
    return Value(j.is_number_float() ? Json(r) : Json(static_cast<int64_t>(r)));
  }
  char buf[512];  // "%.*f" rounds the exact binary value half to even, as Python's round()
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(prec, 300)), x);
  return Value(Json(std::strtod(buf, nullptr)));
}

// The key jinja2's sort / unique / max / min / dictsort compare an item by: its attribute (an
// "a.b" path) when one is named, a string lowercased unless case_sensitive.
Json item_key(const Json& item, const std::optional<std::string>& attr, bool case_sensitive) {
  Json key = attr ? attr_path(item, *attr) : item;
  return !case_sensitive && key.is_string() ? Json(to_lower(key.get<std::string>())) : key;
}

// Python's sorted(items, key=..., reverse=...): stable, so equal keys keep their order either way.
Json sorted_by(const Json& items, const std::function<Json(const Json&)>& key_of, bool reverse) {
  std::vector<std::pair<Json, Json>> keyed;  // (key, item)
  for (const Json& e : items) keyed.emplace_back(key_of(e), e);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto c = py_compare(Value(x.first), Value(y.first));
    return c.ok() && (reverse ? *c > 0 : *c < 0);
  });
  Json out = Json::array();
  for (auto& [key, e] : keyed) out.push_back(std::move(e));
  return out;
}

bool flag(CallArgs& a, const char* name, size_t pos) {
  const Value* v = kwarg(a, name, pos);
  return v && truthy(*v);
}

// max / min (case_sensitive=False, attribute=None): the first largest / smallest item, undefined
// for an empty sequence.
Value extreme_filter(const std::string& name, CallArgs& a, const Json& list) {
  const bool case_sensitive = flag(a, "case_sensitive", 1);
  const auto attr = opt_str(a, "attribute", 2);
  const Json* best = nullptr;
  Json best_key;
  for (const Json& e : list) {
    Json key = item_key(e, attr, case_sensitive);
    auto c = best ? py_compare(Value(key), Value(best_key)) : Result<int>(0);
    if (!best || (c.ok() && (name == "max" ? *c > 0 : *c < 0))) {
      best = &e;
      best_key = std::move(key);
    }
  }
  return best ? Value(*best) : Value::undefined();
}

// dictsort(case_sensitive=False, by="key", reverse=False): the (key, value) pairs sorted.
Result<Value> dictsort_filter(CallArgs& a, const Json& j) {
  if (!j.is_object()) return type_error("dictsort needs a mapping");
  const bool case_sensitive = flag(a, "case_sensitive", 1);
  const std::string by = opt_str(a, "by", 2).value_or("key");
  if (by != "key" && by != "value")
    return type_error("You can only sort by either \"key\" or \"value\"");
  const size_t pos = by == "key" ? 0 : 1;
  return Value(sorted_by(
      dict_items(j), [&](const Json& pair) { return item_key(pair[pos], {}, case_sensitive); },
      flag(a, "reverse", 3)));
}

// batch(linecount, fill_with=None) / slice(slices, fill_with=None): lists of linecount items /
// `slices` lists of nearly equal length, the short ones padded with fill_with when given.
Result<Value> batch_or_slice(const std::string& name, CallArgs& a, const Json& list) {
  const int64_t count = opt_int(a, name == "batch" ? "linecount" : "slices", 1, 0);
  if (count <= 0) return type_error(name + " needs a positive count");
  const Value* fill = kwarg(a, "fill_with", 2);
  const bool pad = fill && !(fill->is_data() && fill->data.is_null());
  Json out = Json::array();
  const auto n = static_cast<int64_t>(list.size());
  if (name == "batch") {
    for (int64_t i = 0; i < n; i += count) {
      Json row = Json::array();
      for (int64_t k = i; k < std::min(n, i + count); ++k)
        row.push_back(list[static_cast<size_t>(k)]);
      while (pad && static_cast<int64_t>(row.size()) < count) row.push_back(data_or_null(*fill));
      out.push_back(std::move(row));
    }
  } else {  // jinja2's do_slice
    const int64_t per = n / count, extra = n % count;
    int64_t offset = 0;
    for (int64_t s = 0; s < count; ++s) {
      const int64_t start = offset + s * per;
      if (s < extra) ++offset;
      const int64_t end = offset + (s + 1) * per;
      Json row = Json::array();
      for (int64_t k = start; k < end; ++k) row.push_back(list[static_cast<size_t>(k)]);
      if (pad && s >= extra) row.push_back(data_or_null(*fill));
      out.push_back(std::move(row));
    }
  }
  Value g(out);
  g.generator = std::make_shared<size_t>(0);  // jinja2's generator functions
  return g;
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
  if (name == "unique") {  // unique(case_sensitive=False, attribute=None): a generator
    const bool case_sensitive = flag(a, "case_sensitive", 1);
    const auto attr = opt_str(a, "attribute", 2);
    Json out = Json::array(), seen = Json::array();
    for (const auto& e : list) {
      Json key = item_key(e, attr, case_sensitive);
      if (std::any_of(seen.begin(), seen.end(), [&](const Json& k) { return py_equal(k, key); }))
        continue;
      seen.push_back(std::move(key));
      out.push_back(e);
    }
    Value g(out);
    g.generator = std::make_shared<size_t>(0);
    return g;
  }
  if (name == "sort") {  // sort(reverse=False, case_sensitive=False, attribute=None)
    const bool case_sensitive = flag(a, "case_sensitive", 2);
    const auto attr = opt_str(a, "attribute", 3);
    return Value(sorted_by(
        list, [&](const Json& e) { return item_key(e, attr, case_sensitive); },
        flag(a, "reverse", 1)));
  }
  if (name == "sum") {
    Json total = Json(int64_t{0});
    for (const auto& e : list) {
      LLM_ASSIGN_OR_RETURN(Value s, binary_op("+", Value(total), Value(e)));
      total = s.data;
    }
    return Value(total);
  }
  if (name == "max" || name == "min") return extreme_filter(name, a, list);
  if (name == "batch" || name == "slice") return batch_or_slice(name, a, list);
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
  if (name == "dictsort") return dictsort_filter(a, j);
  if (name == "center") {  // str.center(width): the odd space goes left when width is odd
    const std::string str = to_str(v);
    const auto len = static_cast<int64_t>(utf8_chars(str).size());
    const int64_t width = opt_int(a, "width", 1, 80), marg = width - len;
    if (marg <= 0) return Value(Json(str));
    const int64_t left = marg / 2 + (marg & width & 1);
    return Value(Json(std::string(static_cast<size_t>(left), ' ') + str +
                      std::string(static_cast<size_t>(marg - left), ' ')));
  }
  if (name == "truncate") return truncate_filter(a, to_str(v));
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
  if (name == "round") return round_filter(a, j);
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
