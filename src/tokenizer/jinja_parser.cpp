// src/tokenizer/jinja_parser.cpp — template scanning (tags, whitespace control) and a recursive
// descent parser for statements and expressions (see jinja_parser.h).
#include "tokenizer/jinja_parser.h"

#include <charconv>
#include <cstdlib>

#include <cctype>

namespace lightllm::tokenizer::jinja {

namespace {

using core::Result;

struct Pos {
  int line, col;
};

Pos pos_of(const std::string& src, size_t off) {
  Pos p{1, 1};
  for (size_t i = 0; i < off && i < src.size(); ++i) {
    if (src[i] == '\n') {
      ++p.line;
      p.col = 1;
    } else {
      ++p.col;
    }
  }
  return p;
}

// ---- scanning: the template as a list of text pieces and tags ----

struct Item {
  enum class Type { text, var, block } type;
  std::string s;  // text or tag content
  size_t off;     // offset of the content in the source
};

Result<std::vector<Item>> scan(const std::string& src) {
  struct Raw {
    Item item;
    bool lminus = false, lplus = false, rminus = false, rplus = false;
    bool is_block_or_comment = false;
  };
  std::vector<Raw> raws;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' &&
           src[open + 1] != '%' && src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open == std::string::npos || open + 1 >= src.size()) {
      raws.push_back({{Item::Type::text, src.substr(pos), pos}});
      break;
    }
    if (open > pos) raws.push_back({{Item::Type::text, src.substr(pos, open - pos), pos}});
    const char kind = src[open + 1];
    const std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t start = open + 2;
    Raw r;
    if (start < src.size() && src[start] == '-')
      r.lminus = true, ++start;
    else if (start < src.size() && src[start] == '+')
      r.lplus = true, ++start;
    // find the closing delimiter outside string literals
    size_t end = std::string::npos;
    char quote = 0;
    for (size_t i = start; i + 1 < src.size(); ++i) {
      const char c = src[i];
      if (kind != '#' && quote == 0 && (c == '\'' || c == '"'))
        quote = c;
      else if (quote != 0 && c == '\\')
        ++i;
      else if (quote != 0 && c == quote)
        quote = 0;
      else if (quote == 0 && src.compare(i, 2, close) == 0) {
        end = i;
        break;
      }
    }
    if (end == std::string::npos) {
      const Pos p = pos_of(src, open);
      return core::invalid_argument("template line {}, column {}: unclosed '{}{}'", p.line, p.col,
                                    '{', kind);
    }
    size_t content_end = end;
    if (content_end > start && src[content_end - 1] == '-')
      r.rminus = true, --content_end;
    else if (content_end > start && src[content_end - 1] == '+')
      r.rplus = true, --content_end;
    pos = end + 2;
    r.is_block_or_comment = kind != '{';
    if (kind == '#') {
      r.item = {Item::Type::text, "", start};  // comments vanish but keep whitespace rules
      r.item.type = Item::Type::block;
      r.item.s = "#";
    } else {
      r.item = {kind == '{' ? Item::Type::var : Item::Type::block,
                src.substr(start, content_end - start), start};
    }
    // {% raw %}: everything up to {% endraw %} is text
    if (kind == '%') {
      std::string c = r.item.s;
      c.erase(0, c.find_first_not_of(" \t\r\n"));
      c.erase(c.find_last_not_of(" \t\r\n") + 1);
      if (c == "raw") {
        const size_t er = src.find("endraw", pos);
        const size_t er_open = er == std::string::npos ? er : src.rfind("{%", er);
        const size_t er_close = er == std::string::npos ? er : src.find("%}", er);
        if (er_close == std::string::npos) {
          const Pos p = pos_of(src, open);
          return core::invalid_argument("template line {}, column {}: 'raw' without 'endraw'",
                                        p.line, p.col);
        }
        raws.push_back(r);
        raws.back().item.s = "#";
        raws.push_back({{Item::Type::text, src.substr(pos, er_open - pos), pos}});
        Raw endr;
        endr.item = {Item::Type::block, "#", er_open};
        endr.is_block_or_comment = true;
        raws.push_back(endr);
        pos = er_close + 2;
        continue;
      }
    }
    raws.push_back(r);
  }
  // Whitespace control on text next to tags.
  for (size_t i = 0; i < raws.size(); ++i) {
    if (raws[i].item.type != Item::Type::text) continue;
    std::string& t = raws[i].item.s;
    if (i + 1 < raws.size()) {
      const Raw& next = raws[i + 1];
      if (next.lminus) {
        t.erase(t.find_last_not_of(" \t\r\n") + 1);
      } else if (next.is_block_or_comment && !next.lplus) {  // lstrip_blocks
        const size_t nl = t.find_last_of('\n');
        const size_t line_start = nl == std::string::npos ? 0 : nl + 1;
        const bool at_template_line_start = nl != std::string::npos || i == 0;
        if (at_template_line_start && t.find_first_not_of(" \t", line_start) == std::string::npos)
          t.erase(line_start);
      }
    }
    if (i > 0) {
      const Raw& prev = raws[i - 1];
      if (prev.rminus) {
        const size_t b = t.find_first_not_of(" \t\r\n");
        t.erase(0, b == std::string::npos ? t.size() : b);
      } else if (prev.is_block_or_comment && !prev.rplus) {  // trim_blocks
        if (t.compare(0, 1, "\n") == 0)
          t.erase(0, 1);
        else if (t.compare(0, 2, "\r\n") == 0)
          t.erase(0, 2);
      }
    }
  }
  std::vector<Item> items;
  for (auto& r : raws) {
    if (r.item.type == Item::Type::text && r.item.s.empty()) continue;
    if (r.item.type == Item::Type::block && r.item.s == "#") continue;
    items.push_back(std::move(r.item));
  }
  return items;
}

