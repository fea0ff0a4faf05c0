// src/tokenizer/pre_tokenizer.cpp — pre-tokenizer implementations (see pre_tokenizer.h).
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;
using Range = std::pair<size_t, size_t>;

const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Rust regex's Unicode \w (alphabetic, marks, decimal digits, connector punctuation, joiners).
const char* kWhitespacePattern =
    R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)";

// Splits `p` given the byte ranges that matched (sorted, disjoint), following HF's
// NormalizedString::split: the string is cut into (range, is_match) parts which the behaviour
// then drops or merges; empty parts are dropped.
void split_piece(const Piece& p, const std::vector<Range>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out) {
  struct Part {
    size_t b, e;
    bool is_match;
  };
  std::vector<Part> parts;
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (b > prev) parts.push_back({prev, b, false});
    parts.push_back({b, e, true});
    prev = e;
  }
  if (prev < p.text.size()) parts.push_back({prev, p.text.size(), false});
  if (invert)
    for (auto& part : parts) part.is_match = !part.is_match;

  std::vector<Part> kept;
  switch (behavior) {
    case SplitBehavior::removed:
      for (const auto& part : parts)
        if (!part.is_match) kept.push_back(part);
      break;
    case SplitBehavior::isolated: kept.swap(parts); break;
    case SplitBehavior::merged_with_previous: {
      bool prev_match = false;
      for (const auto& part : parts) {
        if (part.is_match && !prev_match && !kept.empty()) {
          kept.back().e = part.e;
        } else {
          kept.push_back(part);
        }
        prev_match = part.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      bool prev_match = false;
      for (size_t i = parts.size(); i-- > 0;) {
        const auto& part = parts[i];
        if (part.is_match && !prev_match && !kept.empty()) {
          kept.back().b = part.b;
        } else {
          kept.push_back(part);
        }
        prev_match = part.is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
    case SplitBehavior::contiguous: {
      bool prev_match = false;
      for (const auto& part : parts) {
        if (part.is_match == prev_match && !kept.empty()) {
          kept.back().e = part.e;
        } else {
          kept.push_back(part);
        }
        prev_match = part.is_match;
      }
      break;
    }
  }
  for (const auto& part : kept) {
    if (part.e > part.b) out.push_back({p.text.substr(part.b, part.e - part.b), p.offset + part.b});
  }
}

// One match per character for which `pred` holds.
std::vector<Range> char_matches(const std::string& s, const std::function<bool(uint32_t)>& pred) {
  std::vector<Range> m;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t cp = decode_utf8(s, i, len);
    if (cp >= 0 && pred(static_cast<uint32_t>(cp))) m.emplace_back(i, i + len);
    i += len;
  }
  return m;
}

// A pre-tokenizer that splits each piece independently.
class PieceSplitter : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    for (auto& p : pieces) split(p, out);
    pieces = std::move(out);
  }
  virtual void split(Piece& p, std::vector<Piece>& out) const = 0;
};

class RegexSplit final : public PieceSplitter {
 public:
  RegexSplit(Regex re, SplitBehavior b, bool invert) : re_(std::move(re)), b_(b), invert_(invert) {}
  void split(Piece& p, std::vector<Piece>& out) const override {
    split_piece(p, re_.find_all(p.text), b_, invert_, out);
  }

 private:
  Regex re_;
  SplitBehavior b_;
  bool invert_;
};

class CharSplit final : public PieceSplitter {
 public:
  CharSplit(std::function<bool(uint32_t)> pred, SplitBehavior b) : pred_(std::move(pred)), b_(b) {}
  void split(Piece& p, std::vector<Piece>& out) const override {
    split_piece(p, char_matches(p.text, pred_), b_, false, out);
  }

 private:
  std::function<bool(uint32_t)> pred_;
  SplitBehavior b_;
};

class ByteLevelPre final : public PieceSplitter {
 public:
  ByteLevelPre(bool add_prefix_space, std::optional<Regex> re)
      : add_prefix_space_(add_prefix_space), re_(std::move(re)) {}
  void split(Piece& p, std::vector<Piece>& out) const override {
    if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' '))
      p.text = std::string(" ") + p.text;
    const size_t first = out.size();
    if (re_) {
      split_piece(p, re_->find_all(p.text), SplitBehavior::isolated, false, out);
    } else if (!p.text.empty()) {
      out.push_back(std::move(p));
    }
    const auto& table = byte_to_unicode();
    for (size_t i = first; i < out.size(); ++i) {
      std::string mapped;
      mapped.reserve(out[i].text.size() * 2);
      for (unsigned char c : out[i].text) mapped += table[c];
      out[i].text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::optional<Regex> re_;
};

class MetaspacePre final : public PieceSplitter {
 public:
  enum class Prepend { always, first, never };
  MetaspacePre(std::string rep, Prepend scheme, bool split)
      : rep_(std::move(rep)), scheme_(scheme), split_(split) {}
  void split(Piece& p, std::vector<Piece>& out) const override {
    std::string s;
    s.reserve(p.text.size() + rep_.size());
    for (char c : p.text) {
      if (c == ' ') {
        s += rep_;
      } else {
        s.push_back(c);
      }
    }
    const bool starts = s.compare(0, rep_.size(), rep_) == 0;
    if (!starts && (scheme_ == Prepend::always || (scheme_ == Prepend::first && p.offset == 0)))
      s.insert(0, rep_);
    Piece np{std::move(s), p.offset};
    if (!split_) {
      if (!np.text.empty()) out.push_back(std::move(np));
      return;
    }
    std::vector<Range> m;
    for (size_t pos = np.text.find(rep_); pos != std::string::npos;
         pos = np.text.find(rep_, pos + rep_.size()))
      m.emplace_back(pos, pos + rep_.size());
    split_piece(np, m, SplitBehavior::merged_with_next, false, out);
  }

