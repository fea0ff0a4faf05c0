// src/tokenizer/unicode.cpp — UTF-8 decoding / repair and character classes (see unicode.h).
#include "tokenizer/unicode.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <utf8proc.h>

namespace lightllm::tokenizer {

namespace {

// Byte ranges of well-formed UTF-8 (Unicode Table 3-7): for a lead byte, the allowed range of the
// second byte; later bytes are always 80..BF.
bool second_byte_ok(unsigned char lead, unsigned char b) {
  if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
  if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
  if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  return b >= 0x80 && b <= 0xBF;
}

int seq_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Length of the maximal valid prefix of a sequence starting at s[i] (>= 1), and whether complete.
size_t valid_prefix(std::string_view s, size_t i, bool& complete) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const int n = seq_len(lead);
  complete = false;
  if (n == 0) return 1;
  if (n == 1) {
    complete = true;
    return 1;
  }
  size_t k = 1;
  for (; k < static_cast<size_t>(n); ++k) {
    if (i + k >= s.size()) return k;
    const auto b = static_cast<unsigned char>(s[i + k]);
    const bool ok = k == 1 ? second_byte_ok(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return k;
  }
  complete = true;
  return k;
}

std::string utf8proc_apply(std::string_view s, utf8proc_option_t opts) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                              static_cast<utf8proc_ssize_t>(s.size()), &out, opts);
  if (n < 0) return std::string(s);  // invalid input: leave it unchanged
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

}  // namespace

int32_t decode_utf8(std::string_view s, size_t i, size_t& len) {
  bool complete = false;
  len = valid_prefix(s, i, complete);
  if (!complete) {
    len = 1;
    return -1;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + i);
  switch (len) {
    case 1: return p[0];
    case 2: return ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
      return ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    bool complete = false;
    const size_t n = valid_prefix(s, i, complete);
    if (complete) {
      out.append(s.data() + i, n);
    } else {
      out.append("\xEF\xBF\xBD");
    }
    i += n;
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool complete = false;
    const size_t n = valid_prefix(s, i, complete);
    if (!complete) return false;
    i += n;
  }
  return true;
}

size_t incomplete_utf8_suffix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence is valid so far but unfinished.
  const size_t lo = s.size() >= 3 ? s.size() - 3 : 0;
  for (size_t i = s.size(); i-- > lo;) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: keep looking for the lead
    bool complete = false;
    const size_t n = valid_prefix(s, i, complete);
    if (!complete && i + n == s.size() && seq_len(b) > 1) return s.size() - i;
    return 0;
  }
  return 0;
}

bool is_whitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_numeric(uint32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

bool is_alphabetic(uint32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  switch (cat) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL: return true;
    default: return false;
  }
}

bool is_alphanumeric(uint32_t c) {
  return is_alphabetic(c) || is_numeric(c);
}

bool is_punctuation(uint32_t c) {
  if (c < 0x80) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_regex_word(uint32_t c) {
  if (c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9)) return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return is_alphabetic(c) || cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
         cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_PC;
}

bool is_py_space(uint32_t c) {
  return is_whitespace(c) || (c >= 0x1c && c <= 0x1f);  // + bidi classes B / S of U+001C-001F
}

bool is_py_printable(uint32_t c) {
  if (c == 0x20) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return false;
    default: return true;
  }
}

bool is_control(uint32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_CC;
}

std::string normalize_nfc(std::string_view s) {
  return utf8proc_apply(s, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
}
std::string normalize_nfd(std::string_view s) {
  return utf8proc_apply(s, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
}
std::string normalize_nfkc(std::string_view s) {
  return utf8proc_apply(
      s, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
}
std::string normalize_nfkd(std::string_view s) {
  return utf8proc_apply(
      s, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
}

namespace {
// Case data generated by tools/tokenizer/gen_special_casing.py.
struct SpecialCase {
  int32_t cp;
  const char* utf8;
};
struct CodeRange {
  int32_t first, last;
};
#include "tokenizer/special_casing.inc"

// Whether cp lies in one of the sorted inclusive ranges of `table`.
template <size_t N>
bool in_ranges(const CodeRange (&table)[N], int32_t cp) {
  const CodeRange* it = std::lower_bound(table, table + N, cp,
                                         [](const CodeRange& r, int32_t c) { return r.last < c; });
  return it != table + N && it->first <= cp;
}

// The one-to-many mapping of cp in `table` (sorted by code point), or nullptr.
template <size_t N>
const char* special_case(const SpecialCase (&table)[N], int32_t cp) {
  const SpecialCase* it = std::lower_bound(
      table, table + N, cp, [](const SpecialCase& e, int32_t c) { return e.cp < c; });
  return it != table + N && it->cp == cp ? it->utf8 : nullptr;
}

// Applies `map` to every code point of `s` (appending its UTF-8 to the output); invalid bytes
// pass through unchanged.
template <typename Map>
std::string map_code_points(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t cp = decode_utf8(s, i, len);
    if (cp < 0)
      out.append(s.substr(i, len));
    else
      map(cp, out);
    i += len;
  }
  return out;
}
}  // namespace

bool is_cased(int32_t cp) {
  return in_ranges(kCased, cp);
}

bool is_case_ignorable(int32_t cp) {
  return in_ranges(kCaseIgnorable, cp);
}

// A cased character is Lowercase, Uppercase or Lt. Past Ll / Lu / Lt (Other_Lowercase /
// Other_Uppercase: ª, ʰ, ⓐ, Ⓐ, Ⅰ, 🄰), a lowercase mapping makes it uppercase and an uppercase
// mapping lowercase; of those without either, the symbols (🄰) are uppercase. This agrees with
// Python's str.islower / isupper on every code point (checked against Python 3.11).
LetterCase letter_case(int32_t cp) {
  if (cp < 0 || !is_cased(cp)) return LetterCase::none;
  const utf8proc_category_t cat = utf8proc_category(cp);
  if (cat == UTF8PROC_CATEGORY_LU) return LetterCase::upper;
  if (cat == UTF8PROC_CATEGORY_LL) return LetterCase::lower;
  if (cat == UTF8PROC_CATEGORY_LT) return LetterCase::title;
  if (utf8proc_tolower(cp) != cp) return LetterCase::upper;
  if (utf8proc_toupper(cp) != cp) return LetterCase::lower;
  return cat == UTF8PROC_CATEGORY_SO ? LetterCase::upper : LetterCase::lower;
}

std::string to_lower(std::string_view s) {
  return map_code_points(s, [](int32_t cp, std::string& out) {
    if (cp == 0x130)  // İ lowercases to "i̇" (two code points) in the full mapping
      out.append("i\xCC\x87");
    else
      append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(cp)));
  });
}

std::string to_upper(std::string_view s) {
  return map_code_points(s, [](int32_t cp, std::string& out) {
    if (const char* many = special_case(kSpecialUpper, cp))
      out.append(many);
    else
      append_utf8(out, static_cast<uint32_t>(utf8proc_toupper(cp)));
  });
}

std::string to_title(std::string_view s) {
  return map_code_points(s, [](int32_t cp, std::string& out) {
    if (const char* many = special_case(kSpecialTitle, cp))
      out.append(many);
    else
      append_utf8(out, static_cast<uint32_t>(utf8proc_totitle(cp)));
  });
}

}  // namespace lightllm::tokenizer
