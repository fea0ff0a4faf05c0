// src/tokenizer/jinja_format.cpp — Python's printf-style formatting (str % values, see
// jinja_py.h), for the `%` operator on a string and the format filter. Conversions d i u o x X
// e E f F g G c s r a and %%, with %(key) mapping keys, the flags - 0 + space #, widths and
// precisions (also *), and CPython's errors for a missing, extra or wrongly typed argument.
// Widths and string precisions count code points; integers are int64 (Python's are unbounded).
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_py.h"

namespace lightllm::tokenizer::jinja {

using core::Result;

namespace {

struct Spec {
  bool left = false, zero = false, plus = false, space = false, alt = false;
  int64_t width = 0;                 // 0: none
  std::optional<int64_t> precision;  // nullopt: none
  char type = 0;
};

// `body` (sign and prefix first, sign_len bytes of them) padded to the width: spaces on the
// left or right, or for numbers with the 0 flag zeros after the sign and prefix.
std::string pad(const std::string& body, const Spec& sp, size_t sign_len, bool numeric) {
  const auto n = static_cast<int64_t>(utf8_chars(body).size());
  if (sp.width <= n) return body;
  const auto fill = static_cast<size_t>(sp.width - n);
  if (sp.left) return body + std::string(fill, ' ');
  if (sp.zero && numeric)
    return body.substr(0, sign_len) + std::string(fill, '0') + body.substr(sign_len);
  return std::string(fill, ' ') + body;
}

std::string sign_of(bool negative, const Spec& sp) {
  return negative ? "-" : sp.plus ? "+" : sp.space ? " " : "";
}

// %d %i %u %o %x %X: an int (a bool; a float truncated, for d i u only).
Result<std::string> format_int(const Value& v, const Spec& sp) {
  const Json& j = data_or_null(v);
  const bool decimal = sp.type == 'd' || sp.type == 'i' || sp.type == 'u';
  std::string digits;
  bool negative = false;
  char buf[400];                         // the longest: a double's integer part, up to 309 digits
  if (j.is_number_float() && decimal) {  // int(d): the exact digits of the truncated double
    const double d = std::trunc(j.get<double>());
    if (!std::isfinite(d))
      return core::invalid_argument("cannot convert float {} to integer",
                                    std::isnan(d) ? "NaN" : "infinity");
    negative = d < 0;
    std::snprintf(buf, sizeof buf, "%.0f", std::fabs(d));
  } else if (j.is_boolean() || j.is_number_integer()) {
    const int64_t x = j.is_boolean() ? int64_t{j.get<bool>()} : j.get<int64_t>();
    negative = x < 0;
    const uint64_t mag = negative ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    const char* conv = sp.type == 'o'   ? "%" PRIo64
                       : sp.type == 'x' ? "%" PRIx64
                       : sp.type == 'X' ? "%" PRIX64
                                        : "%" PRIu64;
    std::snprintf(buf, sizeof buf, conv, mag);
  } else {
    return core::invalid_argument("%{} format: {} is required, not {}", sp.type,
                                  decimal ? "a real number" : "an integer", type_name(v));
  }
  digits = buf;
  if (sp.precision && *sp.precision > static_cast<int64_t>(digits.size()))
    digits.insert(0, static_cast<size_t>(*sp.precision) - digits.size(), '0');
  std::string head = sign_of(negative, sp);
  if (sp.alt && !decimal) head += sp.type == 'o' ? "0o" : sp.type == 'x' ? "0x" : "0X";
  return pad(head + digits, sp, head.size(), true);
}

// %e %E %f %F %g %G: a float (an int or a bool converted).
Result<std::string> format_float(const Value& v, const Spec& sp) {
  const Json& j = data_or_null(v);
  if (!j.is_number() && !j.is_boolean())
    return core::invalid_argument("must be real number, not {}", type_name(v));
  const double d = j.is_boolean() ? j.get<bool>() : j.get<double>();
  const std::string conv = std::string("%") + (sp.alt ? "#" : "") + ".*" + sp.type;
  const int prec = static_cast<int>(std::min<int64_t>(sp.precision.value_or(6), 1000));
  const int n = std::snprintf(nullptr, 0, conv.c_str(), prec, std::fabs(d));
  std::string digits(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(digits.data(), digits.size(), conv.c_str(), prec, std::fabs(d));
  digits.resize(static_cast<size_t>(n));
  const std::string head = sign_of(std::signbit(d) && !std::isnan(d), sp);
  return pad(head + digits, sp, head.size(), std::isfinite(d));
}

// %c: an int (a code point) or a one-character str.
Result<std::string> format_char(const Value& v, const Spec& sp) {
  const Json& j = data_or_null(v);
  std::string ch;
  if (j.is_number_integer() || j.is_boolean()) {
    const int64_t cp = j.is_boolean() ? j.get<bool>() : j.get<int64_t>();
    if (cp < 0 || cp > 0x10FFFF) return core::invalid_argument("%c arg not in range(0x110000)");
    append_utf8(ch, static_cast<uint32_t>(cp));
  } else if (j.is_string() && utf8_chars(j.get<std::string>()).size() == 1) {
    ch = j.get<std::string>();
  } else {
    return core::invalid_argument("%c requires an int or a unicode character, not {}",
                                  type_name(v));
  }
  return pad(ch, sp, 0, false);
}

// %s %r %a: str() / repr() of the value (%a as %r: non-ASCII characters are not escaped), cut
// to `precision` code points.
std::string format_text(const Value& v, const Spec& sp) {
  std::string s = sp.type == 's' ? to_str(v) : v.is_undefined() ? "Undefined" : py_repr(v.data);
  if (sp.precision) {
    const std::vector<std::string> cps = utf8_chars(s);
    if (static_cast<int64_t>(cps.size()) > *sp.precision) {
      s.clear();
      for (int64_t i = 0; i < *sp.precision; ++i) s += cps[static_cast<size_t>(i)];
    }
  }
  return pad(s, sp, 0, false);
}

// One conversion (sp.type, at `index` of the format) of `arg`.
Result<std::string> convert(const Value& arg, const Spec& sp, size_t index) {
  auto is = [&](std::string_view types) { return types.find(sp.type) != std::string_view::npos; };
  if (is("diuoxX")) return format_int(arg, sp);
  if (is("eEfFgG")) return format_float(arg, sp);
  if (sp.type == 'c') return format_char(arg, sp);
  if (is("sra")) return format_text(arg, sp);
  return core::invalid_argument("unsupported format character '{}' (0x{:x}) at index {}", sp.type,
                                static_cast<unsigned char>(sp.type), index);
}

// The arguments as CPython's formatter walks them: a tuple's items one by one, or a single
// value used once; a dict also serves %(key) lookups (and then need not be used up).
class Args {
 public:
  Args(std::vector<Value> items, const Value* mapping)
      : items_(std::move(items)), mapping_(mapping) {}
  Result<Value> next() {
    if (pos_ >= items_.size())
      return core::invalid_argument("not enough arguments for format string");
    return items_[pos_++];
  }
  Result<Value> lookup(const std::string& key) const {
    if (mapping_ == nullptr) return core::invalid_argument("format requires a mapping");
    const Json& d = mapping_->data;
    if (!d.contains(key)) return core::invalid_argument("KeyError: {}", py_repr(Json(key)));
    return Value(d[key]);
  }
  // CPython's check at the end: every item used, unless the arguments are a dict.
  bool used_up() const { return mapping_ != nullptr || pos_ >= items_.size(); }

 private:
  std::vector<Value> items_;
  const Value* mapping_;
  size_t pos_ = 0;
};

// A width or precision at fmt[i]: digits, or * (the next argument, an int); 0 when absent.
Result<int64_t> spec_number(const std::string& fmt, size_t& i, Args& args) {
  if (i < fmt.size() && fmt[i] == '*') {
    ++i;
    LLM_ASSIGN_OR_RETURN(Value v, args.next());
    if (!v.is_data() || !v.data.is_number_integer()) return core::invalid_argument("* wants int");
    return v.data.get<int64_t>();
  }
  int64_t n = 0;
  while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])))
    n = std::min<int64_t>(n * 10 + (fmt[i++] - '0'), int64_t{1} << 31);
  return n;
}

