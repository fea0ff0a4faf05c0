// src/tokenizer/regex.h — a compiled PCRE2 pattern (UTF + Unicode properties, JIT when available)
// used by Split / ByteLevel pre-tokenizers and Replace normalizers/decoders.
// Invariants: subjects must be valid UTF-8 (the pipeline sanitizes input first); a Regex is
// immutable after compile() and safe to use from many threads at once (match data and JIT stack
// are per thread).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace lightllm::tokenizer {

class Regex {
 public:
  // Compiles `pattern` (Oniguruma/Rust-regex style patterns as found in tokenizer.json).
  static core::Result<Regex> compile(const std::string& pattern);
  // A pattern that matches `literal` exactly.
  static core::Result<Regex> literal(const std::string& literal);

  // Non-overlapping, non-empty matches as [begin, end) byte offsets, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;
  // Replaces every match with `replacement` (taken literally).
  std::string replace_all(std::string_view subject, std::string_view replacement) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<Code> code_;
  std::string pattern_;
};

}  // namespace lightllm::tokenizer
