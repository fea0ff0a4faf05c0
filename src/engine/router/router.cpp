// src/engine/router/router.cpp — sequence lifecycle: submit, abort/finish, commit of step
// results, pause, release of KV (into the prefix cache), stats and invariant checks.
// Planning (admission, chunking, decode allocation) is in router_plan.cpp.
#include "engine/router/router.h"

#include <algorithm>
#include <utility>

#include "engine/router/seq.h"

namespace lightllm::engine::router {

RouterConfig resolve_router_config(RouterConfig config) {
  if (config.max_req_total_len <= 0) config.max_req_total_len = config.max_total_tokens;
  if (config.batch_max_tokens <= 0) config.batch_max_tokens = config.max_req_total_len;
  if (config.max_inflight_steps < 1) config.max_inflight_steps = 1;
  return config;
}

Router::Router(RouterConfig config)
    : cfg_(resolve_router_config(std::move(config))),
      pool_(cfg_.max_total_tokens),
      req_to_token_(cfg_.running_max_req_size, cfg_.max_req_total_len) {
  if (cfg_.enable_prefix_cache) cache_ = std::make_unique<kv::PrefixCache>(&pool_);
}

Router::~Router() = default;

core::Status Router::submit(SequenceSpec spec) {
  if (spec.seq_id == 0) return core::invalid_argument("seq_id must be != 0");
  if (seqs_.count(spec.seq_id))
    return core::invalid_argument("seq_id {} already exists", spec.seq_id);
  if (spec.prompt.empty()) return core::invalid_argument("prompt must not be empty");
  const auto prompt_len = static_cast<int64_t>(spec.prompt.size());
  const int64_t total = prompt_len + spec.params.max_new_tokens;
  if (total > cfg_.max_req_total_len) {
    return core::invalid_argument(
        "prompt tokens ({}) + max_new_tokens ({}) = {} exceeds max_req_total_len {}", prompt_len,
        spec.params.max_new_tokens, total, cfg_.max_req_total_len);
  }
  if (total > cfg_.max_total_tokens) {  // admission needs peak (= total - 1) < capacity
    return core::invalid_argument(
        "prompt tokens ({}) + max_new_tokens ({}) cannot fit the KV pool of {} tokens", prompt_len,
        spec.params.max_new_tokens, cfg_.max_total_tokens);
  }
  if (cfg_.chunked_prefill_size <= 0 && prompt_len > cfg_.batch_max_tokens) {
    return core::invalid_argument(
        "prompt tokens ({}) exceed batch_max_tokens {} (enable chunked prefill for longer prompts)",
        prompt_len, cfg_.batch_max_tokens);
  }
  if (spec.group_id == 0) spec.group_id = spec.seq_id;
  auto s = std::make_unique<Seq>();
  s->prompt_len = prompt_len;
  s->tokens = spec.prompt;
  s->sampling = std::make_unique<sampling::SamplingState>(sampling::make_sampling_state(
      spec.params, spec.prompt, cfg_.eos_token_ids, static_cast<uint64_t>(spec.index)));
  s->spec = std::move(spec);
  Seq* raw = s.get();
  seqs_.emplace(raw->spec.seq_id, std::move(s));
  waiting_.push_back(raw);
  return {};
}

void Router::push_event(const Seq& s, const SampledToken* tok) {
  SeqEvent ev;
  ev.seq_id = s.spec.seq_id;
  ev.group_id = s.spec.group_id;
  ev.index = s.spec.index;
  if (tok) {
    ev.has_token = true;
    ev.token = *tok;
  }
  ev.finished = s.state == SeqState::finished;
  ev.reason = s.reason;
  ev.prompt_tokens = s.prompt_len;
  ev.completion_tokens = s.out_len();
  ev.cached_prompt_tokens = s.cached_prompt_tokens;
  events_.push_back(std::move(ev));
}

std::vector<SeqEvent> Router::take_events() {
  std::vector<SeqEvent> out;
  out.swap(events_);
  return out;
}

void Router::abort(uint64_t seq_id) {
  finish(seq_id, FinishReason::abort);
}

void Router::finish(uint64_t seq_id, FinishReason reason) {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end() || it->second->state == SeqState::finished) return;
  Seq& s = *it->second;
  end(s, reason);
  push_event(s, nullptr);
  // Releasing cannot fail unless an invariant is already broken; check_invariants() reports it.
  (void)maybe_release(s);
}