// The conversion spec after a '%' at fmt[i]: [(key)][flags][width][.precision][h l L]type; i
// ends past the type. A (key) is looked up in the mapping, into `keyed`.
Result<Spec> parse_spec(const std::string& fmt, size_t& i, Args& args,
                        std::optional<Value>& keyed) {
  if (i < fmt.size() && fmt[i] == '(') {  // nested parentheses count, as CPython's
    int depth = 1;
    const size_t key0 = ++i;
    for (; i < fmt.size() && depth > 0; ++i) depth += fmt[i] == '(' ? 1 : fmt[i] == ')' ? -1 : 0;
    if (depth > 0) return core::invalid_argument("incomplete format key");
    LLM_ASSIGN_OR_RETURN(Value v, args.lookup(fmt.substr(key0, i - 1 - key0)));
    keyed = std::move(v);
  }
  Spec sp;
  for (bool flag = true; flag && i < fmt.size(); i += flag) {
    bool* f = fmt[i] == '-'   ? &sp.left
              : fmt[i] == '0' ? &sp.zero
              : fmt[i] == '+' ? &sp.plus
              : fmt[i] == ' ' ? &sp.space
              : fmt[i] == '#' ? &sp.alt
                              : nullptr;
    flag = f != nullptr;
    if (flag) *f = true;
  }
  LLM_ASSIGN_OR_RETURN(sp.width, spec_number(fmt, i, args));
  if (sp.width < 0) sp.left = true, sp.width = -sp.width;  // a negative *: left-justified
  if (i < fmt.size() && fmt[i] == '.') {
    ++i;
    LLM_ASSIGN_OR_RETURN(int64_t prec, spec_number(fmt, i, args));
    sp.precision = std::max<int64_t>(prec, 0);
  }
  while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
  if (i >= fmt.size()) return core::invalid_argument("incomplete format");
  sp.type = fmt[i++];
  return sp;
}

