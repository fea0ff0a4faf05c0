// src/tokenizer/added_vocab.cpp — added-token matching (see added_vocab.h).
#include "tokenizer/added_vocab.h"

#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

// Code point ending just before byte `end`, -1 if none.
int32_t cp_before(std::string_view s, size_t end) {
  if (end == 0) return -1;
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  size_t len = 0;
  return decode_utf8(s, k, len);
}

// HF tests single_word boundaries with Rust regex's \w (see is_regex_word), so marks and the
// joiners are word characters and U+00B2 is not.
bool is_word_char(int32_t cp) {
  return cp >= 0 && is_regex_word(static_cast<uint32_t>(cp));
}

}  // namespace

void AddedVocab::build(std::vector<AddedToken> tokens,
                       const std::function<std::string(std::string_view)>& normalize) {
  tokens_ = std::move(tokens);
  for (auto& m : matchers_) m = Matcher{};
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const auto& tok = tokens_[t];
    const std::string pattern = tok.normalized && normalize ? normalize(tok.content) : tok.content;
    if (pattern.empty()) continue;
    Matcher& m = matchers_[tok.normalized ? 1 : 0];
    int32_t node = 0;
    for (unsigned char c : pattern) {
      auto it = m.nodes[static_cast<size_t>(node)].next.find(c);
      if (it == m.nodes[static_cast<size_t>(node)].next.end()) {
        m.nodes.emplace_back();
        const auto child = static_cast<int32_t>(m.nodes.size() - 1);
        m.nodes[static_cast<size_t>(node)].next.emplace(c, child);
        node = child;
      } else {
        node = it->second;
      }
    }
    // Two tokens with the same content: the first one listed wins.
    if (m.nodes[static_cast<size_t>(node)].token < 0)
      m.nodes[static_cast<size_t>(node)].token = static_cast<int32_t>(t);
    m.first_byte[static_cast<unsigned char>(pattern[0])] = true;
  }
}

int32_t AddedVocab::longest_at(const Matcher& m, std::string_view s, size_t pos,
                               size_t& len) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const auto& next = m.nodes[static_cast<size_t>(node)].next;
    auto it = next.find(static_cast<unsigned char>(s[i]));
    if (it == next.end()) break;
    node = it->second;
    if (m.nodes[static_cast<size_t>(node)].token >= 0) {
      best = m.nodes[static_cast<size_t>(node)].token;
      len = i + 1 - pos;
    }
  }
  return best;
}

std::vector<Segment> AddedVocab::split(std::string_view s, bool normalized) const {
  std::vector<Segment> out;
  const Matcher& m = matchers_[normalized ? 1 : 0];
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!m.first_byte[static_cast<unsigned char>(s[pos])]) {
      ++pos;
      continue;
    }
    size_t len = 0;
    const int32_t t = longest_at(m, s, pos, len);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[static_cast<size_t>(t)];
    size_t start = pos, stop = pos + len;
    pos = stop;  // matches never overlap
    if (tok.single_word) {
      const bool start_ok = start == 0 || !is_word_char(cp_before(s, start));
      size_t l = 0;
      const bool stop_ok = stop == s.size() || !is_word_char(decode_utf8(s, stop, l));
      if (!start_ok || !stop_ok) continue;
    }
    if (tok.lstrip) {
      size_t b = start;
      while (b > 0) {
        size_t k = b - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t l = 0;
        const int32_t cp = decode_utf8(s, k, l);
        if (cp < 0 || !is_whitespace(static_cast<uint32_t>(cp))) break;
        b = k;
      }
      start = std::max(b, start_offset);
    }
    if (tok.rstrip) {
      while (stop < s.size()) {
        size_t l = 0;
        const int32_t cp = decode_utf8(s, stop, l);
        if (cp < 0 || !is_whitespace(static_cast<uint32_t>(cp))) break;
        stop += l;
      }
      pos = std::max(pos, stop);
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
  return out;
}

}  // namespace lightllm::tokenizer
