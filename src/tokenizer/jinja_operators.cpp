// src/tokenizer/jinja_operators.cpp — the Jinja globals (namespace, dict, range,
// raise_exception, strftime_now), the binary operators (~, comparisons, in, + - * / // % **)
// and the tests (`x is name(args)`), with Python semantics (see jinja_builtins.h): ints stay
// exact while int64 holds and become floats beyond (Python ints never overflow), // and %
// floor towards negative infinity, arithmetic on an undefined value is an error (as jinja2's
// Undefined raises).
#include <cmath>
#include <ctime>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_py.h"

namespace lightllm::tokenizer::jinja {

using core::Result;

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
    for (const Value& x : a.args) {  // Python's range takes ints (and bools) only
      const Json& j = data_or_null(x);
      if (!j.is_number_integer() && !j.is_boolean())
        return type_error("'" + type_name(x) + "' object cannot be interpreted as an integer");
    }
    auto num = [&](size_t i) {
      const Json& j = data_or_null(a.args[i]);
      return j.is_boolean() ? int64_t{j.get<bool>()} : j.get<int64_t>();
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
    if (a.is_string() && b.is_string()) {
      if (!l.markup && !r.markup) return Value(Json(a.get<std::string>() + b.get<std::string>()));
      // Markup + str / str + Markup (Markup.__add__, __radd__): the plain side is escaped.
      auto side = [](const Value& v) {
        return v.markup ? v.data.get<std::string>() : html_escape(v.data.get<std::string>());
      };
      Value out(Json(side(l) + side(r)));
      out.markup = true;
      return out;
    }
    if (a.is_array() && b.is_array()) {
      Json out = a;
      for (const auto& e : b) out.push_back(e);
      return Value(out);
    }
  }
  if (op == "%" && a.is_string()) {  // printf-style formatting
    LLM_ASSIGN_OR_RETURN(std::string s, py_percent_format(a.get<std::string>(), r));
    return Value(Json(std::move(s)));
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
  if (name == "sequence")
    return v.is_data() && !v.generator && (j.is_array() || j.is_string() || j.is_object());
  if (name == "iterable")  // Undefined iterates as empty
    return v.is_undefined() || (v.is_data() && (j.is_array() || j.is_string() || j.is_object()));
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
  if (name == "lower" || name == "upper") {  // str(value).islower() / isupper()
    const std::string s = to_str(v);
    return py_is_case(s, name == "lower" ? LetterCase::lower : LetterCase::upper);
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

}  // namespace lightllm::tokenizer::jinja