 private:
  std::string rep_;
  Prepend scheme_;
  bool split_;
};

class SequencePre final : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

Result<SplitBehavior> parse_behavior(const nlohmann::json& j, const char* where) {
  const std::string b = j.value("behavior", std::string("Isolated"));
  if (b == "Removed") return SplitBehavior::removed;
  if (b == "Isolated") return SplitBehavior::isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (b == "Contiguous") return SplitBehavior::contiguous;
  return core::invalid_argument("{}: unknown behavior '{}'", where, b);
}

}  // namespace

const std::vector<std::string>& byte_to_unicode() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      append_utf8(t[static_cast<size_t>(b)], cp);
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(uint32_t cp) {
  static const std::vector<int> inv = [] {
    std::vector<int> v(512, -1);
    const auto& t = byte_to_unicode();
    for (int b = 0; b < 256; ++b) {
      size_t len = 0;
      v[static_cast<size_t>(decode_utf8(t[static_cast<size_t>(b)], 0, len))] = b;
    }
    return v;
  }();
  return cp < inv.size() ? inv[cp] : -1;
}

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j) {
  using Ptr = std::unique_ptr<PreTokenizer>;
  if (j.is_null()) return Ptr();
  LLM_ASSIGN_OR_RETURN(const std::string type, json_string(j, "type", "pre_tokenizer"));
  if (type == "Sequence") {
    std::vector<Ptr> parts;
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      return core::invalid_argument("pre_tokenizer Sequence: missing array 'pretokenizers'");
    for (const auto& sub : j["pretokenizers"]) {
      LLM_ASSIGN_OR_RETURN(auto p, make_pre_tokenizer(sub));
      if (p) parts.push_back(std::move(p));
    }
    return Ptr(std::make_unique<SequencePre>(std::move(parts)));
  }
  if (type == "ByteLevel") {
    std::optional<Regex> re;
    if (j.value("use_regex", true)) {
      LLM_ASSIGN_OR_RETURN(Regex r, Regex::compile(kGpt2Pattern));
      re = std::move(r);
    }
    return Ptr(std::make_unique<ByteLevelPre>(j.value("add_prefix_space", true), std::move(re)));
  }
  if (type == "Split") {
    LLM_ASSIGN_OR_RETURN(Regex re, pattern_regex(j, "pre_tokenizer Split"));
    LLM_ASSIGN_OR_RETURN(SplitBehavior b, parse_behavior(j, "pre_tokenizer Split"));
    return Ptr(std::make_unique<RegexSplit>(std::move(re), b, j.value("invert", false)));
  }
  if (type == "Metaspace") {
    std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
    auto scheme = MetaspacePre::Prepend::always;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "first")
        scheme = MetaspacePre::Prepend::first;
      else if (s == "never")
        scheme = MetaspacePre::Prepend::never;
      else if (s != "always")
        return core::invalid_argument("pre_tokenizer Metaspace: unknown prepend_scheme '{}'", s);
    } else if (!j.value("add_prefix_space", true)) {
      scheme = MetaspacePre::Prepend::never;
    }
    return Ptr(std::make_unique<MetaspacePre>(std::move(rep), scheme, j.value("split", true)));
  }
  if (type == "Digits") {
    const bool individual = j.value("individual_digits", false);
    return Ptr(std::make_unique<CharSplit>(
        is_numeric, individual ? SplitBehavior::isolated : SplitBehavior::contiguous));
  }
  if (type == "Punctuation") {
    LLM_ASSIGN_OR_RETURN(SplitBehavior b, parse_behavior(j, "pre_tokenizer Punctuation"));
    return Ptr(std::make_unique<CharSplit>(is_punctuation, b));
  }
  if (type == "WhitespaceSplit") {
    return Ptr(std::make_unique<CharSplit>(is_whitespace, SplitBehavior::removed));
  }
  if (type == "CharDelimiterSplit") {
    LLM_ASSIGN_OR_RETURN(std::string d,
                         json_string(j, "delimiter", "pre_tokenizer CharDelimiterSplit"));
    size_t len = 0;
    const int32_t cp = d.empty() ? -1 : decode_utf8(d, 0, len);
    return Ptr(std::make_unique<CharSplit>(
        [cp](uint32_t c) { return static_cast<int32_t>(c) == cp; }, SplitBehavior::removed));
  }
  if (type == "Whitespace") {
    LLM_ASSIGN_OR_RETURN(Regex re, Regex::compile(kWhitespacePattern));
    return Ptr(std::make_unique<RegexSplit>(std::move(re), SplitBehavior::removed, true));
  }
  if (type == "BertPreTokenizer") {
    std::vector<Ptr> parts;
    parts.push_back(std::make_unique<CharSplit>(is_whitespace, SplitBehavior::removed));
    parts.push_back(std::make_unique<CharSplit>(is_punctuation, SplitBehavior::isolated));
    return Ptr(std::make_unique<SequencePre>(std::move(parts)));
  }
  return core::unimplemented("pre_tokenizer type '{}' is not supported", type);
}

}  // namespace lightllm::tokenizer
