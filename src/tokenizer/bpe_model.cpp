// src/tokenizer/bpe_model.cpp — BPE and WordPiece models (see model.h).
// BPE follows HF tokenizers' Word::merge_all: a heap of candidate merges ordered by (rank,
// position); stale entries are skipped when popped. Results for short pieces are cached.
#include <array>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace lightllm::tokenizer {

namespace {

using core::Result;

// A word -> ids cache split in shards so that encode threads rarely contend.
class WordCache {
 public:
  static constexpr size_t kShards = 32;
  static constexpr size_t kMaxPerShard = 4096;
  static constexpr size_t kMaxWordBytes = 96;

  bool get(std::string_view w, std::vector<int32_t>& out) const {
    Shard& s = shard(w);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(w);
    if (it == s.map.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void put(std::string_view w, const int32_t* ids, size_t n) const {
    Shard& s = shard(w);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= kMaxPerShard) return;
    s.map.emplace(std::string(w), std::vector<int32_t>(ids, ids + n));
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  Shard& shard(std::string_view w) const { return shards_[StringHash{}(w) % kShards]; }
  mutable std::array<Shard, kShards> shards_;
};

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

class BpeModel final : public Model {
 public:
  Vocab vocab_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::optional<int32_t> unk_id_;
  std::string prefix_, suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::array<int32_t, 256> byte_ids_{};  // <0xXX> ids, -1 when absent
  WordCache cache_;

  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    if (w.empty()) return;
    if (ignore_merges_) {
      if (auto id = vocab_.find(w)) {
        out.push_back(*id);
        return;
      }
    }
    const bool cacheable = w.size() <= WordCache::kMaxWordBytes;
    if (cacheable && cache_.get(w, out)) return;
    const size_t first = out.size();
    merge_word(w, out);
    if (cacheable) cache_.put(w, out.data() + first, out.size() - first);
  }

  void merge_word(std::string_view w, std::vector<int32_t>& out) const {
    struct Sym {
      int32_t id;
      int32_t prev, next;
      bool alive;
    };
    std::vector<Sym> syms;
    syms.reserve(w.size());
    auto add = [&](int32_t id) {
      const auto n = static_cast<int32_t>(syms.size());
      syms.push_back({id, n - 1, n + 1, true});
    };
    int32_t pending_unk = -1;
    std::string tmp;
    for (size_t i = 0; i < w.size();) {
      size_t len = 0;
      decode_utf8(w, i, len);
      const bool is_first = i == 0, is_last = i + len == w.size();
      std::string_view s = w.substr(i, len);
      if ((!prefix_.empty() && !is_first) || (!suffix_.empty() && is_last)) {
        tmp.assign(is_first ? "" : prefix_);
        tmp.append(s);
        if (is_last) tmp.append(suffix_);
        s = tmp;
      }
      i += len;
      if (auto id = vocab_.find(s)) {
        if (pending_unk >= 0) {
          add(pending_unk);
          pending_unk = -1;
        }
        add(*id);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
        if (all) {
          for (unsigned char c : s) add(byte_ids_[c]);
          continue;
        }
      }
      if (unk_id_) {
        if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
        pending_unk = *unk_id_;
      }
    }
    if (pending_unk >= 0) add(pending_unk);
    if (syms.empty()) return;
    syms.back().next = -1;

    struct Cand {
      int32_t rank, pos, new_id;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push_pair = [&](int32_t pos, int32_t a, int32_t b) {
      auto it = merges_.find(key(a, b));
      if (it != merges_.end()) heap.push({it->second.rank, pos, it->second.new_id});
    };
    for (size_t k = 0; k + 1 < syms.size(); ++k)
      push_pair(static_cast<int32_t>(k), syms[k].id, syms[k + 1].id);
    while (!heap.empty()) {
      const Cand top = heap.top();
      heap.pop();
      Sym& cur = syms[static_cast<size_t>(top.pos)];
      if (!cur.alive || cur.next < 0) continue;
      Sym& right = syms[static_cast<size_t>(cur.next)];
      auto it = merges_.find(key(cur.id, right.id));
      if (it == merges_.end() || it->second.new_id != top.new_id) continue;
      cur.id = top.new_id;
      right.alive = false;
      cur.next = right.next;
      if (cur.next >= 0) syms[static_cast<size_t>(cur.next)].prev = top.pos;
      if (cur.prev >= 0) push_pair(cur.prev, syms[static_cast<size_t>(cur.prev)].id, cur.id);
      if (cur.next >= 0) push_pair(top.pos, cur.id, syms[static_cast<size_t>(cur.next)].id);
    }
    for (const Sym& s : syms)
      if (s.alive) out.push_back(s.id);
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }
};

class WordPieceModel final : public Model {
 public:
  Vocab vocab_;
  int32_t unk_id_ = 0;
  std::string prefix_ = "##";
  size_t max_chars_ = 100;

  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    size_t n_chars = 0;
    for (unsigned char c : w) n_chars += (c & 0xC0) != 0x80;
    if (n_chars > max_chars_) {
      out.push_back(unk_id_);
      return;
    }
    std::vector<int32_t> subs;
    std::string tmp;
    size_t start = 0;
    while (start < w.size()) {
      size_t end = w.size();
      std::optional<int32_t> found;
      while (start < end) {
        tmp.assign(start > 0 ? prefix_ : "");
        tmp.append(w.substr(start, end - start));
        if ((found = vocab_.find(tmp))) break;
        do {
          --end;
        } while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.push_back(unk_id_);
        return;
      }
      subs.push_back(*found);
      start = end;
    }
    out.insert(out.end(), subs.begin(), subs.end());
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }
};

Result<std::unique_ptr<Model>> make_bpe(const nlohmann::json& j) {
  auto m = std::make_unique<BpeModel>();
  if (!j.contains("vocab") || !j["vocab"].is_object())
    return core::invalid_argument("model BPE: field 'vocab' must be an object");
  for (const auto& [tok, id] : j["vocab"].items()) {
    if (!id.is_number_integer())
      return core::invalid_argument("model BPE: vocab entry '{}' has a non-integer id", tok);
    m->vocab_.add(tok, id.get<int32_t>());
  }
  auto opt_string = [&](const char* k) -> std::string {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  m->prefix_ = opt_string("continuing_subword_prefix");
  m->suffix_ = opt_string("end_of_word_suffix");
  const std::string unk = opt_string("unk_token");
  if (!unk.empty()) {
    m->unk_id_ = m->vocab_.find(unk);
    if (!m->unk_id_)
      return core::invalid_argument("model BPE: unk_token '{}' is not in the vocab", unk);
  }
  m->fuse_unk_ = j.value("fuse_unk", false);
  m->byte_fallback_ = j.value("byte_fallback", false);
  m->ignore_merges_ = j.value("ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    m->byte_ids_[static_cast<size_t>(b)] = m->vocab_.find(name).value_or(-1);
  }
  if (!j.contains("merges") || !j["merges"].is_array())
    return core::invalid_argument("model BPE: field 'merges' must be an array");
  const auto& merges = j["merges"];
  m->merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& mj : merges) {
    std::string a, b;
    if (mj.is_string()) {
      const auto s = mj.get<std::string>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos)
        return core::invalid_argument("model BPE: merge #{} '{}' has no space", rank, s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
      a = mj[0].get<std::string>();
      b = mj[1].get<std::string>();
    } else {
      return core::invalid_argument("model BPE: merge #{} is neither \"a b\" nor [a, b]", rank);
    }
    const auto ia = m->vocab_.find(a), ib = m->vocab_.find(b);
    std::string merged =
        a + (m->prefix_.empty() || b.rfind(m->prefix_, 0) != 0 ? b : b.substr(m->prefix_.size()));
    const auto im = m->vocab_.find(merged);
    if (!ia || !ib || !im)
      return core::invalid_argument(
          "model BPE: merge #{} ('{}' '{}') uses a token not in the vocab", rank, a, b);
    m->merges_.emplace(BpeModel::key(*ia, *ib), MergeInfo{rank, *im});
    ++rank;
  }
  return std::unique_ptr<Model>(std::move(m));
}

Result<std::unique_ptr<Model>> make_wordpiece(const nlohmann::json& j) {
  auto m = std::make_unique<WordPieceModel>();
  if (!j.contains("vocab") || !j["vocab"].is_object())
    return core::invalid_argument("model WordPiece: field 'vocab' must be an object");
  for (const auto& [tok, id] : j["vocab"].items()) m->vocab_.add(tok, id.get<int32_t>());
  LLM_ASSIGN_OR_RETURN(std::string unk, json_string(j, "unk_token", "model WordPiece"));
  auto unk_id = m->vocab_.find(unk);
  if (!unk_id) return core::invalid_argument("model WordPiece: unk_token '{}' not in vocab", unk);
  m->unk_id_ = *unk_id;
  m->prefix_ = j.value("continuing_subword_prefix", std::string("##"));
  m->max_chars_ = j.value("max_input_chars_per_word", size_t{100});
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace

Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j) {
  if (!j.is_object()) return core::invalid_argument("tokenizer.json: 'model' must be an object");
  const std::string type = j.value("type", std::string("BPE"));
  if (type == "BPE") return make_bpe(j);
  if (type == "WordPiece") return make_wordpiece(j);
  return core::unimplemented("model type '{}' is not supported (BPE and WordPiece are)", type);
}

}  // namespace lightllm::tokenizer
