// src/tokenizer/jinja_parse_expr.cpp — the expression half of the recursive descent Parser
// (jinja_parser_impl.h). Precedence, lowest first: inline if/else, or, and, not, comparisons / in /
// is-tests, ~, + -, * / // %, unary - + and ** (right-assoc), postfix (.attr, [index / slice],
// calls, |filters), primaries (literals, names, tuples, lists, dicts).
#include "tokenizer/jinja_parser_impl.h"

namespace lightllm::tokenizer::jinja::parser_detail {

using core::Result;

Result<NodePtr> Parser::expr_or_tuple() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto first, expr());
  if (peek().t != Tok::T::op || peek().s != ",") return first;
  auto t = node(Node::Kind::tuple, off);
  t->a.push_back(std::move(first));
  while (accept(",")) {
    if (peek().t == Tok::T::end) break;
    LLM_ASSIGN_OR_RETURN(auto e, expr());
    t->a.push_back(std::move(e));
  }
  return t;
}

Result<NodePtr> Parser::expr() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto v, or_expr());
  if (accept_name("if")) {
    auto n = node(Node::Kind::cond, off);
    LLM_ASSIGN_OR_RETURN(auto c, or_expr());
    NodePtr other;
    if (accept_name("else")) {
      LLM_ASSIGN_OR_RETURN(other, expr());
    }
    n->a.push_back(std::move(v));
    n->a.push_back(std::move(c));
    n->a.push_back(std::move(other));
    return n;
  }
  return v;
}

Result<NodePtr> Parser::binary(NodePtr l, std::string op, NodePtr r, size_t off) {
  auto n = node(Node::Kind::binary, off);
  n->str = std::move(op);
  n->a.push_back(std::move(l));
  n->a.push_back(std::move(r));
  return n;
}

Result<NodePtr> Parser::or_expr() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, and_expr());
  while (accept_name("or")) {
    LLM_ASSIGN_OR_RETURN(auto r, and_expr());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "or", std::move(r), off));
  }
  return l;
}
Result<NodePtr> Parser::and_expr() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, not_expr());
  while (accept_name("and")) {
    LLM_ASSIGN_OR_RETURN(auto r, not_expr());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "and", std::move(r), off));
  }
  return l;
}
Result<NodePtr> Parser::not_expr() {
  const size_t off = peek().off;
  DepthGuard guard{depth_};
  if (too_deep()) return error_at(off, "template nested too deeply");
  if (accept_name("not")) {
    auto n = node(Node::Kind::unary, off);
    n->str = "not";
    LLM_ASSIGN_OR_RETURN(auto e, not_expr());
    n->a.push_back(std::move(e));
    return n;
  }
  return compare();
}
Result<NodePtr> Parser::compare() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, concat());
  while (true) {
    std::string op;
    if (peek().t == Tok::T::op && (peek().s == "==" || peek().s == "!=" || peek().s == "<" ||
                                   peek().s == ">" || peek().s == "<=" || peek().s == ">=")) {
      op = next().s;
    } else if (accept_name("in")) {
      op = "in";
    } else if (peek_name("not") && peek_name("in", 1)) {
      p_ += 2;
      op = "not in";
    } else if (accept_name("is")) {
      auto t = node(Node::Kind::test, off);
      t->flag = accept_name("not");
      if (peek().t != Tok::T::name) return error_at(peek().off, "expected a test name");
      t->str = next().s;
      t->a.push_back(std::move(l));
      if (accept("(")) {
        LLM_RETURN_IF_ERROR(call_args(*t));
      } else if (peek().t == Tok::T::str || peek().t == Tok::T::num ||
                 (peek().t == Tok::T::name && !peek_name("and") && !peek_name("or") &&
                  !peek_name("else") && !peek_name("if"))) {
        LLM_ASSIGN_OR_RETURN(auto arg, primary());
        t->a.push_back(std::move(arg));
      }
      l = std::move(t);
      continue;
    } else {
      return l;
    }
    LLM_ASSIGN_OR_RETURN(auto r, concat());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), op, std::move(r), off));
  }
}
Result<NodePtr> Parser::concat() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, additive());
  while (accept("~")) {
    LLM_ASSIGN_OR_RETURN(auto r, additive());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "~", std::move(r), off));
  }
  return l;
}
Result<NodePtr> Parser::additive() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, term());
  while (peek().t == Tok::T::op && (peek().s == "+" || peek().s == "-")) {
    const std::string op = next().s;
    LLM_ASSIGN_OR_RETURN(auto r, term());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), op, std::move(r), off));
  }
  return l;
}
Result<NodePtr> Parser::term() {
  const size_t off = peek().off;
  LLM_ASSIGN_OR_RETURN(auto l, unary());
  while (peek().t == Tok::T::op &&
         (peek().s == "*" || peek().s == "/" || peek().s == "//" || peek().s == "%")) {
    const std::string op = next().s;
    LLM_ASSIGN_OR_RETURN(auto r, unary());
    LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), op, std::move(r), off));
  }
  return l;
}
Result<NodePtr> Parser::unary() {
  const size_t off = peek().off;
  DepthGuard guard{depth_};
  if (too_deep()) return error_at(off, "template nested too deeply");
  if (peek().t == Tok::T::op && (peek().s == "-" || peek().s == "+")) {
    auto n = node(Node::Kind::unary, off);
    n->str = next().s;
    LLM_ASSIGN_OR_RETURN(auto e, unary());
    n->a.push_back(std::move(e));
    return n;
  }
  LLM_ASSIGN_OR_RETURN(auto l, postfix());
  if (accept("**")) {
    LLM_ASSIGN_OR_RETURN(auto r, unary());
    return binary(std::move(l), "**", std::move(r), off);
  }
  return l;
}