// ---- expression tokens ----

struct Tok {
  enum class T { name, str, num, op, end } t;
  std::string s;
  Json num;
  size_t off;
};

Result<std::vector<Tok>> lex(const std::string& src, const std::string& s, size_t base) {
  std::vector<Tok> out;
  size_t i = 0;
  auto err = [&](const std::string& msg) {
    const Pos p = pos_of(src, base + i);
    return core::invalid_argument("template line {}, column {}: {}", p.line, p.col, msg);
  };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      out.push_back({Tok::T::name, s.substr(start, i - start), {}, base + start});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      bool is_float = false;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        is_float = true;
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      std::string txt = s.substr(start, i - start);
      std::erase(txt, '_');
      Tok t{Tok::T::num, txt, {}, base + start};
      // Python ints are unbounded: a literal beyond int64 becomes a float rather than an error.
      int64_t as_int = 0;
      const auto [end, ec] = std::from_chars(txt.data(), txt.data() + txt.size(), as_int);
      const bool fits = !is_float && ec == std::errc() && end == txt.data() + txt.size();
      t.num = fits ? Json(as_int) : Json(std::strtod(txt.c_str(), nullptr));
      out.push_back(t);
    } else if (c == '\'' || c == '"') {
      std::string v;
      ++i;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          const char e = s[++i];
          switch (e) {
            case 'n': v.push_back('\n'); break;
            case 't': v.push_back('\t'); break;
            case 'r': v.push_back('\r'); break;
            case '\\': v.push_back('\\'); break;
            case '\'': v.push_back('\''); break;
            case '"': v.push_back('"'); break;
            default: v.push_back('\\'); v.push_back(e);
          }
          ++i;
        } else {
          v.push_back(s[i++]);
        }
      }
      if (i >= s.size()) return err("unterminated string");
      ++i;
      out.push_back({Tok::T::str, v, {}, base + start});
    } else {
      static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                   "/",  "%",  "~",  "<",  ">",  "(",  ")", "[", "]",
                                   "{",  "}",  ",",  ".",  ":",  "|",  "="};
      bool found = false;
      for (const char* op : kOps) {
        const size_t n = std::char_traits<char>::length(op);
        if (s.compare(i, n, op) == 0) {
          out.push_back({Tok::T::op, op, {}, base + start});
          i += n;
          found = true;
          break;
        }
      }
      if (!found) return err(std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({Tok::T::end, "", {}, base + s.size()});
  return out;
}

// ---- parser ----

