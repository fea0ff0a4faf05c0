// src/tokenizer/jinja_py.cpp — Python semantics shared by the Jinja builtins (see jinja_py.h),
// plus utf8_chars and as_list of jinja_builtins.h (a string iterates by code point).
#include "tokenizer/jinja_py.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer::jinja {

using core::Result;

namespace {

// The code points of `s` with their byte offsets (an invalid byte counts as one code point, -1,
// which is not whitespace).
struct CodePoint {
  int32_t cp;
  size_t begin, end;
};
std::vector<CodePoint> code_points(const std::string& s) {
  std::vector<CodePoint> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const int32_t cp = decode_utf8(s, i, len);
    out.push_back({cp, i, i + len});
    i += len;
  }
  return out;
}

bool is_ws(int32_t cp) {
  return cp >= 0 && is_py_space(static_cast<uint32_t>(cp));
}

std::string upper(const std::string& s) {
  return to_upper(s);
}

// Python's lowercase of code point i of s (cps): to_lower, except that a capital sigma after
// a cased character and not before one (case-ignorable ones between are skipped) is final: ς.
std::string lower_at(const std::string& s, const std::vector<CodePoint>& cps, size_t i) {
  const CodePoint& c = cps[i];
  if (c.cp != 0x3A3) return to_lower(std::string_view(s).substr(c.begin, c.end - c.begin));
  size_t j = i;
  while (j > 0 && is_case_ignorable(cps[j - 1].cp)) --j;
  bool final = j > 0 && is_cased(cps[j - 1].cp);
  if (final) {
    size_t k = i + 1;
    while (k < cps.size() && is_case_ignorable(cps[k].cp)) ++k;
    final = k == cps.size() || !is_cased(cps[k].cp);
  }
  return final ? "\u03c2" : "\u03c3";
}

std::string lower(const std::string& s) {
  const std::vector<CodePoint> cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) out += lower_at(s, cps, i);
  return out;
}

// str.capitalize(): the first character titlecased, the rest lowercased.
std::string capitalize(const std::string& s) {
  const std::vector<CodePoint> cps = code_points(s);
  if (cps.empty()) return s;
  std::string out = to_title(s.substr(0, cps[0].end));
  for (size_t i = 1; i < cps.size(); ++i) out += lower_at(s, cps, i);
  return out;
}

// str.title(): each character titlecased after an uncased one, lowercased after a cased one.
std::string title(const std::string& s) {
  const std::vector<CodePoint> cps = code_points(s);
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    const CodePoint& c = cps[i];
    out += prev_cased ? lower_at(s, cps, i) : to_title(s.substr(c.begin, c.end - c.begin));
    prev_cased = is_cased(c.cp);
  }
  return out;
}

}  // namespace

Result<Value> type_error(const std::string& msg) {
  return core::invalid_argument("{}", msg);
}

Result<Value> undefined_error(const std::string& name) {
  return core::invalid_argument("UndefinedError: '{}' of an undefined value", name);
}

const Json& data_or_null(const Value& v) {
  static const Json kNull;
  return v.is_data() ? v.data : kNull;
}

std::string type_name(const Value& v) {
  if (v.is_undefined()) return "Undefined";
  if (!v.is_data()) return "function";
  if (v.generator) return "generator";
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

Value method(Builtin f) {
  return Value::callable(std::move(f));
}

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool l,
                     bool r) {
  std::vector<int32_t> set;  // chars' code points
  if (chars)
    for (const CodePoint& c : code_points(*chars)) set.push_back(c.cp);
  auto in_set = [&](int32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_ws(cp);
  };
  const std::vector<CodePoint> cps = code_points(s);
  size_t b = 0, e = cps.size();
  if (l)
    while (b < e && in_set(cps[b].cp)) ++b;
  if (r)
    while (e > b && in_set(cps[e - 1].cp)) --e;
  return b == e ? std::string() : s.substr(cps[b].begin, cps[e - 1].end - cps[b].begin);
}