core::Status Parser::call_args(Node& n) {
  if (accept(")")) return {};
  do {
    if (peek().t == Tok::T::op && peek().s == ")") break;
    if (peek().t == Tok::T::name && toks_[p_ + 1].t == Tok::T::op && toks_[p_ + 1].s == "=") {
      const std::string k = next().s;
      next();
      LLM_ASSIGN_OR_RETURN(auto v, expr());
      n.kwargs.emplace_back(k, std::move(v));
    } else {
      LLM_ASSIGN_OR_RETURN(auto v, expr());
      n.a.push_back(std::move(v));
    }
  } while (accept(","));
  if (!accept(")")) return error_at(peek().off, "expected ')'");
  return {};
}

Result<NodePtr> Parser::postfix() {
  LLM_ASSIGN_OR_RETURN(auto e, primary());
  while (true) {
    const size_t off = peek().off;
    if (accept(".")) {
      if (peek().t != Tok::T::name && peek().t != Tok::T::num)
        return error_at(peek().off, "expected an attribute name");
      auto n = node(Node::Kind::attr, off);
      n->str = next().s;
      n->a.push_back(std::move(e));
      e = std::move(n);
    } else if (accept("[")) {
      NodePtr parts[3];
      bool is_slice = false;
      for (int k = 0; k < 3; ++k) {
        if (!(peek().t == Tok::T::op && (peek().s == ":" || peek().s == "]"))) {
          LLM_ASSIGN_OR_RETURN(parts[k], expr());
        }
        if (k < 2 && accept(":")) {
          is_slice = true;
          continue;
        }
        break;
      }
      if (!accept("]")) return error_at(peek().off, "expected ']'");
      if (!is_slice && !parts[0]) return error_at(off, "expected an expression inside '[]'");
      auto n = node(is_slice ? Node::Kind::slice : Node::Kind::index, off);
      n->a.push_back(std::move(e));
      for (auto& p : parts)
        if (is_slice || p) n->a.push_back(std::move(p));
      e = std::move(n);
    } else if (accept("(")) {
      auto n = node(Node::Kind::call, off);
      n->a.push_back(std::move(e));
      LLM_RETURN_IF_ERROR(call_args(*n));
      e = std::move(n);
    } else if (accept("|")) {
      auto n = node(Node::Kind::filter, off);
      if (peek().t != Tok::T::name) return error_at(peek().off, "expected a filter name");
      n->str = next().s;
      n->a.push_back(std::move(e));
      if (accept("(")) LLM_RETURN_IF_ERROR(call_args(*n));
      e = std::move(n);
    } else {
      return e;
    }
  }
}

Result<NodePtr> Parser::primary() {
  const Tok t = next();
  if (t.t == Tok::T::str) {
    auto n = node(Node::Kind::literal, t.off);
    n->lit = t.s;
    while (peek().t == Tok::T::str) n->lit = n->lit.get<std::string>() + next().s;
    return n;
  }
  if (t.t == Tok::T::num) {
    auto n = node(Node::Kind::literal, t.off);
    n->lit = t.num;
    return n;
  }
  if (t.t == Tok::T::name) {
    auto n = node(Node::Kind::literal, t.off);
    if (t.s == "true" || t.s == "True")
      n->lit = true;
    else if (t.s == "false" || t.s == "False")
      n->lit = false;
    else if (t.s == "none" || t.s == "None")
      n->lit = nullptr;
    else {
      n->kind = Node::Kind::name;
      n->str = t.s;
    }
    return n;
  }
  if (t.t == Tok::T::op && t.s == "(") {
    if (accept(")")) return node(Node::Kind::tuple, t.off);
    LLM_ASSIGN_OR_RETURN(auto e, expr());
    if (peek().t == Tok::T::op && peek().s == ",") {
      auto tup = node(Node::Kind::tuple, t.off);
      tup->a.push_back(std::move(e));
      while (accept(",")) {
        if (peek().t == Tok::T::op && peek().s == ")") break;
        LLM_ASSIGN_OR_RETURN(auto x, expr());
        tup->a.push_back(std::move(x));
      }
      e = std::move(tup);
    }
    if (!accept(")")) return error_at(peek().off, "expected ')'");
    return e;
  }
  if (t.t == Tok::T::op && t.s == "[") {
    auto n = node(Node::Kind::list, t.off);
    while (!accept("]")) {
      LLM_ASSIGN_OR_RETURN(auto x, expr());
      n->a.push_back(std::move(x));
      if (!accept(",")) {
        if (!accept("]")) return error_at(peek().off, "expected ']'");
        break;
      }
    }
    return n;
  }
  if (t.t == Tok::T::op && t.s == "{") {
    auto n = node(Node::Kind::dict, t.off);
    while (!accept("}")) {
      LLM_ASSIGN_OR_RETURN(auto k, expr());
      if (!accept(":")) return error_at(peek().off, "expected ':'");
      LLM_ASSIGN_OR_RETURN(auto v, expr());
      n->a.push_back(std::move(k));
      n->a.push_back(std::move(v));
      if (!accept(",")) {
        if (!accept("}")) return error_at(peek().off, "expected '}'");
        break;
      }
    }
    return n;
  }
  return error_at(t.off,
                  t.t == Tok::T::end ? "unexpected end of expression" : "unexpected '" + t.s + "'");
}

}  // namespace lightllm::tokenizer::jinja::parser_detail
