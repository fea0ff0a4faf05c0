// src/engine/router/router_plan.cpp — building one StepPlan:
//   1. decode: one token for every running sequence past its prefill; when the pool cannot
//      give them a slot even after evicting the prefix cache, pause the newest running
//      sequences (not in flight) until it can;
//   2. prefill chunks of running sequences still prefilling (chunked prefill), oldest first;
//   3. admission from the waiting queue in FCFS order (stop at the first that does not fit):
//      future-token peak < pool capacity (admission.h), running_max_req_size, a free
//      req_to_token row, batch_max_tokens prefill tokens per step; the longest cached prefix is
//      reused and only the rest is prefilled.
#include <algorithm>

#include "engine/router/router.h"
#include "engine/router/seq.h"

namespace lightllm::engine::router {

int64_t Router::chunk_cap() const {
  return cfg_.chunked_prefill_size > 0 ? cfg_.chunked_prefill_size : INT64_MAX;
}

bool Router::ensure_free(int64_t n) {
  if (pool_.free_count() >= n) return true;
  if (cache_) cache_->evict(n - pool_.free_count());
  return pool_.free_count() >= n;
}

TokenTuple Router::tuple_of(const Seq& s, bool busy) const {
  EstimateInput in;
  in.prompt_len = s.prompt_len;
  in.out_len = s.out_len() + s.pending_samples;
  in.max_new_tokens = s.spec.params.max_new_tokens;
  in.ignore_eos = s.spec.params.ignore_eos;
  in.phase = s.state == SeqState::running ? Phase::running
             : s.was_paused               ? Phase::paused
                                          : Phase::waiting;
  return estimate_tokens(in, busy, cfg_.router_max_new_token_len);
}

core::Status Router::add_entry(StepPlan& plan, Seq& s, int64_t n) {
  StepEntry e;
  e.seq_id = s.spec.seq_id;
  e.req_row = s.row;
  e.token_offset = plan.n_tokens();
  e.n_tokens = static_cast<int32_t>(n);
  e.cached_len = s.kv_len;
  e.is_prefill = s.in_prefill;
  e.sample = s.kv_len + n == s.total_len();
  e.sampling = s.sampling.get();
  auto row = req_to_token_.row(s.row);
  auto dst = row.subspan(static_cast<size_t>(s.kv_len), static_cast<size_t>(n));
  if (!pool_.alloc(dst)) {
    return core::internal_error("plan: {} slots were reserved but the pool has {}", n,
                                pool_.free_count());
  }
  for (int64_t p = s.kv_len; p < s.kv_len + n; ++p) {
    plan.input_ids.push_back(p < static_cast<int64_t>(s.tokens.size())
                                 ? s.tokens[static_cast<size_t>(p)]
                                 : kPendingToken);
  }
  plan.slots.insert(plan.slots.end(), dst.begin(), dst.end());
  if (e.is_prefill) {
    plan.n_prefill_tokens += n;
    stats_.prefill_tokens += static_cast<uint64_t>(n);
  } else {
    plan.n_decode_tokens += n;
    stats_.decode_tokens += static_cast<uint64_t>(n);
  }
  if (e.sample) {
    s.in_prefill = false;
    ++s.pending_samples;
  }
  ++s.inflight;
  s.kv_len += n;
  plan.entries.push_back(e);
  return {};
}

core::Status Router::schedule_decode(StepPlan& plan) {
  std::vector<Seq*> cands;
  for (Seq* s : running_) {
    if (!s->in_prefill && s->remaining_feed() == 1 &&
        s->out_len() + s->pending_samples < s->spec.params.max_new_tokens) {
      cands.push_back(s);
    }
  }
  auto need = static_cast<int64_t>(cands.size());
  while (!ensure_free(need)) {
    // Pause the newest running sequence that no in-flight step uses.
    Seq* victim = nullptr;
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
      if ((*it)->inflight == 0) {
        victim = *it;
        break;
      }
    }
    if (!victim) break;
    auto c = std::find(cands.begin(), cands.end(), victim);
    if (c != cands.end()) {
      cands.erase(c);
      --need;
    }
    LLM_RETURN_IF_ERROR(pause(*victim));
    paused_this_step_ = true;
  }
  // If sequences in flight could not be paused, the oldest get the slots there are.
  const int64_t n_ok = std::min(need, pool_.free_count());
  for (int64_t i = 0; i < n_ok; ++i)
    LLM_RETURN_IF_ERROR(add_entry(plan, *cands[static_cast<size_t>(i)], 1));
  return {};
}

core::Status Router::schedule_prefill_chunks(StepPlan& plan, int64_t& budget) {
  const bool chunked = cfg_.chunked_prefill_size > 0;
  for (Seq* s : running_) {
    if (!s->in_prefill || s->remaining_feed() <= 0) continue;
    int64_t n = std::min(s->remaining_feed(), chunk_cap());
    if (n > budget) {
      if (chunked) {
        n = budget;
      } else if (plan.n_prefill_tokens > 0) {
        continue;
      }
    }
    if (n <= 0) break;
    if (!ensure_free(n)) {
      if (!chunked) continue;
      n = pool_.free_count();
      if (n <= 0) break;
    }
    LLM_RETURN_IF_ERROR(add_entry(plan, *s, n));
    budget -= n;
  }
  return {};
}

