// src/tokenizer/regex.cpp — PCRE2 wrapper (see regex.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

namespace lightllm::tokenizer {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

namespace {

// Per-thread scratch: match data large enough for any pattern, and a JIT stack that can hold the
// backtracking of patterns like `\s+(?!\S)` on long whitespace runs.
struct ThreadScratch {
  pcre2_match_data* md = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ThreadScratch() {
    md = pcre2_match_data_create(64, nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~ThreadScratch() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(md);
  }
};

ThreadScratch& scratch() {
  thread_local ThreadScratch s;
  return s;
}

std::string escape(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

// tokenizer.json patterns are Oniguruma syntax, where a '[...]' nested in a character class is
// a union with the outer class (BLOOM: `[^(\s|[.,!?])]`). PCRE2 reads '[' inside a class as a
// literal, so nested brackets are flattened into the outer class here.
std::string flatten_nested_classes(const std::string& p) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out.push_back(c);
      out.push_back(p[++i]);
      continue;
    }
    if (c == '[') {
      if (depth > 0 && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:alpha:]
        const size_t end = p.find(":]", i + 2);
        if (end != std::string::npos) {
          out.append(p, i, end + 2 - i);
          i = end + 1;
          continue;
        }
      }
      ++depth;
      if (depth == 1) {
        out.push_back(c);
        if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
        if (i + 1 < p.size() && p[i + 1] == ']') out.append("\\]"), ++i;  // leading ] literal
      }
      continue;
    }
    if (c == ']' && depth > 0) {
      if (--depth == 0) out.push_back(c);
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// \s in Oniguruma (HF tokenizers) and Rust regex (tiktoken) is the Unicode White_Space
// property. PCRE2's \s with PCRE2_UCP adds U+180E (through \h), so \s and \S are spelled out
// (after flatten_nested_classes: no class nests in another) with the set of is_whitespace()
// (unicode.h). \S inside a class stays as is.
constexpr std::string_view kWhiteSpace =
    "\\t\\n\\x0B\\f\\r\\x20\\x85\\xA0\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

// The references match \p{X} by Unicode 16.0 (Oniguruma in HF tokenizers, Rust regex in
// tiktoken); PCRE2 10.42's tables are Unicode 14.0. \p{X} gets the code points X gained since
// (a union: also right with a newer PCRE2), as does \P{X} outside a class; \P{X} inside a class
// stays as is.
struct CategoryAdditions {
  std::string_view name, ranges;
};
#include "tokenizer/unicode_additions.inc"

std::string_view category_additions(std::string_view name) {
  for (const CategoryAdditions& a : kUnicode16Additions)
    if (a.name == name) return a.ranges;
  return {};
}

// The rewrites above on a flattened pattern (no class nests in another).
std::string unicode_classes(const std::string& p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[++i];
      const size_t close = n == 'p' || n == 'P' ? p.find('}', i) : std::string::npos;
      const std::string_view added =
          close != std::string::npos && i + 1 < p.size() && p[i + 1] == '{'
              ? category_additions(std::string_view(p).substr(i + 2, close - i - 2))
              : std::string_view();
      if (n == 's') {
        out.append(in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]");
      } else if (n == 'S' && !in_class) {
        out.append("[^" + std::string(kWhiteSpace) + "]");
      } else if (!added.empty() && (n == 'p' || !in_class)) {
        const std::string prop = "\\p" + p.substr(i + 1, close - i);  // \p{X}
        if (in_class)
          out.append(prop).append(added);
        else
          out.append(n == 'p' ? "[" : "[^").append(prop).append(added).append("]");
        i = close;
      } else {
        out.push_back(c), out.push_back(n);
      }
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:alpha:]
      const size_t end = p.find(":]", i + 2);
      if (end != std::string::npos) {
        out.append(p, i, end + 2 - i);
        i = end + 1;
        continue;
      }
    }
    out.push_back(c);
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);  // leading ] literal
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

}  // namespace

core::Result<Regex> Regex::compile(const std::string& onig_pattern) {
  const std::string pattern = unicode_classes(flatten_nested_classes(onig_pattern));
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return core::invalid_argument("regex '{}' does not compile at offset {}: {}", pattern, err_off,
                                  reinterpret_cast<const char*>(buf));
  }
  Regex r;
  r.code_ = std::make_shared<Code>();
  r.code_->code = code;
  r.code_->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  r.pattern_ = onig_pattern;
  return r;
}

core::Result<Regex> Regex::literal(const std::string& literal) {
  return compile(escape(literal));
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view subject) const {
  std::vector<std::pair<size_t, size_t>> out;
  ThreadScratch& s = scratch();
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    const int rc = code_->jit
                       ? pcre2_jit_match(code_->code, subj, subject.size(), start, 0, s.md, s.ctx)
                       : pcre2_match(code_->code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK,
                                     s.md, s.ctx);
    if (rc < 0) break;  // no match (or a resource error: treat the rest as unmatched)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
    const size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.emplace_back(b, e);
      start = e;
    } else {
      // Empty match: skip it and advance by one code point.
      size_t next = b + 1;
      while (next < subject.size() && (static_cast<unsigned char>(subject[next]) & 0xC0) == 0x80)
        ++next;
      start = next;
    }
  }
  return out;
}

std::string Regex::replace_all(std::string_view subject, std::string_view replacement) const {
  std::string out;
  size_t prev = 0;
  for (auto [b, e] : find_all(subject)) {
    out.append(subject.substr(prev, b - prev));
    out.append(replacement);
    prev = e;
  }
  out.append(subject.substr(prev));
  return out;
}

}  // namespace lightllm::tokenizer