Json py_split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit) {
  Json out = Json::array();
  if (!sep) {  // runs of whitespace; the remainder after maxsplit keeps its trailing whitespace
    const std::vector<CodePoint> cps = code_points(s);
    size_t i = 0;
    int64_t n = 0;
    while (true) {
      while (i < cps.size() && is_ws(cps[i].cp)) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && n >= maxsplit) {
        out.push_back(s.substr(cps[i].begin));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !is_ws(cps[j].cp)) ++j;
      out.push_back(s.substr(cps[i].begin, cps[j - 1].end - cps[i].begin));
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

std::string title_filter(const std::string& s) {
  // jinja2: item[0].upper() + item[1:].lower() for the items of re.split(r"([-\s({\[<]+)", s);
  // separator runs map to themselves.
  auto is_sep = [](int32_t cp) {
    return is_ws(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  const std::vector<CodePoint> cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size();) {
    size_t end = i;
    const bool sep = is_sep(cps[i].cp);
    while (end < cps.size() && is_sep(cps[end].cp) == sep) ++end;
    const size_t b = cps[i].begin, e = cps[end - 1].end;
    if (sep) {
      out.append(s, b, e - b);
    } else {
      out += to_upper(s.substr(b, cps[i].end - b));
      out += lower(s.substr(cps[i].end, e - cps[i].end));
    }
    i = end;
  }
  return out;
}

bool py_is_case(const std::string& s, LetterCase want) {
  bool seen = false;
  for (const CodePoint& c : code_points(s)) {
    const LetterCase lc = letter_case(c.cp);
    if (lc == LetterCase::none) continue;
    if (lc != want) return false;
    seen = true;
  }
  return seen;
}

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> lines;
  const std::vector<CodePoint> cps = code_points(s);
  size_t start = 0;  // byte offset of the current line
  for (size_t i = 0; i < cps.size(); ++i) {
    const int32_t cp = cps[i].cp;
    const bool brk = (cp >= 0x0a && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1e) || cp == 0x85 ||
                     cp == 0x2028 || cp == 0x2029;
    if (!brk) continue;
    lines.push_back(s.substr(start, cps[i].begin - start));
    if (cp == '\r' && i + 1 < cps.size() && cps[i + 1].cp == '\n') ++i;
    start = cps[i].end;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

std::string html_escape(const std::string& s) {
  std::string out;
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
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to,
                        int64_t count) {
  if (from.empty()) {  // `to` before every character and at the end, at most `count` times
    std::string out;
    int64_t n = 0;
    for (const CodePoint& c : code_points(s)) {
      if (count < 0 || n < count) out += to, ++n;
      out.append(s, c.begin, c.end - c.begin);
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t pos = 0;
  for (int64_t n = 0; (count < 0 || n < count) && (pos = s.find(from, pos)) != std::string::npos;
       ++n) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

StringFn string_case_fn(const std::string& name) {
  if (name == "upper") return upper;
  if (name == "lower") return lower;
  if (name == "title") return title;
  if (name == "capitalize") return capitalize;
  return nullptr;
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

int64_t py_len(const Json& j) {
  if (j.is_string()) return static_cast<int64_t>(utf8_chars(j.get<std::string>()).size());
  if (j.is_array() || j.is_object()) return static_cast<int64_t>(j.size());
  return -1;
}

Json dict_items(const Json& d) {
  Json out = Json::array();
  for (const auto& [k, v] : d.items()) out.push_back(Json::array({k, v}));
  return out;
}

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

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (const CodePoint& c : code_points(s)) out.push_back(s.substr(c.begin, c.end - c.begin));
  return out;
}

Result<Json> as_list(const Value& v) {
  if (v.is_undefined()) return Json::array();
  const Json& j = data_or_null(v);
  if (v.generator) {  // what is left of it, now consumed
    size_t& next = *v.generator;
    Json out = Json::array();
    for (; next < j.size(); ++next) out.push_back(j[next]);
    return out;
  }
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

}  // namespace lightllm::tokenizer::jinja
