// src/tokenizer/normalizer.cpp — normalizer implementations (see normalizer.h).
#include "tokenizer/normalizer.h"

#include <functional>
#include <vector>

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;

class FnNormalizer final : public Normalizer {
 public:
  explicit FnNormalizer(std::function<std::string(std::string_view)> fn) : fn_(std::move(fn)) {}
  std::string normalize(std::string_view text) const override { return fn_(text); }

 private:
  std::function<std::string(std::string_view)> fn_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& p : parts_) s = p->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

std::string strip(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      size_t len = 0;
      const int32_t cp = decode_utf8(s, b, len);
      if (cp < 0 || !is_whitespace(static_cast<uint32_t>(cp))) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      size_t k = e - 1;
      while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
      size_t len = 0;
      const int32_t cp = decode_utf8(s, k, len);
      if (cp < 0 || !is_whitespace(static_cast<uint32_t>(cp))) break;
      e = k;
    }
  }
  return std::string(s.substr(b, e - b));
}

std::string strip_accents(std::string_view s) {  // drops combining marks (as HF's StripAccents)
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t cp = decode_utf8(s, i, len);
    const bool mark = cp >= 0 && is_combining_mark(static_cast<uint32_t>(cp));
    if (!mark) out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BertNormalizer: clean_text drops NUL/U+FFFD/controls and maps whitespace to ' ';
// handle_chinese_chars pads CJK ideographs with spaces; then accents / lowercase.
std::string bert_normalize(std::string_view s, bool clean, bool chinese, bool accents, bool lower) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t cp = decode_utf8(s, i, len);
    const auto c = static_cast<uint32_t>(cp);
    i += len;
    if (clean) {
      if (is_removed_by_clean_text(c)) continue;
      if (is_whitespace(c)) {
        out.push_back(' ');
        continue;
      }
    }
    if (chinese && is_chinese_char(c)) {
      out.push_back(' ');
      append_utf8(out, c);
      out.push_back(' ');
      continue;
    }
    append_utf8(out, c);
  }
  if (accents) out = strip_accents(normalize_as_hf(out, NormalForm::nfd));
  if (lower) out = to_lower(out);
  return out;
}

}  // namespace

Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  LLM_ASSIGN_OR_RETURN(const std::string type, json_string(j, "type", "normalizer"));
  auto fn = [](auto f) -> std::unique_ptr<Normalizer> {
    return std::make_unique<FnNormalizer>(std::move(f));
  };
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      return core::invalid_argument("normalizer Sequence: missing array 'normalizers'");
    for (const auto& sub : j["normalizers"]) {
      LLM_ASSIGN_OR_RETURN(auto p, make_normalizer(sub));
      if (p) parts.push_back(std::move(p));
    }
    return std::unique_ptr<Normalizer>(std::make_unique<SequenceNormalizer>(std::move(parts)));
  }
  auto as_hf = [&](NormalForm form) {
    return fn([form](std::string_view s) { return normalize_as_hf(s, form); });
  };
  if (type == "NFC") return as_hf(NormalForm::nfc);
  if (type == "NFD") return as_hf(NormalForm::nfd);
  if (type == "NFKC") return as_hf(NormalForm::nfkc);
  if (type == "NFKD") return as_hf(NormalForm::nfkd);
  if (type == "Lowercase") return fn([](std::string_view s) { return to_lower(s); });
  if (type == "StripAccents") return fn([](std::string_view s) { return strip_accents(s); });
  if (type == "Prepend") {
    LLM_ASSIGN_OR_RETURN(std::string pre, json_string(j, "prepend", "normalizer Prepend"));
    return fn(
        [pre](std::string_view s) { return s.empty() ? std::string() : pre + std::string(s); });
  }
  if (type == "Strip") {
    const bool l = j.value("strip_left", true), r = j.value("strip_right", true);
    return fn([l, r](std::string_view s) { return strip(s, l, r); });
  }
  if (type == "Replace") {
    LLM_ASSIGN_OR_RETURN(Regex re, pattern_regex(j, "normalizer Replace"));
    LLM_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", "normalizer Replace"));
    return fn([re, content](std::string_view s) { return re.replace_all(s, content); });
  }
  if (type == "BertNormalizer") {
    const bool clean = j.value("clean_text", true);
    const bool chinese = j.value("handle_chinese_chars", true);
    const bool lower = j.value("lowercase", true);
    // strip_accents: null means "follow lowercase".
    const bool accents = j.contains("strip_accents") && j["strip_accents"].is_boolean()
                             ? j["strip_accents"].get<bool>()
                             : lower;
    return fn(
        [=](std::string_view s) { return bert_normalize(s, clean, chinese, accents, lower); });
  }
  return core::unimplemented("normalizer type '{}' is not supported", type);
}

}  // namespace lightllm::tokenizer