Result<std::string> format_all(const std::string& fmt, Args& args) {
  std::string out;
  for (size_t i = 0; i < fmt.size();) {
    const size_t pct = fmt.find('%', i);
    out.append(fmt, i, pct == std::string::npos ? std::string::npos : pct - i);
    if (pct == std::string::npos) break;
    i = pct + 1;
    if (i < fmt.size() && fmt[i] == '%') {  // "%%" (only with nothing between, as CPython's)
      out += '%';
      ++i;
      continue;
    }
    std::optional<Value> keyed;
    LLM_ASSIGN_OR_RETURN(const Spec sp, parse_spec(fmt, i, args, keyed));
    Value arg;
    if (keyed) {
      arg = *keyed;
    } else {
      LLM_ASSIGN_OR_RETURN(arg, args.next());
    }
    LLM_ASSIGN_OR_RETURN(std::string piece, convert(arg, sp, i - 1));
    out += piece;
  }
  if (!args.used_up())
    return core::invalid_argument("not all arguments converted during string formatting");
  return out;
}

}  // namespace

Result<std::string> py_percent_format(const std::string& fmt, const Value& values) {
  std::vector<Value> items;
  if (values.is_data() && values.data.is_array()) {
    for (const Json& e : values.data) items.emplace_back(e);
  } else {
    items.push_back(values);
  }
  const bool mapping = values.is_data() && values.data.is_object();
  Args args(std::move(items), mapping ? &values : nullptr);
  return format_all(fmt, args);
}

Result<std::string> format_filter(CallArgs& a) {
  const std::string fmt = to_str(a.args[0]);
  if (!a.kwargs.empty()) {
    if (a.args.size() > 1)
      return core::invalid_argument(
          "can't handle positional and keyword arguments at the same time");
    Json kwargs = Json::object();
    for (const auto& [name, v] : a.kwargs) kwargs[name] = data_or_null(v);
    const Value mapping(kwargs);
    Args args({mapping}, &mapping);
    return format_all(fmt, args);
  }
  Args args(std::vector<Value>(a.args.begin() + 1, a.args.end()), nullptr);
  return format_all(fmt, args);
}

}  // namespace lightllm::tokenizer::jinja
