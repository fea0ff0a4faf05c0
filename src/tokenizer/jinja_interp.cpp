// src/tokenizer/jinja_interp.cpp — the Jinja evaluator (see jinja_interp.h). Statements write
// into one output string; expressions yield Values. Scoping follows jinja2: a for loop body has
// its own scope (so `set` inside it does not leak, hence namespace()), macros see the template's
// top-level variables plus their parameters.
#include "tokenizer/jinja_interp.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "tokenizer/jinja_builtins.h"

namespace lightllm::tokenizer::jinja {

namespace {

using core::Result;
using core::Status;

class Interp {
 public:
  explicit Interp(const Json& ctx) {
    scopes_.emplace_back();
    for (const auto& [k, v] : ctx.items()) scopes_.back()[k] = Value(v);
    install_globals(scopes_.back());
  }

  Status exec(const std::vector<NodePtr>& body, std::string& out) {
    for (const auto& n : body) {
      LLM_RETURN_IF_ERROR(exec_one(*n, out));
      if (loop_ctl_ != LoopCtl::none) break;  // unwinding to the enclosing for loop
    }
    return {};
  }

 private:
  using Scope = std::map<std::string, Value>;

  Status err(const Node& n, const std::string& msg) const {
    return core::invalid_argument("template line {}, column {}: {}", n.line, n.col, msg);
  }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value::undefined();
  }

