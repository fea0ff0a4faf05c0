// src/tokenizer/jinja_lexer.cpp — the Jinja template scanner and expression tokenizer:
// splits a template into text / {{ }} / {% %} items (comments dropped, {% raw %} expanded, -/+
// whitespace control, trim_blocks and lstrip_blocks applied) and tokenizes tag contents into
// names, string / number literals and operators. Owns the "template line L, column C" error format.
#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include <cctype>

#include "tokenizer/jinja_parser_impl.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer::jinja::parser_detail {

using core::Result;

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

core::Status template_error(const std::string& src, size_t off, const std::string& msg) {
  const Pos p = pos_of(src, off);
  return core::invalid_argument("template line {}, column {}: {}", p.line, p.col, msg);
}

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
      return template_error(src, open, std::string("unclosed '{") + kind + "'");
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
          return template_error(src, open, "'raw' without 'endraw'");
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

namespace {

// The value of digit `ch` in `radix` (2 to 16; either case), -1 when it is none.
int radix_digit(char ch, int radix) {
  const int v = std::isdigit(static_cast<unsigned char>(ch))    ? ch - '0'
                : std::isxdigit(static_cast<unsigned char>(ch)) ? (ch | 0x20) - 'a' + 10
                                                                : -1;
  return v < radix ? v : -1;
}

// The radix of a 0b / 0o / 0x literal (either case) starting at s[i] (a digit, or _ and a
// digit, follows the prefix); 0 when there is none.
int int_literal_radix(const std::string& s, size_t i) {
  if (i + 2 >= s.size() || s[i] != '0') return 0;
  const char p = static_cast<char>(s[i + 1] | 0x20);
  const int radix = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 0;
  const size_t first = i + 2 + (s[i + 2] == '_');  // jinja2's 0x(_?[0-9a-f])+
  return radix != 0 && first < s.size() && radix_digit(s[first], radix) >= 0 ? radix : 0;
}

}  // namespace

Result<std::vector<Tok>> lex(const std::string& src, const std::string& s, size_t base) {
  std::vector<Tok> out;
  size_t i = 0;
  auto err = [&](const std::string& msg) { return template_error(src, base + i, msg); };
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
    } else if (const int radix = int_literal_radix(s, i); radix != 0) {
      // 0x / 0o / 0b (either case) and digits of that radix, with single _ between
      i += 2;
      std::string txt;
      while (i < s.size() && (radix_digit(s[i], radix) >= 0 || (s[i] == '_' && i + 1 < s.size() &&
                                                                radix_digit(s[i + 1], radix) >= 0)))
        if (s[i++] != '_') txt += s[i - 1];
      Tok t{Tok::T::num, s.substr(start, i - start), {}, base + start};
      int64_t value = 0;
      const auto [end, ec] = std::from_chars(txt.data(), txt.data() + txt.size(), value, radix);
      if (ec == std::errc()) {
        t.num = Json(value);
      } else {  // past int64 (Python's int is unbounded): a float, as decimal literals
        double d = 0;
        for (const char ch : txt) d = d * radix + radix_digit(ch, radix);
        t.num = Json(d);
      }
      out.push_back(t);
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      // jinja2's integer_re / float_re: digits (with _ between), then .digits and / or an
      // exponent e[+-]digits (either case).
      auto is_digit = [&](size_t k) {
        return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]));
      };
      auto digits = [&] {
        while (is_digit(i) || (i < s.size() && s[i] == '_' && is_digit(i + 1))) ++i;
      };
      bool is_float = false;
      digits();
      if (i < s.size() && s[i] == '.' && is_digit(i + 1)) {
        is_float = true;
        ++i;
        digits();
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        const size_t sign = i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-') ? 1 : 0;
        if (is_digit(i + 1 + sign)) {
          is_float = true;
          i += 1 + sign;
          digits();
        }
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
        if (s[i] == '\\' && i + 1 < s.size()) {  // Python's unicode-escape, as jinja2 decodes
          const char e = s[++i];
          ++i;
          auto hex = [&](int digits) -> int64_t {  // the code point of \x / \u / \U, or -1
            if (i + digits > s.size()) return -1;
            int64_t cp = 0;
            for (int d = 0; d < digits; ++d) {
              const int h = radix_digit(s[i + d], 16);
              if (h < 0) return -1;
              cp = cp * 16 + h;
            }
            i += digits;
            return cp;
          };
          switch (e) {
            case 'n': v.push_back('\n'); break;
            case 't': v.push_back('\t'); break;
            case 'r': v.push_back('\r'); break;
            case 'a': v.push_back('\a'); break;
            case 'b': v.push_back('\b'); break;
            case 'f': v.push_back('\f'); break;
            case 'v': v.push_back('\v'); break;
            case '\n': break;  // line continuation
            case '\\': v.push_back('\\'); break;
            case '\'': v.push_back('\''); break;
            case '"': v.push_back('"'); break;
            case 'x':
            case 'u':
            case 'U': {
              const int64_t cp = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
              if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return err(fmt::format("bad \\{} escape in a string literal", e));
              append_utf8(v, static_cast<uint32_t>(cp));
              break;
            }
            default:
              if (e >= '0' && e <= '7') {  // up to three octal digits
                int cp = e - '0';
                for (int d = 0; d < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; ++d)
                  cp = cp * 8 + (s[i++] - '0');
                append_utf8(v, static_cast<uint32_t>(cp));
              } else {
                v.push_back('\\');
                v.push_back(e);
              }
          }
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

}  // namespace lightllm::tokenizer::jinja::parser_detail
