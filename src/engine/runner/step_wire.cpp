// src/engine/runner/step_wire.cpp — encoding and decoding of WireStep (see step_wire.h).
#include "engine/runner/step_wire.h"

#include "dist/tcp_channel.h"

namespace lightllm::engine {

std::vector<models::StepSegment> WireStep::step_segments() const {
  std::vector<models::StepSegment> out;
  out.reserve(segments.size());
  size_t offset = 0;
  for (const WireSegment& s : segments) {
    out.push_back({.req_row = s.req_row,
                   .tokens = std::span<const int32_t>(token_ids.data() + offset,
                                                      static_cast<size_t>(s.n_tokens)),
                   .cached_len = s.cached_len,
                   .wants_logits = s.wants_logits != 0});
    offset += static_cast<size_t>(s.n_tokens);
  }
  return out;
}

std::vector<uint8_t> encode_step(const StepPlan& plan, std::span<const int32_t> ids,
                                 const kv::ReqToTokenTable& table) {
  std::vector<WireSegment> segments;
  std::vector<WireRows> rows;
  std::vector<int32_t> row_slots;
  for (const StepEntry& e : plan.entries) {
    segments.push_back({.req_row = e.req_row,
                        .cached_len = static_cast<int32_t>(e.cached_len),
                        .n_tokens = e.n_tokens,
                        .wants_logits = e.sample ? 1 : 0});
    const int64_t start = e.is_prefill ? 0 : e.cached_len;
    const int64_t end = e.cached_len + e.n_tokens;
    const auto row = table.row(e.req_row);
    rows.push_back({.req_row = e.req_row,
                    .start = static_cast<int32_t>(start),
                    .count = static_cast<int32_t>(end - start)});
    row_slots.insert(row_slots.end(), row.begin() + start, row.begin() + end);
  }
  dist::ByteWriter w;
  w.put(WireKind::step);
  w.put(plan.step_id);
  w.put_span<WireSegment>(segments);
  w.put_span<int32_t>(ids);
  w.put_span<WireRows>(rows);
  w.put_span<int32_t>(row_slots);
  return std::move(w.bytes());
}

std::vector<uint8_t> encode_stop() {
  dist::ByteWriter w;
  w.put(WireKind::stop);
  return std::move(w.bytes());
}

core::Result<WireStep> decode_step(std::span<const uint8_t> bytes) {
  dist::ByteReader r(bytes);
  WireStep s;
  LLM_RETURN_IF_ERROR(r.get(s.kind));
  if (s.kind == WireKind::stop) return s;
  if (s.kind != WireKind::step)
    return core::data_loss("tensor-parallel message of unknown kind {}",
                           static_cast<uint32_t>(s.kind));
  LLM_RETURN_IF_ERROR(r.get(s.step_id));
  LLM_RETURN_IF_ERROR(r.get_vector(s.segments));
  LLM_RETURN_IF_ERROR(r.get_vector(s.token_ids));
  LLM_RETURN_IF_ERROR(r.get_vector(s.rows));
  LLM_RETURN_IF_ERROR(r.get_vector(s.row_slots));
  if (!r.done()) return core::data_loss("tensor-parallel step message has trailing bytes");
  int64_t n_tokens = 0, n_slots = 0;
  for (const WireSegment& seg : s.segments) {
    if (seg.n_tokens < 0 || seg.cached_len < 0)
      return core::data_loss("tensor-parallel step: a negative segment size");
    n_tokens += seg.n_tokens;
  }
  for (const WireRows& rw : s.rows) {
    if (rw.count < 0 || rw.start < 0)
      return core::data_loss("tensor-parallel step: a negative row range");
    n_slots += rw.count;
  }
  if (n_tokens != static_cast<int64_t>(s.token_ids.size()) ||
      n_slots != static_cast<int64_t>(s.row_slots.size()))
    return core::data_loss("tensor-parallel step: sizes do not add up");
  return s;
}

core::Status apply_rows(const WireStep& step, std::span<int32_t> mirror, int32_t max_reqs,
                        int64_t max_len) {
  size_t at = 0;
  for (const WireRows& rw : step.rows) {
    if (rw.req_row < 0 || rw.req_row >= max_reqs || int64_t{rw.start} + rw.count > max_len)
      return core::data_loss("tensor-parallel step: row {} [{}, +{}) is outside [{}, {}]",
                             rw.req_row, rw.start, rw.count, max_reqs, max_len);
    std::copy_n(step.row_slots.begin() + static_cast<std::ptrdiff_t>(at), rw.count,
                mirror.begin() + static_cast<std::ptrdiff_t>(rw.req_row * max_len + rw.start));
    at += static_cast<size_t>(rw.count);
  }
  return {};
}

}  // namespace lightllm::engine