void Router::end(Seq& s, FinishReason reason) {
  if (s.state == SeqState::running) {
    running_.erase(std::find(running_.begin(), running_.end(), &s));
  } else if (s.state == SeqState::waiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &s));
  }
  s.state = SeqState::finished;
  s.reason = reason;
  ++stats_.finished;
}

core::Status Router::maybe_release(Seq& s) {
  if (s.state != SeqState::finished || s.inflight > 0) return {};
  const core::Status st = free_kv(s);
  seqs_.erase(s.spec.seq_id);  // destroys s
  return st;
}

core::Status Router::free_kv(Seq& s) {
  if (s.row < 0) return {};
  auto row = req_to_token_.row(s.row);
  if (cache_) {
    // Everything computed goes into the cache (it takes ownership); positions whose token id
    // the router never learned (samples discarded after a finish) go straight back to the pool.
    const int64_t n_insert =
        std::min<int64_t>(s.kv_committed, static_cast<int64_t>(s.tokens.size()));
    auto ins =
        cache_->insert(std::span<const int32_t>(s.tokens).first(static_cast<size_t>(n_insert)),
                       row.first(static_cast<size_t>(n_insert)));
    if (!ins.ok()) return ins.status();
    LLM_RETURN_IF_ERROR(pool_.free(
        row.subspan(static_cast<size_t>(n_insert), static_cast<size_t>(s.kv_len - n_insert))));
    if (s.node) cache_->dec_ref(s.node);
  } else {
    LLM_RETURN_IF_ERROR(pool_.free(row.first(static_cast<size_t>(s.kv_len))));
  }
  LLM_RETURN_IF_ERROR(req_to_token_.free_row(s.row));
  s.row = -1;
  s.kv_len = s.kv_committed = s.n_shared = 0;
  s.node = nullptr;
  return {};
}

core::Status Router::pause(Seq& s) {
  if (s.inflight > 0 || s.state != SeqState::running) {
    return core::internal_error("pause: sequence {} is in flight or not running", s.spec.seq_id);
  }
  LLM_RETURN_IF_ERROR(free_kv(s));
  running_.erase(std::find(running_.begin(), running_.end(), &s));
  s.state = SeqState::waiting;
  s.was_paused = true;
  s.in_prefill = false;
  waiting_.push_front(&s);
  ++stats_.pauses;
  return {};
}

core::Status Router::publish_prefix(Seq& s) {
  if (!cache_ || s.row < 0) return {};
  const int64_t n = std::min<int64_t>(s.kv_committed, static_cast<int64_t>(s.tokens.size()));
  if (n <= s.n_shared) return {};
  const std::span<const int32_t> ids =
      std::span<const int32_t>(s.tokens).first(static_cast<size_t>(n));
  // Only when the tree holds exactly our shared part: then no position is duplicated and the
  // ownership split stays "[0, n_shared) cache, rest ours".
  if (cache_->match_prefix(ids).n_matched != s.n_shared) return {};
  auto row = req_to_token_.row(s.row);
  LLM_ASSIGN_OR_RETURN(kv::PrefixCache::Node * node,
                       cache_->insert(ids, row.first(static_cast<size_t>(n))));
  cache_->inc_ref(node);
  if (s.node) cache_->dec_ref(s.node);
  s.node = node;
  s.n_shared = n;
  return {};
}

bool Router::hits_stop(const Seq& s, int32_t token, FinishReason* reason) const {
  const SamplingParams& p = s.spec.params;
  const bool min_reached = s.out_len() >= p.min_new_tokens;
  if (min_reached && !p.ignore_eos &&
      std::find(cfg_.eos_token_ids.begin(), cfg_.eos_token_ids.end(), token) !=
          cfg_.eos_token_ids.end()) {
    *reason = FinishReason::eos;
    return true;
  }
  if (min_reached && std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) !=
                         p.stop_token_ids.end()) {
    *reason = FinishReason::stop;
    return true;
  }
  if (s.out_len() >= p.max_new_tokens ||
      static_cast<int64_t>(s.tokens.size()) >= cfg_.max_req_total_len) {
    *reason = FinishReason::length;
    return true;
  }
  return false;
}