core::Status Router::admit_waiting(StepPlan& plan, int64_t& budget) {
  if (paused_this_step_ && !running_.empty()) return {};  // let the paused ones go first
  const bool chunked = cfg_.chunked_prefill_size > 0;
  const int64_t held = pool_.used_count() - (cache_ ? cache_->evictable_size() : 0);
  const bool busy = is_busy(held, pool_.capacity(), cfg_.router_token_ratio);

  // Chunked prefill delays a sequence's decoding: like LightLLM's SplitFuseReq, b also counts
  // the prefill steps still ahead of it. Continuations are served oldest first with at least
  // min(chunk, batch_max_tokens) tokens per step for the oldest, so a sequence's prefill ends
  // within the sum of the prefill steps of itself and every older prefilling sequence.
  const int64_t per_step = std::min(chunk_cap(), cfg_.batch_max_tokens);
  auto steps_for = [per_step](int64_t tokens) { return (tokens + per_step - 1) / per_step; };
  int64_t prefill_steps_ahead = 0;
  std::vector<TokenTuple> list;
  list.reserve(seqs_.size() + waiting_.size());
  for (const Seq* sp : running_) {
    TokenTuple t = tuple_of(*sp, busy);
    if (sp->in_prefill) {
      prefill_steps_ahead += steps_for(sp->remaining_feed());
      t.b += prefill_steps_ahead;
    }
    list.push_back(t);
  }
  for (const auto& [id, sp] : seqs_) {
    if (sp->state == SeqState::finished && sp->row >= 0) {
      list.push_back({sp->kv_len, 0});  // released when its in-flight step is committed
    }
  }
  std::vector<TokenTuple> tmp;
  while (!waiting_.empty()) {
    Seq& s = *waiting_.front();
    if (static_cast<int>(running_.size()) >= cfg_.running_max_req_size) break;
    if (req_to_token_.free_rows() == 0) break;
    if (budget <= 0 && (chunked || plan.n_prefill_tokens > 0)) break;

    // n / best_of: wait until a sibling has computed the shared prompt, then reuse it.
    if (cache_ && s.spec.group_size > 1) {
      const bool sibling_prefilling = std::any_of(running_.begin(), running_.end(), [&](Seq* o) {
        return o->spec.group_id == s.spec.group_id && o->kv_committed < s.prompt_len - 1;
      });
      if (sibling_prefilling) break;
    }

    TokenTuple t = tuple_of(s, busy);
    const int64_t own_steps = chunked ? steps_for(static_cast<int64_t>(s.tokens.size())) : 0;
    if (chunked) t.b += prefill_steps_ahead + own_steps;
    tmp = list;
    tmp.push_back(t);
    const int64_t peak = peak_token_need(tmp);
    if (peak >= pool_.capacity()) break;

    kv::PrefixCache::Match m;
    const auto known = std::span<const int32_t>(s.tokens);
    if (cache_) m = cache_->match_prefix(known.first(known.size() - 1));  // feed >= 1 token
    const int64_t feed = static_cast<int64_t>(s.tokens.size()) - m.n_matched;
    int64_t n = std::min(feed, chunk_cap());
    if (n > budget) {
      if (chunked) {
        n = budget;
      } else if (plan.n_prefill_tokens > 0) {
        break;
      }
    }
    if (cache_) cache_->inc_ref(m.node);  // keep the match safe from the eviction below
    if (!ensure_free(n)) {
      if (cache_) cache_->dec_ref(m.node);
      break;
    }
    const std::optional<int32_t> row = req_to_token_.alloc_row();
    if (!row) {
      if (cache_) cache_->dec_ref(m.node);
      break;
    }
    waiting_.pop_front();
    s.row = *row;
    std::copy(m.slots.begin(), m.slots.end(), req_to_token_.row(s.row).begin());
    s.n_shared = s.kv_len = s.kv_committed = m.n_matched;
    s.node = cache_ ? m.node : nullptr;
    if (!s.was_paused) s.cached_prompt_tokens = std::min(m.n_matched, s.prompt_len);
    stats_.prefix_hit_tokens += static_cast<uint64_t>(m.n_matched);
    s.state = SeqState::running;
    s.in_prefill = true;
    s.was_paused = false;
    running_.push_back(&s);
    list.push_back(t);
    if (chunked && n < feed) prefill_steps_ahead += own_steps;  // it keeps prefilling
    stats_.peak_estimate = peak;
    LLM_RETURN_IF_ERROR(add_entry(plan, s, n));
    budget -= n;
  }
  return {};
}

core::Result<StepPlan> Router::plan() {
  if (static_cast<int>(inflight_.size()) >= cfg_.max_inflight_steps) {
    return core::internal_error("plan: {} steps already in flight (max_inflight_steps {})",
                                inflight_.size(), cfg_.max_inflight_steps);
  }
  StepPlan plan;
  plan.req_to_token = &req_to_token_;
  paused_this_step_ = false;
  while (true) {
    int64_t budget = cfg_.batch_max_tokens;
    LLM_RETURN_IF_ERROR(schedule_decode(plan));
    LLM_RETURN_IF_ERROR(schedule_prefill_chunks(plan, budget));
    LLM_RETURN_IF_ERROR(admit_waiting(plan, budget));
    if (!plan.empty() || running_.empty() || !inflight_.empty()) break;
    // Sequences are running but none could be fed: all are mid-prefill on a full pool (only
    // possible with optimistic estimates). Pause the newest so the others can go on.
    LLM_RETURN_IF_ERROR(pause(*running_.back()));
    paused_this_step_ = true;
  }
  if (plan.empty()) return plan;
  plan.step_id = next_step_id_++;
  InflightStep rec{plan.step_id, {}};
  rec.entries.reserve(plan.entries.size());
  for (const StepEntry& e : plan.entries) {
    rec.entries.push_back({e.seq_id, e.n_tokens, e.sample, e.is_prefill});
  }
  inflight_.push_back(std::move(rec));
  ++stats_.steps;
  return plan;
}

}  // namespace lightllm::engine::router
