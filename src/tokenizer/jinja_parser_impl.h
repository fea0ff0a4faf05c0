// src/tokenizer/jinja_parser_impl.h — private to the Jinja parser (not for use outside
// jinja_lexer.cpp, jinja_parser.cpp and jinja_parse_expr.cpp): the scanned template items, the
// expression tokens, and the recursive-descent Parser whose statement methods live in
// jinja_parser.cpp and whose expression methods live in jinja_parse_expr.cpp.
// Invariants: every token list produced by lex() ends with one Tok::T::end token, so peek() is
// always valid; all errors read "template line L, column C: msg" (template_error).
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja_parser.h"

namespace lightllm::tokenizer::jinja::parser_detail {

// "template line L, column C: msg" for byte offset `off` of `src`.
core::Status template_error(const std::string& src, size_t off, const std::string& msg);

// 1-based line and column of byte offset `off` of `src`.
struct Pos {
  int line, col;
};
Pos pos_of(const std::string& src, size_t off);

// ---- scanning: the template as a list of text pieces and tags (jinja_lexer.cpp) ----

struct Item {
  enum class Type { text, var, block } type;
  std::string s;  // text or tag content
  size_t off;     // offset of the content in the source
};

// Splits `src` into text and tags, drops comments, expands {% raw %} and applies whitespace
// control (-/+ markers, trim_blocks, lstrip_blocks).
core::Result<std::vector<Item>> scan(const std::string& src);

// ---- expression tokens (jinja_lexer.cpp) ----

struct Tok {
  enum class T { name, str, num, op, end } t;
  std::string s;
  Json num;
  size_t off;
};

// Tokenizes the tag content `s` found at offset `base` of `src`; ends with a Tok::T::end.
core::Result<std::vector<Tok>> lex(const std::string& src, const std::string& s, size_t base);

// ---- parser ----

class Parser {
 public:
  Parser(const std::string& src, std::vector<Item> items) : src_(src), items_(std::move(items)) {}
  int depth_ = 0;  // current nesting (see kMaxDepth)

  core::Result<std::vector<NodePtr>> parse_all();

 private:
  core::Status error_at(size_t off, const std::string& msg) const {
    return template_error(src_, off, msg);
  }

  // Templates nested deeper than this are refused instead of exhausting the stack (here, and
  // in the interpreter that walks the tree).
  static constexpr int kMaxDepth = 200;
  struct DepthGuard {
    int& depth;
    ~DepthGuard() { --depth; }
  };
  bool too_deep() { return ++depth_ > kMaxDepth; }

  NodePtr node(Node::Kind k, size_t off);

  // ---- statements (jinja_parser.cpp) ----
  // Parses statements until a block tag whose keyword is in `ends`; its keyword goes to end_tag
  // and the remaining tokens of that tag stay in toks_ for the caller.
  core::Result<std::vector<NodePtr>> parse_body(const std::vector<std::string>& ends,
                                                std::string& end_tag);
  core::Result<NodePtr> statement(const std::string& kw, size_t off);

  // ---- token access ----
  const Tok& peek() const { return toks_[p_]; }
  const Tok& next() { return toks_[p_ < toks_.size() - 1 ? p_++ : p_]; }
  bool accept(const char* op) {
    if (peek().t == Tok::T::op && peek().s == op) {
      ++p_;
      return true;
    }
    return false;
  }
  bool accept_name(const char* n) {
    if (peek().t == Tok::T::name && peek().s == n) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek_name(const char* n, size_t ahead = 0) const {
    const size_t k = std::min(p_ + ahead, toks_.size() - 1);
    return toks_[k].t == Tok::T::name && toks_[k].s == n;
  }
  core::Status expect_end() {
    if (peek().t != Tok::T::end) return error_at(peek().off, "unexpected '" + peek().s + "'");
    return {};
  }

  // ---- expressions (jinja_parse_expr.cpp), lowest precedence first ----
  core::Result<NodePtr> expr_or_tuple();
  core::Result<NodePtr> expr();
  core::Result<NodePtr> binary(NodePtr l, std::string op, NodePtr r, size_t off);
  core::Result<NodePtr> or_expr();
  core::Result<NodePtr> and_expr();
  core::Result<NodePtr> not_expr();
  core::Result<NodePtr> compare();
  core::Result<NodePtr> concat();
  core::Result<NodePtr> additive();
  core::Result<NodePtr> term();
  core::Result<NodePtr> unary();
  core::Status call_args(Node& n);  // after '(' ; fills n.a (after existing) and n.kwargs
  core::Result<NodePtr> postfix();
  core::Result<NodePtr> primary();

  const std::string& src_;
  std::vector<Item> items_;
  size_t idx_ = 0;
  std::vector<Tok> toks_;
  size_t p_ = 0;
};

}  // namespace lightllm::tokenizer::jinja::parser_detail
