// tests/server/fake_engine.cpp — see fake_engine.h.
#include "server/fake_engine.h"

#include <nlohmann/json.hpp>

namespace lightllm::testing {
namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

constexpr char kAlphabet[] = "abcdefgh ";
constexpr int kAlphabetSize = 9;

}  // namespace

FakeEngine::FakeEngine() : FakeEngine(Options{}) {}

FakeEngine::FakeEngine(Options options)
    : opt_(std::move(options)), step_delay_ms_(opt_.step_delay.count()) {
  thread_ = std::thread([this] { loop(); });
}

FakeEngine::~FakeEngine() {
  shutdown();
}

uint64_t FakeEngine::submit(GenerateRequest request, StreamCallback on_event, std::string* error) {
  if (request.prompt_ids.empty())
    request.prompt_ids = tokenize(request.prompt, request.add_special_tokens);
  const auto fail = [&](const char* msg) {
    if (error) *error = msg;
    return uint64_t{0};
  };
  if (request.prompt_ids.empty()) return fail("prompt must not be empty");
  for (int32_t id : request.prompt_ids) {
    if (id < 0 || id >= kVocab) return fail("prompt_ids: token id out of range");
  }
  const SamplingParams& p = request.params;
  if (p.max_new_tokens < 1) return fail("max_new_tokens must be >= 1");
  if (p.n < 1 || p.best_of < p.n) return fail("n must be >= 1 and best_of >= n");
  if (static_cast<int64_t>(request.prompt_ids.size()) + p.max_new_tokens > opt_.max_context) {
    return fail("prompt + max_new_tokens exceeds the context");
  }
  std::lock_guard lk(mu_);
  if (stop_) return fail("engine is shut down");
  Active a;
  a.id = next_id_++;
  uint64_t h = 0;
  for (int32_t id : request.prompt_ids) h = mix(h, static_cast<uint64_t>(id));
  if (p.do_sample) h = mix(h, p.seed ? *p.seed : ++unseeded_);
  a.base = h;
  a.choices.resize(static_cast<std::size_t>(p.n));
  a.req = request;
  a.cb = std::move(on_event);
  submitted_.push_back(std::move(request));
  prompt_total_ += a.req.prompt_ids.size();
  const uint64_t id = a.id;
  active_.emplace(id, std::move(a));
  cv_.notify_all();
  return id;
}

void FakeEngine::abort(uint64_t request_id) {
  std::lock_guard lk(mu_);
  aborted_.push_back(request_id);
  if (auto it = active_.find(request_id); it != active_.end()) it->second.abort = true;
  cv_.notify_all();
}

TokenOutput FakeEngine::make_token(const Active& a, int index, int step) const {
  const uint64_t h =
      mix(mix(a.base, static_cast<uint64_t>(index) * 7919), static_cast<uint64_t>(step));
  const SamplingParams& p = a.req.params;
  TokenOutput t;
  if (!p.ignore_eos && opt_.eos_after >= 0 && step >= opt_.eos_after && step >= p.min_new_tokens) {
    t.id = kEos;
    t.text = p.skip_special_tokens ? "" : "</s>";
    t.special = true;
    t.logprob = -0.05f;
    return t;
  }
  const int c = static_cast<int>(h % kAlphabetSize);
  t.text = std::string(1, kAlphabet[c]);
  t.id = kByteBase + static_cast<unsigned char>(kAlphabet[c]);
  t.logprob = -0.1f * static_cast<float>(1 + (h >> 8) % 20);
  for (int k = 0; k < p.top_logprobs; ++k) {
    const int alt = (c + k) % kAlphabetSize;
    t.top_logprobs.push_back({kByteBase + static_cast<unsigned char>(kAlphabet[alt]),
                              std::string(1, kAlphabet[alt]),
                              t.logprob - 0.5f * static_cast<float>(k)});
  }
  return t;
}

