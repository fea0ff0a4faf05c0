// tests/server/fake_engine.h — a test-only lightllm::Engine that "generates" deterministic tokens.
//
// Vocabulary: 0 <s>, 1 </s> (EOS), 2 <pad>, then 3 + b for every byte b (so any text tokenizes
// byte by byte). Generated tokens are drawn from "abcdefgh " by a hash of (prompt, seed or a
// counter when sampling without a seed, completion index, step): greedy output depends only on
// the prompt, seeded sampling is reproducible, unseeded sampling is not. It honours
// max_new_tokens, min_new_tokens, ignore_eos, EOS (Options::eos_after), stop strings (held back
// while they may still match, removed from the output like a real detokenizer), stop_token_ids,
// n, logprobs / top_logprobs, abort and a per-step delay. One output thread emits events like the
// real engine: each completion index ends with exactly one finished event.
// It records what was submitted and aborted, so tests can assert the server's mapping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lightllm/engine.h"

namespace lightllm::testing {

class FakeEngine : public Engine {
 public:
  struct Options {
    std::string model_name = "fake-model";
    int64_t max_context = 256;
    int64_t kv_total = 4096;
    std::chrono::milliseconds step_delay{1};
    int eos_after = -1;  // EOS is the token at this step (0-based); -1 never
  };

  static constexpr int32_t kBos = 0, kEos = 1, kPad = 2, kByteBase = 3;
  static constexpr int64_t kVocab = 259;

  FakeEngine();
  explicit FakeEngine(Options options);
  ~FakeEngine() override;

  uint64_t submit(GenerateRequest request, StreamCallback on_event, std::string* error) override;
  void abort(uint64_t request_id) override;
  EngineStats stats() const override;
  ModelInfo model_info() const override;
  std::vector<int32_t> tokenize(const std::string& text, bool add_special_tokens) const override;
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const override;
  bool render_chat(const std::string& request_json, bool add_generation_prompt, std::string* prompt,
                   std::string* error) const override;
  SamplingParams default_sampling_params() const override { return {}; }
  void shutdown() override;

  // Test introspection.
  std::vector<GenerateRequest> submitted() const;
  std::vector<uint64_t> aborted() const;
  int active() const;
  bool wait_idle(std::chrono::milliseconds timeout) const;
  void set_step_delay(std::chrono::milliseconds d) { step_delay_ms_ = d.count(); }

 private:
  struct Choice {
    std::string emitted;            // text already sent
    std::vector<TokenOutput> held;  // may still complete a stop string
    int generated = 0;
    bool finished = false;
  };
  struct Active {
    uint64_t id = 0;
    GenerateRequest req;
    StreamCallback cb;
    uint64_t base = 0;
    std::vector<Choice> choices;
    bool abort = false;
  };

  void loop();
  void step(Active& a, std::vector<StreamEvent>& out);
  TokenOutput make_token(const Active& a, int index, int step) const;

  Options opt_;
  std::atomic<long> step_delay_ms_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<uint64_t, Active> active_;
  std::vector<GenerateRequest> submitted_;
  std::vector<uint64_t> aborted_;
  uint64_t next_id_ = 1;
  uint64_t unseeded_ = 12345;
  uint64_t finished_total_ = 0, prompt_total_ = 0, generated_total_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lightllm::testing
