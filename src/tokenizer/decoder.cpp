// src/tokenizer/decoder.cpp — decoder implementations (see decoder.h).
#include "tokenizer/decoder.h"

#include <functional>

#include "tokenizer/json_util.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;
using Tokens = std::vector<std::string>;

class FnDecoder final : public Decoder {
 public:
  explicit FnDecoder(std::function<void(Tokens&)> fn) : fn_(std::move(fn)) {}
  void decode_chain(Tokens& t) const override { fn_(t); }

 private:
  std::function<void(Tokens&)> fn_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decode_chain(Tokens& t) const override {
    for (const auto& p : parts_) p->decode_chain(t);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

// ByteLevel: each token's chars map back to bytes (a token with an unmapped char contributes
// its raw UTF-8); all bytes are joined and decoded lossily into one string.
void byte_level_decode(Tokens& tokens) {
  std::string bytes;
  for (const auto& t : tokens) {
    const size_t mark = bytes.size();
    bool ok = true;
    for (size_t i = 0; i < t.size();) {
      size_t len = 0;
      const int32_t cp = decode_utf8(t, i, len);
      const int b = cp < 0 ? -1 : unicode_to_byte(static_cast<uint32_t>(cp));
      if (b < 0) {
        ok = false;
        break;
      }
      bytes.push_back(static_cast<char>(b));
      i += len;
    }
    if (!ok) {
      bytes.resize(mark);
      bytes += t;
    }
  }
  tokens.assign(1, sanitize_utf8(bytes));
}

// ByteFallback: runs of <0xXX> tokens become their UTF-8 string, or one U+FFFD per byte when
// the run is not valid UTF-8.
void byte_fallback_decode(Tokens& tokens) {
  Tokens out;
  std::string pending;
  auto flush = [&] {
    if (pending.empty()) return;
    if (is_valid_utf8(pending)) {
      out.push_back(pending);
    } else {
      for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
    }
    pending.clear();
  };
  for (auto& t : tokens) {
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
        std::isxdigit(static_cast<unsigned char>(t[3])) &&
        std::isxdigit(static_cast<unsigned char>(t[4]))) {
      pending.push_back(static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
      continue;
    }
    flush();
    out.push_back(std::move(t));
  }
  flush();
  tokens = std::move(out);
}

std::vector<uint32_t> to_cps(const std::string& s) {
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t cp = decode_utf8(s, i, len);
    cps.push_back(cp < 0 ? 0xFFFD : static_cast<uint32_t>(cp));
    i += len;
  }
  return cps;
}

std::string from_cps(const std::vector<uint32_t>& cps, size_t b, size_t e) {
  std::string s;
  for (size_t i = b; i < e; ++i) append_utf8(s, cps[i]);
  return s;
}

// WordPiece cleanup (HF decoders::wordpiece::cleanup).
std::string cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    const std::string f(from), t(to);
    for (size_t pos = s.find(f); pos != std::string::npos; pos = s.find(f, pos + t.size()))
      s.replace(pos, f.size(), t);
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j) {
  using Ptr = std::unique_ptr<Decoder>;
  if (j.is_null()) return Ptr();
  LLM_ASSIGN_OR_RETURN(const std::string type, json_string(j, "type", "decoder"));
  auto fn = [](std::function<void(Tokens&)> f) {
    return Ptr(std::make_unique<FnDecoder>(std::move(f)));
  };
  if (type == "Sequence") {
    std::vector<Ptr> parts;
    if (!j.contains("decoders") || !j["decoders"].is_array())
      return core::invalid_argument("decoder Sequence: missing array 'decoders'");
    for (const auto& sub : j["decoders"]) {
      LLM_ASSIGN_OR_RETURN(auto d, make_decoder(sub));
      if (d) parts.push_back(std::move(d));
    }
    return Ptr(std::make_unique<SequenceDecoder>(std::move(parts)));
  }
  if (type == "ByteLevel") return fn(byte_level_decode);
  if (type == "ByteFallback") return fn(byte_fallback_decode);
  if (type == "Fuse") {
    return fn([](Tokens& t) {
      std::string all;
      for (const auto& s : t) all += s;
      t.assign(1, std::move(all));
    });
  }
  if (type == "Strip") {
    LLM_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", "decoder Strip"));
    const auto cps_content = to_cps(content);
    if (cps_content.size() != 1)
      return core::invalid_argument("decoder Strip: 'content' must be one character");
    const uint32_t c = cps_content[0];
    const size_t start = j.value("start", size_t{0}), stop = j.value("stop", size_t{0});
    return fn([c, start, stop](Tokens& toks) {
      for (auto& t : toks) {
        const auto cps = to_cps(t);
        size_t b = 0, e = cps.size();
        while (b < e && b < start && cps[b] == c) ++b;
        size_t removed = 0;
        while (e > b && removed < stop && cps[e - 1] == c) {
          --e;
          ++removed;
        }
        t = from_cps(cps, b, e);
      }
    });
  }
  if (type == "Replace") {
    LLM_ASSIGN_OR_RETURN(Regex re, pattern_regex(j, "decoder Replace"));
    LLM_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", "decoder Replace"));
    return fn([re, content](Tokens& toks) {
      for (auto& t : toks) t = re.replace_all(t, content);
    });
  }
  if (type == "Metaspace") {
    std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
    bool prepend = true;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      prepend = j["prepend_scheme"].get<std::string>() != "never";
    } else if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean()) {
      prepend = j["add_prefix_space"].get<bool>();
    }
    // In the first token every replacement char is dropped (HF behaviour), elsewhere -> ' '.
    return fn([rep, prepend](Tokens& toks) {
      for (size_t i = 0; i < toks.size(); ++i) {
        std::string out;
        const std::string& t = toks[i];
        for (size_t k = 0; k < t.size();) {
          if (t.compare(k, rep.size(), rep) == 0) {
            if (!(i == 0 && prepend)) out.push_back(' ');
            k += rep.size();
          } else {
            out.push_back(t[k++]);
          }
        }
        toks[i] = std::move(out);
      }
    });
  }
  if (type == "WordPiece") {
    const std::string prefix = j.value("prefix", std::string("##"));
    const bool clean = j.value("cleanup", true);
    return fn([prefix, clean](Tokens& toks) {
      for (size_t i = 0; i < toks.size(); ++i) {
        auto& t = toks[i];
        if (i != 0) {
          if (t.compare(0, prefix.size(), prefix) == 0) {
            t.erase(0, prefix.size());
          } else {
            t.insert(0, " ");
          }
        }
        if (clean) t = cleanup(std::move(t));
      }
    });
  }
  if (type == "BPEDecoder") {
    const std::string suffix = j.value("suffix", std::string("</w>"));
    return fn([suffix](Tokens& toks) {
      for (size_t i = 0; i < toks.size(); ++i) {
        auto& t = toks[i];
        const std::string rep = i + 1 == toks.size() ? "" : " ";
        for (size_t pos = t.find(suffix); pos != std::string::npos;
             pos = t.find(suffix, pos + rep.size()))
          t.replace(pos, suffix.size(), rep);
      }
    });
  }
  return core::unimplemented("decoder type '{}' is not supported", type);
}

}  // namespace lightllm::tokenizer