  Status exec_one(const Node& n, std::string& out) {
    switch (n.kind) {
      case Node::Kind::text: out += n.str; return {};
      case Node::Kind::output: {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[0]));
        out += to_str(v);
        return {};
      }
      case Node::Kind::if_: {
        LLM_ASSIGN_OR_RETURN(Value c, eval(*n.a[0]));
        return exec(truthy(c) ? n.body : n.else_body, out);
      }
      case Node::Kind::for_: return exec_for(n, out);
      case Node::Kind::filter_block: {
        std::string body;
        LLM_RETURN_IF_ERROR(exec(n.body, body));
        LLM_ASSIGN_OR_RETURN(Value r, run_filter(*n.a[0], Value(Json(body))));
        out += to_str(r);
        return {};
      }
      case Node::Kind::break_:
      case Node::Kind::continue_:
        if (loop_depth_ == 0) return err(n, "'break' / 'continue' outside a loop");
        loop_ctl_ = n.kind == Node::Kind::break_ ? LoopCtl::brk : LoopCtl::cont;
        return {};
      case Node::Kind::set: {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[0]));
        return assign(n, v);
      }
      case Node::Kind::set_block: {
        std::string s;
        LLM_RETURN_IF_ERROR(exec(n.body, s));
        return assign(n, Value(Json(s)));
      }
      case Node::Kind::macro: {
        const Node* def = &n;
        scopes_.back()[n.str] = Value::callable(
            [this, def](CallArgs& args) -> Result<Value> { return call_macro(*def, args); });
        return {};
      }
      default: return err(n, "expression used as a statement");
    }
  }

  Status assign(const Node& n, const Value& v) {
    if (n.names.size() == 1) {
      const std::string& t = n.names[0];
      const size_t dot = t.find('.');
      if (dot == std::string::npos) {
        scopes_.back()[t] = v;
        return {};
      }
      Value obj = lookup(t.substr(0, dot));
      if (obj.kind != Value::Kind::ns) return err(n, "can only set attributes of a namespace()");
      (*obj.ns)[t.substr(dot + 1)] = v.is_data() ? v.data : Json();
      return {};
    }
    if (!v.is_data() || !v.data.is_array() || v.data.size() != n.names.size())
      return err(n, "cannot unpack value into " + std::to_string(n.names.size()) + " names");
    for (size_t i = 0; i < n.names.size(); ++i) scopes_.back()[n.names[i]] = Value(v.data[i]);
    return {};
  }

  Status exec_for(const Node& n, std::string& out) {
    LLM_ASSIGN_OR_RETURN(Value it, eval(*n.a[0]));
    std::vector<Json> items;
    if (it.is_data()) {
      auto list = as_list(it);  // a dict's keys, a string's code points
      if (!list.ok()) return located(n, list.status());
      items.assign(list->begin(), list->end());
    } else if (it.kind == Value::Kind::ns) {
      return err(n, "namespace is not iterable");
    }
    // Loop filter: `for x in xs if cond` filters before loop.* is computed.
    auto bind = [&](Scope& s, const Json& item) -> Status {
      if (n.names.size() == 1) {
        s[n.names[0]] = Value(item);
        return {};
      }
      if (!item.is_array() || item.size() != n.names.size())
        return err(n, "cannot unpack loop item into " + std::to_string(n.names.size()) + " names");
      for (size_t k = 0; k < n.names.size(); ++k) s[n.names[k]] = Value(item[k]);
      return {};
    };
    if (n.a.size() > 1) {
      std::vector<Json> kept;
      for (const auto& item : items) {
        scopes_.emplace_back();
        Status st = bind(scopes_.back(), item);
        Result<Value> c = st.ok() ? eval(*n.a[1]) : Result<Value>(st);
        scopes_.pop_back();
        if (!c.ok()) return c.status();
        if (truthy(*c)) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(n.else_body, out);
    const auto len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      scopes_.emplace_back();
      Json loop = {{"index", i + 1},          {"index0", i},   {"first", i == 0},
                   {"last", i == len - 1},    {"length", len}, {"revindex", len - i},
                   {"revindex0", len - i - 1}};
      if (i > 0) loop["previtem"] = items[static_cast<size_t>(i - 1)];
      if (i + 1 < len) loop["nextitem"] = items[static_cast<size_t>(i + 1)];
      scopes_.back()["loop"] = Value(loop);
      Status st = bind(scopes_.back(), items[static_cast<size_t>(i)]);
      ++loop_depth_;
      if (st.ok()) st = exec(n.body, out);
      --loop_depth_;
      scopes_.pop_back();
      LLM_RETURN_IF_ERROR(st);
      const LoopCtl ctl = loop_ctl_;
      loop_ctl_ = LoopCtl::none;
      if (ctl == LoopCtl::brk) break;
    }
    return {};
  }

  Result<Value> call_macro(const Node& def, CallArgs& args) {
    Scope s;
    for (size_t i = 0; i < def.names.size(); ++i) {
      if (i < args.args.size()) {
        s[def.names[i]] = args.args[i];
      } else if (def.a[i]) {
        LLM_ASSIGN_OR_RETURN(s[def.names[i]], eval(*def.a[i]));
      } else {
        s[def.names[i]] = Value::undefined();
      }
    }
    for (auto& [k, v] : args.kwargs) s[k] = v;
    // Macros see the top-level scope plus their own.
    std::vector<Scope> saved(scopes_.begin() + 1, scopes_.end());
    scopes_.resize(1);
    scopes_.push_back(std::move(s));
    std::string out;
    const int saved_depth = loop_depth_;
    loop_depth_ = 0;
    // Recursive macros: refuse past a fixed depth as Python's recursion limit would.
    Status st = ++call_depth_ > kMaxCallDepth ? core::invalid_argument("macro recursion too deep")
                                              : exec(def.body, out);
    --call_depth_;
    loop_depth_ = saved_depth;
    scopes_.resize(1);
    for (auto& sc : saved) scopes_.push_back(std::move(sc));
    LLM_RETURN_IF_ERROR(st);
    return Value(Json(out));
  }

  Result<Value> eval(const Node& n) {
    switch (n.kind) {
      case Node::Kind::literal: return Value(n.lit);
      case Node::Kind::name: return lookup(n.str);
      case Node::Kind::list:
      case Node::Kind::tuple: {
        Json arr = Json::array();
        for (const auto& e : n.a) {
          LLM_ASSIGN_OR_RETURN(Value v, eval(*e));
          arr.push_back(v.is_data() ? v.data : Json());
        }
        return Value(arr);
      }
      case Node::Kind::dict: {
        Json obj = Json::object();
        for (size_t i = 0; i + 1 < n.a.size(); i += 2) {
          LLM_ASSIGN_OR_RETURN(Value k, eval(*n.a[i]));
          LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[i + 1]));
          obj[to_str(k)] = v.is_data() ? v.data : Json();
        }
        return Value(obj);
      }
      case Node::Kind::attr: {
        LLM_ASSIGN_OR_RETURN(Value o, eval(*n.a[0]));
        return get_attr(o, n.str);
      }
      case Node::Kind::index: {
        LLM_ASSIGN_OR_RETURN(Value o, eval(*n.a[0]));
        LLM_ASSIGN_OR_RETURN(Value k, eval(*n.a[1]));
        return get_item(o, k);
      }
      case Node::Kind::slice: return eval_slice(n);
      case Node::Kind::call: {
        LLM_ASSIGN_OR_RETURN(Value f, eval(*n.a[0]));
        CallArgs args;
        LLM_RETURN_IF_ERROR(eval_args(n, 1, args));
        if (f.kind != Value::Kind::builtin) return err(n, "value is not callable");
        auto r = (*f.fn)(args);
        if (!r.ok()) return located(n, r.status());
        return r;
      }
      case Node::Kind::filter: {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[0]));
        return run_filter(n, std::move(v));
      }
      case Node::Kind::test: {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[0]));
        LLM_ASSIGN_OR_RETURN(CallArgs args, piped_args(n, std::move(v)));
        auto r = apply_test(n.str, args);
        if (!r.ok()) return located(n, r.status());
        return Value(Json(*r != n.flag));
      }
      case Node::Kind::unary: {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[0]));
        if (n.str == "not") return Value(Json(!truthy(v)));
        if (!v.is_data() || !v.data.is_number())
          return err(n, "unary " + n.str + " needs a number");
        if (n.str == "+") return v;
        if (v.data.is_number_float()) return Value(Json(-v.data.get<double>()));
        return Value(Json(-v.data.get<int64_t>()));
      }
      case Node::Kind::cond: {
        LLM_ASSIGN_OR_RETURN(Value c, eval(*n.a[1]));
        if (truthy(c)) return eval(*n.a[0]);
        if (n.a[2]) return eval(*n.a[2]);
        return Value::undefined();
      }
      case Node::Kind::binary: {
        if (n.str == "and" || n.str == "or") {
          LLM_ASSIGN_OR_RETURN(Value l, eval(*n.a[0]));
          if ((n.str == "and") != truthy(l)) return l;
          return eval(*n.a[1]);
        }
        LLM_ASSIGN_OR_RETURN(Value l, eval(*n.a[0]));
        LLM_ASSIGN_OR_RETURN(Value r, eval(*n.a[1]));
        auto res = binary_op(n.str, l, r);
        if (!res.ok()) return located(n, res.status());
        return res;
      }
      default: return err(n, "statement used as an expression");
    }
  }

  Status located(const Node& n, const Status& s) const {
    if (s.message().rfind("template line", 0) == 0) return s;
    return err(n, s.message());
  }

  Status eval_args(const Node& n, size_t from, CallArgs& args) {
    for (size_t i = from; i < n.a.size(); ++i) {
      LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[i]));
      args.args.push_back(std::move(v));
    }
    for (const auto& [k, e] : n.kwargs) {
      LLM_ASSIGN_OR_RETURN(Value v, eval(*e));
      args.kwargs.emplace_back(k, std::move(v));
    }
    return {};
  }

  // The arguments of `input | name(...)` / `input is name(...)`: input, then the call's own.
  Result<CallArgs> piped_args(const Node& call, Value input) {
    CallArgs args;
    args.args.push_back(std::move(input));
    LLM_RETURN_IF_ERROR(eval_args(call, 1, args));
    return args;
  }

  Result<Value> run_filter(const Node& f, Value input) {
    LLM_ASSIGN_OR_RETURN(CallArgs args, piped_args(f, std::move(input)));
    auto r = apply_filter(f.str, args);
    if (!r.ok()) return located(f, r.status());
    return r;
  }

  Result<Value> eval_slice(const Node& n) {
    LLM_ASSIGN_OR_RETURN(Value o, eval(*n.a[0]));
    std::optional<int64_t> idx[3];
    for (int k = 0; k < 3; ++k) {
      if (n.a.size() > static_cast<size_t>(k + 1) && n.a[static_cast<size_t>(k + 1)]) {
        LLM_ASSIGN_OR_RETURN(Value v, eval(*n.a[static_cast<size_t>(k + 1)]));
        if (!v.is_data() || !v.data.is_number_integer())
          return err(n, "slice index must be an integer");
        idx[k] = v.data.get<int64_t>();
      }
    }
    auto r = slice_value(o, idx[0], idx[1], idx[2]);
    if (!r.ok()) return located(n, r.status());
    return r;
  }

  enum class LoopCtl { none, brk, cont };
  std::vector<Scope> scopes_;
  LoopCtl loop_ctl_ = LoopCtl::none;
  int loop_depth_ = 0;
  static constexpr int kMaxCallDepth = 64;
  int call_depth_ = 0;
};

}  // namespace

core::Result<std::string> render(const std::vector<NodePtr>& root, const Json& context) {
  Interp in(context);
  std::string out;
  LLM_RETURN_IF_ERROR(in.exec(root, out));
  return out;
}

}  // namespace lightllm::tokenizer::jinja
