// src/tokenizer/jinja_parser.cpp — parse_template and the statement half of the recursive
// descent Parser (jinja_parser_impl.h): the body loop over scanned items, {{ output }}, and the
// {% if / for / set / macro / filter / break / continue / generation %} blocks. Expressions are
// parsed in jinja_parse_expr.cpp.
#include "tokenizer/jinja_parser.h"

#include "tokenizer/jinja_parser_impl.h"

namespace lightllm::tokenizer::jinja::parser_detail {

using core::Result;

Result<std::vector<NodePtr>> Parser::parse_all() {
  std::string end_tag;
  LLM_ASSIGN_OR_RETURN(auto body, parse_body({}, end_tag));
  return body;
}

NodePtr Parser::node(Node::Kind k, size_t off) {
  auto n = std::make_unique<Node>();
  n->kind = k;
  const Pos p = pos_of(src_, off);
  n->line = p.line;
  n->col = p.col;
  return n;
}

Result<std::vector<NodePtr>> Parser::parse_body(const std::vector<std::string>& ends,
                                                std::string& end_tag) {
  std::vector<NodePtr> out;
  while (idx_ < items_.size()) {
    const Item& it = items_[idx_++];
    if (it.type == Item::Type::text) {
      auto n = node(Node::Kind::text, it.off);
      n->str = it.s;
      out.push_back(std::move(n));
      continue;
    }
    LLM_ASSIGN_OR_RETURN(toks_, lex(src_, it.s, it.off));
    p_ = 0;
    if (it.type == Item::Type::var) {
      auto n = node(Node::Kind::output, it.off);
      LLM_ASSIGN_OR_RETURN(auto e, expr());
      n->a.push_back(std::move(e));
      LLM_RETURN_IF_ERROR(expect_end());
      out.push_back(std::move(n));
      continue;
    }
    if (peek().t != Tok::T::name) return error_at(it.off, "expected a statement keyword");
    const std::string kw = next().s;
    for (const auto& e : ends) {
      if (kw == e) {
        end_tag = kw;
        return out;
      }
    }
    LLM_ASSIGN_OR_RETURN(auto st, statement(kw, it.off));
    if (st) out.push_back(std::move(st));
  }
  if (!ends.empty()) {
    std::string want;
    for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
    return error_at(src_.size(), "unexpected end of template, expected " + want);
  }
  return out;
}

Result<NodePtr> Parser::statement(const std::string& kw, size_t off) {
  DepthGuard guard{depth_};
  if (too_deep()) return error_at(off, "template nested too deeply");
  if (kw == "if") {
    auto n = node(Node::Kind::if_, off);
    LLM_ASSIGN_OR_RETURN(auto cond, expr());
    n->a.push_back(std::move(cond));
    LLM_RETURN_IF_ERROR(expect_end());
    Node* cur = n.get();
    while (true) {
      std::string end;
      LLM_ASSIGN_OR_RETURN(cur->body, parse_body({"elif", "else", "endif"}, end));
      if (end == "endif") break;
      if (end == "else") {
        LLM_RETURN_IF_ERROR(expect_end());
        LLM_ASSIGN_OR_RETURN(cur->else_body, parse_body({"endif"}, end));
        break;
      }
      auto elif = node(Node::Kind::if_, off);
      LLM_ASSIGN_OR_RETURN(auto c2, expr());
      elif->a.push_back(std::move(c2));
      LLM_RETURN_IF_ERROR(expect_end());
      Node* raw = elif.get();
      cur->else_body.push_back(std::move(elif));
      cur = raw;
    }
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "for") {
    auto n = node(Node::Kind::for_, off);
    do {
      if (peek().t != Tok::T::name) return error_at(peek().off, "expected a loop variable");
      n->names.push_back(next().s);
    } while (accept(","));
    if (!accept_name("in")) return error_at(peek().off, "expected 'in'");
    LLM_ASSIGN_OR_RETURN(auto iter, or_expr());
    n->a.push_back(std::move(iter));
    if (accept_name("if")) {
      LLM_ASSIGN_OR_RETURN(auto cond, or_expr());
      n->a.push_back(std::move(cond));
    }
    accept_name("recursive");
    LLM_RETURN_IF_ERROR(expect_end());
    std::string end;
    LLM_ASSIGN_OR_RETURN(n->body, parse_body({"else", "endfor"}, end));
    if (end == "else") {
      LLM_RETURN_IF_ERROR(expect_end());
      LLM_ASSIGN_OR_RETURN(n->else_body, parse_body({"endfor"}, end));
    }
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "set") {
    std::vector<std::string> targets;
    do {
      if (peek().t != Tok::T::name) return error_at(peek().off, "expected a variable name");
      std::string t = next().s;
      if (accept(".")) t += "." + next().s;
      targets.push_back(t);
    } while (accept(","));
    if (accept("=")) {
      auto n = node(Node::Kind::set, off);
      n->names = std::move(targets);
      LLM_ASSIGN_OR_RETURN(auto v, expr_or_tuple());
      n->a.push_back(std::move(v));
      LLM_RETURN_IF_ERROR(expect_end());
      return n;
    }
    auto n = node(Node::Kind::set_block, off);
    n->names = std::move(targets);
    LLM_RETURN_IF_ERROR(expect_end());
    std::string end;
    LLM_ASSIGN_OR_RETURN(n->body, parse_body({"endset"}, end));
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "macro") {
    auto n = node(Node::Kind::macro, off);
    if (peek().t != Tok::T::name) return error_at(peek().off, "expected a macro name");
    n->str = next().s;
    if (!accept("(")) return error_at(peek().off, "expected '('");
    if (!accept(")")) {
      do {
        if (peek().t != Tok::T::name) return error_at(peek().off, "expected a parameter name");
        n->names.push_back(next().s);
        if (accept("=")) {
          LLM_ASSIGN_OR_RETURN(auto d, expr());
          n->a.push_back(std::move(d));
        } else {
          n->a.push_back(nullptr);
        }
      } while (accept(","));
      if (!accept(")")) return error_at(peek().off, "expected ')'");
    }
    LLM_RETURN_IF_ERROR(expect_end());
    std::string end;
    LLM_ASSIGN_OR_RETURN(n->body, parse_body({"endmacro"}, end));
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "filter") {  // {% filter name(args) %}...{% endfilter %}: a[0] is the filter call
    auto n = node(Node::Kind::filter_block, off);
    if (peek().t != Tok::T::name) return error_at(peek().off, "expected a filter name");
    auto f = node(Node::Kind::filter, off);
    f->str = next().s;
    f->a.push_back(nullptr);  // the body's text goes here at render time
    if (accept("(")) LLM_RETURN_IF_ERROR(call_args(*f));
    n->a.push_back(std::move(f));
    LLM_RETURN_IF_ERROR(expect_end());
    std::string end;
    LLM_ASSIGN_OR_RETURN(n->body, parse_body({"endfilter"}, end));
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "break" || kw == "continue") {  // jinja2.ext.loopcontrols (transformers enables it)
    auto n = node(kw == "break" ? Node::Kind::break_ : Node::Kind::continue_, off);
    LLM_RETURN_IF_ERROR(expect_end());
    return n;
  }
  if (kw == "generation" || kw == "endgeneration") {  // HF assistant-mask markers: no output
    LLM_RETURN_IF_ERROR(expect_end());
    return NodePtr();
  }
  return error_at(off, "unsupported statement '" + kw + "'");
}

}  // namespace lightllm::tokenizer::jinja::parser_detail

namespace lightllm::tokenizer::jinja {

core::Result<std::vector<NodePtr>> parse_template(const std::string& source) {
  LLM_ASSIGN_OR_RETURN(auto items, parser_detail::scan(source));
  parser_detail::Parser p(source, std::move(items));
  return p.parse_all();
}

}  // namespace lightllm::tokenizer::jinja