// Advances every unfinished completion of `a` by one token; appends the events to send.
void FakeEngine::step(Active& a, std::vector<StreamEvent>& out) {
  const SamplingParams& p = a.req.params;
  for (std::size_t i = 0; i < a.choices.size(); ++i) {
    Choice& ch = a.choices[i];
    if (ch.finished) continue;
    StreamEvent ev;
    ev.request_id = a.id;
    ev.index = static_cast<int>(i);
    ev.prompt_tokens = static_cast<int>(a.req.prompt_ids.size());
    if (a.abort) {
      ev.finished = true;
      ev.finish_reason = FinishReason::abort;
    } else {
      TokenOutput t = make_token(a, static_cast<int>(i), ch.generated);
      if (!p.return_logprobs) t.logprob = 0.0f;
      ++ch.generated;
      ++generated_total_;
      bool stop_id = false;
      for (int32_t s : p.stop_token_ids) stop_id = stop_id || s == t.id;
      if (t.id == kEos || stop_id) {
        ev.tokens.assign(ch.held.begin(), ch.held.end());
        ev.tokens.push_back(t);
        ev.finished = true;
        ev.finish_reason = t.id == kEos ? FinishReason::eos : FinishReason::stop;
      } else {
        ch.held.push_back(t);
        std::string held_text;
        for (const auto& h : ch.held) held_text += h.text;
        const std::string all = ch.emitted + held_text;
        std::size_t cut = std::string::npos;
        for (const auto& s : p.stop_sequences) {
          const auto pos = all.find(s);
          if (pos != std::string::npos && pos < cut) cut = pos;
        }
        if (cut != std::string::npos && ch.generated >= p.min_new_tokens) {
          // Keep only the text before the stop string; the rest of the held tokens say "".
          std::size_t at = ch.emitted.size();
          for (auto& h : ch.held) {
            const std::size_t keep = cut > at ? std::min(cut - at, h.text.size()) : 0;
            at += h.text.size();
            h.text.resize(keep);
          }
          ev.tokens = std::move(ch.held);
          ev.finished = true;
          ev.finish_reason = FinishReason::stop;
        } else {
          // Release the tokens that can no longer start a stop string.
          std::size_t keep = 0;  // trailing held tokens that prefix some stop string
          for (std::size_t k = ch.held.size(); k > 0 && keep == 0; --k) {
            std::string tail;
            for (std::size_t j = ch.held.size() - k; j < ch.held.size(); ++j)
              tail += ch.held[j].text;
            for (const auto& s : p.stop_sequences) {
              if (s.size() > tail.size() && s.compare(0, tail.size(), tail) == 0) keep = k;
            }
          }
          const std::size_t release = ch.held.size() - keep;
          ev.tokens.assign(ch.held.begin(), ch.held.begin() + static_cast<std::ptrdiff_t>(release));
          ch.held.erase(ch.held.begin(), ch.held.begin() + static_cast<std::ptrdiff_t>(release));
          if (ch.generated >= p.max_new_tokens) {
            for (auto& h : ch.held) ev.tokens.push_back(h);
            ch.held.clear();
            ev.finished = true;
            ev.finish_reason = FinishReason::length;
          }
        }
      }
      for (const auto& t2 : ev.tokens) ch.emitted += t2.text;
    }
    for (const auto& t2 : ev.tokens) ev.text += t2.text;  // as the real engine: tokens' text
    ev.completion_tokens = ch.generated;
    if (ev.finished) ch.finished = true;
    if (ev.finished || !ev.tokens.empty()) out.push_back(std::move(ev));
  }
}

void FakeEngine::loop() {
  for (;;) {
    std::vector<std::pair<StreamCallback, StreamEvent>> batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !active_.empty(); });
      if (active_.empty() && stop_) return;
      for (auto it = active_.begin(); it != active_.end();) {
        std::vector<StreamEvent> evs;
        if (stop_) it->second.abort = true;
        step(it->second, evs);
        for (auto& e : evs) batch.emplace_back(it->second.cb, std::move(e));
        bool done = true;
        for (const auto& c : it->second.choices) done = done && c.finished;
        if (done) {
          ++finished_total_;
          it = active_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [cb, ev] : batch) cb(ev);
    const long d = step_delay_ms_.load();
    if (d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
  }
}

EngineStats FakeEngine::stats() const {
  std::lock_guard lk(mu_);
  EngineStats s;
  s.running = static_cast<int>(active_.size());
  s.kv_total = opt_.kv_total;
  for (const auto& [id, a] : active_) {
    s.kv_used += static_cast<int64_t>(a.req.prompt_ids.size());
    for (const auto& c : a.choices) s.kv_used += c.generated;
  }
  s.requests_finished = finished_total_;
  s.prompt_tokens_total = prompt_total_;
  s.generated_tokens_total = generated_total_;
  return s;
}

ModelInfo FakeEngine::model_info() const {
  return {opt_.model_name, "FakeForCausalLM", kVocab, opt_.max_context, "f32"};
}

std::vector<int32_t> FakeEngine::tokenize(const std::string& text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids.push_back(kBos);
  for (unsigned char c : text) ids.push_back(kByteBase + c);
  return ids;
}

std::string FakeEngine::detokenize(const std::vector<int32_t>& ids, bool skip_special) const {
  static const char* kSpecial[] = {"<s>", "</s>", "<pad>"};
  std::string out;
  for (int32_t id : ids) {
    if (id >= kByteBase && id < kVocab) {
      out += static_cast<char>(id - kByteBase);
    } else if (id >= 0 && id < kByteBase && !skip_special) {
      out += kSpecial[id];
    }
  }
  return out;
}

bool FakeEngine::render_chat(const std::string& request_json, bool add_generation_prompt,
                             std::string* prompt, std::string* error) const {
  const auto j = nlohmann::json::parse(request_json, nullptr, false);
  if (j.is_discarded() || !j.contains("messages") || !j["messages"].is_array() ||
      j["messages"].empty()) {
    *error = "messages must be a non-empty list";
    return false;
  }
  std::string out = "<s>";
  for (const auto& m : j["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string()) {
      *error = "each message needs string role and content";
      return false;
    }
    out += "<|" + m["role"].get<std::string>() + "|>\n" + m["content"].get<std::string>() + "\n";
  }
  if (add_generation_prompt) out += "<|assistant|>\n";
  *prompt = out;
  return true;
}

void FakeEngine::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<GenerateRequest> FakeEngine::submitted() const {
  std::lock_guard lk(mu_);
  return submitted_;
}

std::vector<uint64_t> FakeEngine::aborted() const {
  std::lock_guard lk(mu_);
  return aborted_;
}

int FakeEngine::active() const {
  std::lock_guard lk(mu_);
  return static_cast<int>(active_.size());
}

bool FakeEngine::wait_idle(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (active() > 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace lightllm::testing