class Parser {
 public:
  Parser(const std::string& src, std::vector<Item> items) : src_(src), items_(std::move(items)) {}
  int depth_ = 0;  // current nesting (see kMaxDepth)

  Result<std::vector<NodePtr>> parse_all() {
    std::string end_tag;
    LLM_ASSIGN_OR_RETURN(auto body, parse_body({}, end_tag));
    return body;
  }

 private:
  core::Status error_at(size_t off, const std::string& msg) const {
    const Pos p = pos_of(src_, off);
    return core::invalid_argument("template line {}, column {}: {}", p.line, p.col, msg);
  }

  // Templates nested deeper than this are refused instead of exhausting the stack (here, and
  // in the interpreter that walks the tree).
  static constexpr int kMaxDepth = 200;
  struct DepthGuard {
    int& depth;
    ~DepthGuard() { --depth; }
  };
  bool too_deep() { return ++depth_ > kMaxDepth; }

  NodePtr node(Node::Kind k, size_t off) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    const Pos p = pos_of(src_, off);
    n->line = p.line;
    n->col = p.col;
    return n;
  }

  // Parses statements until a block tag whose keyword is in `ends`; its keyword goes to end_tag
  // and the remaining tokens of that tag stay in toks_ for the caller.
  Result<std::vector<NodePtr>> parse_body(const std::vector<std::string>& ends,
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

  Result<NodePtr> statement(const std::string& kw, size_t off) {
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

  // ---- expressions ----
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

  Result<NodePtr> expr_or_tuple() {
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

  Result<NodePtr> expr() {
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

  Result<NodePtr> binary(NodePtr l, std::string op, NodePtr r, size_t off) {
    auto n = node(Node::Kind::binary, off);
    n->str = std::move(op);
    n->a.push_back(std::move(l));
    n->a.push_back(std::move(r));
    return n;
  }

  Result<NodePtr> or_expr() {
    const size_t off = peek().off;
    LLM_ASSIGN_OR_RETURN(auto l, and_expr());
    while (accept_name("or")) {
      LLM_ASSIGN_OR_RETURN(auto r, and_expr());
      LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "or", std::move(r), off));
    }
    return l;
  }
  Result<NodePtr> and_expr() {
    const size_t off = peek().off;
    LLM_ASSIGN_OR_RETURN(auto l, not_expr());
    while (accept_name("and")) {
      LLM_ASSIGN_OR_RETURN(auto r, not_expr());
      LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "and", std::move(r), off));
    }
    return l;
  }
  Result<NodePtr> not_expr() {
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
  Result<NodePtr> compare() {
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
  Result<NodePtr> concat() {
    const size_t off = peek().off;
    LLM_ASSIGN_OR_RETURN(auto l, additive());
    while (accept("~")) {
      LLM_ASSIGN_OR_RETURN(auto r, additive());
      LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), "~", std::move(r), off));
    }
    return l;
  }
  Result<NodePtr> additive() {
    const size_t off = peek().off;
    LLM_ASSIGN_OR_RETURN(auto l, term());
    while (peek().t == Tok::T::op && (peek().s == "+" || peek().s == "-")) {
      const std::string op = next().s;
      LLM_ASSIGN_OR_RETURN(auto r, term());
      LLM_ASSIGN_OR_RETURN(l, binary(std::move(l), op, std::move(r), off));
    }
    return l;
  }
  Result<NodePtr> term() {
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
  Result<NodePtr> unary() {
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

  core::Status call_args(Node& n) {  // after '(' ; fills n.a (after existing) and n.kwargs
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

  Result<NodePtr> postfix() {
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

  Result<NodePtr> primary() {
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
    return error_at(
        t.off, t.t == Tok::T::end ? "unexpected end of expression" : "unexpected '" + t.s + "'");
  }

  const std::string& src_;
  std::vector<Item> items_;
  size_t idx_ = 0;
  std::vector<Tok> toks_;
  size_t p_ = 0;
};

}  // namespace

Result<std::vector<NodePtr>> parse_template(const std::string& source) {
  LLM_ASSIGN_OR_RETURN(auto items, scan(source));
  Parser p(source, std::move(items));
  return p.parse_all();
}

}  // namespace lightllm::tokenizer::jinja
