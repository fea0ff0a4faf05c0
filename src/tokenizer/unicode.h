// src/tokenizer/unicode.h — UTF-8 helpers and the character classes the tokenizer pipeline needs,
// with the semantics of Rust's `char` methods (HF tokenizers is written in Rust).
// Invariants: every function accepts any bytes; decode_utf8 never reads past the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lightllm::tokenizer {

// Decodes one code point at s[i]; sets `len` to its byte length. Returns -1 (len 1) when the
// sequence is invalid (lone continuation, overlong, surrogate, truncated, > U+10FFFF).
int32_t decode_utf8(std::string_view s, size_t i, size_t& len);
void append_utf8(std::string& out, uint32_t cp);

// Replaces invalid sequences by U+FFFD exactly as Rust's String::from_utf8_lossy and Python's
// bytes.decode("utf-8", "replace") do (one U+FFFD per maximal invalid subpart).
std::string sanitize_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

// Length of the longest suffix of `s` that is an incomplete (but so far valid) UTF-8 sequence:
// 0 when s ends on a character boundary. Used by the incremental detokenizer.
size_t incomplete_utf8_suffix(std::string_view s);

// Rust char predicates, by Unicode 16.0 (the categories HF tokenizers sees).
bool is_whitespace(uint32_t cp);    // White_Space property
bool is_numeric(uint32_t cp);       // general category Nd | Nl | No
bool is_alphabetic(uint32_t cp);    // letters and Nl (approximation of Alphabetic)
bool is_alphanumeric(uint32_t cp);  // is_alphabetic || is_numeric
// Rust regex \w (Unicode word character): alphabetic (is_alphabetic and the circled letters
// U+24B6-24E9), marks, Nd, Pc, U+200C / U+200D.
bool is_regex_word(uint32_t cp);
// Classes of HF tokenizers' dependencies, with their old Unicode tables (hf_char_classes.inc):
// the Punctuation / BertPreTokenizer punctuation (ASCII and Unicode 8.0's P*), what StripAccents
// removes, and what BertNormalizer's clean_text removes (NUL, U+FFFD, Cc, Cf, Co).
bool is_punctuation(uint32_t cp);
bool is_combining_mark(uint32_t cp);
bool is_removed_by_clean_text(uint32_t cp);

// Python str predicates (the Jinja engine's str methods and repr()).
bool is_py_space(uint32_t cp);      // str.isspace: category Zs or bidi class WS, B, S
bool is_py_printable(uint32_t cp);  // str.isprintable: not C*, Z* other than U+0020

// Unicode normalization forms; input must be valid UTF-8.
enum class NormalForm { nfc, nfd, nfkc, nfkd };
// As utf8proc 2.8 has them (Unicode 15.0; Python's unicodedata of 3.12).
std::string normalize(std::string_view s, NormalForm form);
// As HF tokenizers' normalizers have them. Their tables are older: the code points of
// hf_char_classes.inc's kept-whole classes (U+11938; under compatibility also U+32FF, U+A7F2 and
// 132 more) stay as they are, and U+11935 U+11930 does not compose.
std::string normalize_as_hf(std::string_view s, NormalForm form);
// Full case mappings per character, one code point to one or more (Rust char::to_lowercase /
// to_uppercase, Python str.lower / str.upper without the final-sigma rule): 'İ' -> "i̇",
// 'ß' -> "SS". Titlecase as Python's str.title() maps one character: U+01C6 -> U+01C5,
// 'ß' -> "Ss", 'ﬁ' -> "Fi".
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
std::string to_title(std::string_view s);
// Unicode's Cased and Case_Ignorable properties (Python's title() and final-sigma rule).
bool is_cased(int32_t cp);
bool is_case_ignorable(int32_t cp);
// Whether a code point is Lowercase, Uppercase or titlecase (Lt); none for uncased ones (and -1).
enum class LetterCase { none, lower, upper, title };
LetterCase letter_case(int32_t cp);

}  // namespace lightllm::tokenizer