core::Status Router::commit(const StepResult& result) {
  if (inflight_.empty()) return core::internal_error("commit: no step in flight");
  InflightStep step = std::move(inflight_.front());
  inflight_.pop_front();
  if (result.step_id != step.step_id) {
    return core::internal_error("commit: got step {} but step {} is the oldest in flight",
                                result.step_id, step.step_id);
  }
  size_t k = 0;
  for (const InflightEntry& e : step.entries) {
    auto it = seqs_.find(e.seq_id);
    if (it == seqs_.end()) return core::internal_error("commit: unknown sequence {}", e.seq_id);
    Seq& s = *it->second;
    --s.inflight;
    s.kv_committed += e.n_tokens;
    if (e.sample) {
      if (k >= result.sampled.size() || result.sampled[k].seq_id != e.seq_id) {
        return core::internal_error("commit: step {} has no sampled token for sequence {}",
                                    step.step_id, e.seq_id);
      }
      const SampledToken& tok = result.sampled[k++];
      --s.pending_samples;
      if (s.state != SeqState::finished) {
        s.tokens.push_back(tok.token);
        FinishReason reason = FinishReason::none;
        if (hits_stop(s, tok.token, &reason)) end(s, reason);
        push_event(s, &tok);
      }
    }
    if (e.is_prefill && s.state != SeqState::finished) LLM_RETURN_IF_ERROR(publish_prefix(s));
    LLM_RETURN_IF_ERROR(maybe_release(s));
  }
  if (k != result.sampled.size()) {
    return core::internal_error("commit: step {} returned {} samples, expected {}", step.step_id,
                                result.sampled.size(), k);
  }
  return {};
}

RouterStats Router::stats() const {
  RouterStats st = stats_;
  st.running = static_cast<int>(running_.size());
  st.waiting = static_cast<int>(waiting_.size());
  st.paused = static_cast<int>(
      std::count_if(waiting_.begin(), waiting_.end(), [](const Seq* s) { return s->was_paused; }));
  st.kv_total = pool_.capacity();
  st.kv_used = pool_.used_count();
  st.kv_cached = cache_ ? cache_->size() : 0;
  st.kv_evictable = cache_ ? cache_->evictable_size() : 0;
  return st;
}

core::Status Router::check_invariants() const {
  LLM_RETURN_IF_ERROR(pool_.check_invariants());
  if (cache_) LLM_RETURN_IF_ERROR(cache_->check_invariants());
  std::vector<uint8_t> owned_mark(static_cast<size_t>(pool_.capacity()), 0);
  int64_t owned = 0;
  int32_t rows = 0;
  for (const auto& [id, sp] : seqs_) {
    const Seq& s = *sp;
    if (s.row < 0) {
      if (s.kv_len != 0) return core::internal_error("seq {}: kv_len without a row", id);
      continue;
    }
    ++rows;
    if (!(0 <= s.n_shared && s.n_shared <= s.kv_committed && s.kv_committed <= s.kv_len)) {
      return core::internal_error("seq {}: n_shared {} kv_committed {} kv_len {}", id, s.n_shared,
                                  s.kv_committed, s.kv_len);
    }
    const auto row = req_to_token_.row(s.row);
    for (int64_t p = 0; p < s.kv_len; ++p) {
      const int32_t slot = row[static_cast<size_t>(p)];
      if (slot < 0 || slot >= pool_.capacity() || !pool_.is_used(slot)) {
        return core::internal_error("seq {}: position {} maps to free slot {}", id, p, slot);
      }
      if (p >= s.n_shared && owned_mark[static_cast<size_t>(slot)]++) {
        return core::internal_error("seq {}: slot {} owned twice", id, slot);
      }
    }
    owned += s.kv_len - s.n_shared;
  }
  const int64_t cached = cache_ ? cache_->size() : 0;
  if (cache_) {
    for (const int32_t slot : cache_->all_slots()) {
      if (owned_mark[static_cast<size_t>(slot)]) {
        return core::internal_error("slot {} is owned by a sequence and by the prefix cache", slot);
      }
    }
  }
  if (pool_.used_count() != owned + cached) {
    return core::internal_error("slot leak: pool used {} != owned by sequences {} + cached {}",
                                pool_.used_count(), owned, cached);
  }
  if (rows != req_to_token_.used_rows()) {
    return core::internal_error("row leak: {} rows in use, {} sequences hold one",
                                req_to_token_.used_rows(), rows);
  }
  return {};
}

}  // namespace lightllm::engine::router
