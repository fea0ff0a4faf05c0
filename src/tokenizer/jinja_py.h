// src/tokenizer/jinja_py.h — Python semantics shared by the Jinja builtins (internal to
// src/tokenizer/jinja_*.cpp): type names, equality and ordering, `in`, len(), list(),
// str.strip / split / replace / title / capitalize, attribute paths ("a.b") and the keyword-or-
// positional argument lookup of builtin calls. Each is written once here and used by the
// methods (jinja_access.cpp), operators (jinja_operators.cpp) and filters (jinja_filters.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_value.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer::jinja {

// invalid_argument carrying `msg` (Python's TypeError / ValueError).
core::Result<Value> type_error(const std::string& msg);
// jinja2's UndefinedError: an attribute or item `name` of an undefined value (Undefined raises
// on access, where printing, iterating or testing it is fine).
core::Result<Value> undefined_error(const std::string& name);
// The JSON data of `v`, null for undefined / callables / namespaces.
const Json& data_or_null(const Value& v);
// Python's type(v).__name__ ("str", "list", "NoneType", ...).
std::string type_name(const Value& v);

// Argument `name` of a builtin call: the keyword argument of that name, else the positional
// argument `pos`, else null.
const Value* kwarg(CallArgs& a, const char* name, size_t pos);
// The same as a string / integer; nullopt / `def` when absent or of another type.
std::optional<std::string> opt_str(CallArgs& a, const char* name, size_t pos);
int64_t opt_int(CallArgs& a, const char* name, size_t pos, int64_t def);

// A builtin callable (a bound method or a global function).
Value method(Builtin f);

// str.strip / lstrip / rstrip (chars: nullopt = whitespace).
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool l, bool r);
// str.split(sep, maxsplit) (sep nullopt = runs of whitespace; maxsplit < 0 = no limit).
Json py_split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit);
// jinja2's title filter: the first character of each run between '-', whitespace, '(', '{',
// '[' and '<' uppercased, the rest lowercased (str.title() is string_case_fn("title")).
std::string title_filter(const std::string& s);
// str.islower() (want lower) / str.isupper() (want upper): at least one cased character, and
// every cased one of case `want`.
bool py_is_case(const std::string& s, LetterCase want);
// str.splitlines() (line breaks: \n \r \r\n \v \f \x1c-\x1e \x85 U+2028 U+2029; ends dropped).
std::vector<std::string> py_splitlines(const std::string& s);
// markupsafe.escape: & < > " ' as &amp; &lt; &gt; &#34; &#39;.
std::string html_escape(const std::string& s);
// str.replace(from, to, count) (count < 0 = all).
std::string replace_all(std::string s, const std::string& from, const std::string& to,
                        int64_t count = -1);
// The case conversion named `name` (upper, lower, title, capitalize) that the string method
// and the filter of that name share; null for any other name.
using StringFn = std::string (*)(const std::string&);
StringFn string_case_fn(const std::string& name);

// a == b (1 == 1.0 is true).
bool py_equal(const Json& a, const Json& b);
// -1 / 0 / 1 for numbers or strings; invalid_argument for other pairs (Python's TypeError).
core::Result<int> py_compare(const Value& l, const Value& r);
// `item in container` for strings, lists and dicts (undefined contains nothing).
core::Result<bool> contains(const Value& container, const Value& item);
// len(j); -1 when j has no length.
int64_t py_len(const Json& j);
// dict.items() as a list of [key, value] pairs.
Json dict_items(const Json& d);

// fmt % values (Python's printf-style formatting, jinja_format.cpp): a list is taken as the tuple
// of arguments (templates have no tuples of their own), a dict serves %(key) lookups (or is the
// one argument), anything else is the one argument.
core::Result<std::string> py_percent_format(const std::string& fmt, const Value& values);
// jinja2's format filter: str(args[0]) % (the keyword arguments as a dict, or else the other
// positional arguments as a tuple).
core::Result<std::string> format_filter(CallArgs& a);

// Attribute of an element for selectattr / map / sort / join(attribute=...): "a.b" paths;
// null when a step is missing. has_attr_path says whether every step exists.
Json attr_path(const Json& obj, const std::string& path);
bool has_attr_path(const Json& obj, const std::string& path);

}  // namespace lightllm::tokenizer::jinja
