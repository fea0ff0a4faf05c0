// src/models/layers/tensor_parallel.cpp — see tensor_parallel.h.
#include "models/layers/tensor_parallel.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "models/layers/common.h"

namespace lightllm::models::layers {

Tensor copy_columns(const Tensor& w, int64_t col0, int64_t n) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  const size_t elem = core::dtype_size(w.dtype());
  Tensor out = Tensor::empty({rows, n}, w.dtype());
  const auto* src = static_cast<const char*>(w.raw());
  auto* dst = static_cast<char*>(out.raw());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + static_cast<size_t>(r * n) * elem,
                src + static_cast<size_t>(r * cols + col0) * elem, static_cast<size_t>(n) * elem);
  return out;
}

int64_t distinct_bytes(const std::vector<const Tensor*>& ts) {
  std::map<const void*, size_t> seen;  // data pointer → largest tensor starting there
  for (const Tensor* t : ts)
    if (t->defined()) seen[t->raw()] = std::max(seen[t->raw()], t->nbytes());
  int64_t total = 0;
  for (const auto& [ptr, bytes] : seen) total += static_cast<int64_t>(bytes);
  return total;
}

int64_t unread_table_bytes(const Tensor& table, const Tensor& lm_head, int64_t rows_read) {
  if (!table.defined() || table.raw() == lm_head.raw() || table.dim(0) == 0) return 0;
  const int64_t bytes = static_cast<int64_t>(table.nbytes());
  const int64_t row_bytes = bytes / table.dim(0);
  return bytes - std::min(rows_read, table.dim(0)) * row_bytes;
}

Result<TensorParallel> TensorParallel::make(const dist::ShardSpec& spec, std::string_view arch,
                                            int n_heads, int n_kv_heads, int64_t vocab) {
  TensorParallel tp;
  tp.spec_ = spec;
  tp.full_vocab_ = vocab;
  if (!spec.sharded()) {
    tp.heads_ = {.n_q = n_heads, .n_kv = n_kv_heads};
    tp.vocab_ = {.size = vocab, .padded = vocab};
    return tp;
  }
  if (spec.comm == nullptr || spec.comm->world_size() != spec.world ||
      spec.comm->rank() != spec.rank)
    return core::invalid_argument(
        "{}: tensor parallel rank {} of {} needs the group's communicator for that rank", arch,
        spec.rank, spec.world);
  auto heads = dist::shard_heads(n_heads, n_kv_heads, spec.rank, spec.world);
  if (!heads.ok()) return heads.status().with_context(arch);
  tp.heads_ = *heads;
  tp.vocab_ = dist::shard_vocab(vocab, spec.rank, spec.world);
  return tp;
}

Status TensorParallel::shard_attention(AttentionWeights& w, int head_dim, bool qkv_done) const {
  if (!sharded()) return {};
  const dist::Range q = heads_.q_rows(head_dim), kv = heads_.kv_rows(head_dim);
  auto take = [](Tensor& t, dist::Range r) {
    if (t.defined()) t = t.rows(r.start, r.size);
  };
  if (!qkv_done) {
    take(w.wq, q), take(w.bq, q);
    take(w.wk, kv), take(w.bk, kv);
    take(w.wv, kv), take(w.bv, kv);
  }
  take(w.q_norm, {heads_.q_head0, heads_.n_q});  // [n_heads, head_dim] → this rank's heads
  take(w.k_norm, {heads_.kv_head0, heads_.n_kv});
  if (w.wo.ndim() != 2 || w.wo.dim(1) < q.start + q.size)
    return core::internal_error("o projection {} has no columns [{}, {})", w.wo.describe(), q.start,
                                q.start + q.size);
  w.wo = copy_columns(w.wo, q.start, q.size);  // [hidden, n_q * head_dim]
  if (spec_.rank != 0) w.bo = Tensor();        // added once by the all_reduce
  return {};
}

Status TensorParallel::shard_mlp(GatedMlpWeights& w) const {
  if (!sharded()) return {};
  LLM_ASSIGN_OR_RETURN(const dist::Range r, dist::even_split(w.up.dim(0), spec_.rank, spec_.world,
                                                             "MLP intermediate size"));
  for (Tensor* t : {&w.gate, &w.gate_bias, &w.up, &w.up_bias})
    if (t->defined()) *t = t->rows(r.start, r.size);
  w.down = copy_columns(w.down, r.start, r.size);  // [hidden, intermediate / world]
  if (spec_.rank != 0) w.down_bias = Tensor();
  return {};
}

Status TensorParallel::shard_vocab(Tensor& embed, Tensor& lm_head, bool tied) const {
  if (!sharded()) return {};
  const int64_t H = embed.dim(1), P = vocab_.padded;
  if (!tied && (lm_head.dim(0) != full_vocab_ || lm_head.dim(1) != H))
    return core::internal_error("lm_head {} for vocab {}", lm_head.describe(), full_vocab_);
  const size_t row_bytes = static_cast<size_t>(H) * core::dtype_size(embed.dtype());
  auto slice = [&](const Tensor& full, int64_t rows) {  // [rows, H]: the rank's rows, then zeros
    Tensor t = Tensor::empty({rows, H}, full.dtype());
    if (vocab_.size > 0)
      std::memcpy(t.raw(), full.rows(vocab_.start, vocab_.size).raw(),
                  static_cast<size_t>(vocab_.size) * row_bytes);
    return t;
  };
  Tensor table = slice(embed, P + 1);  // row P: the zero row of out-of-shard ids
  if (tied) {
    lm_head = table.rows(0, P);
  } else if (vocab_.size == P) {
    lm_head = lm_head.rows(vocab_.start, P);  // a view: the rows are contiguous
  } else {
    lm_head = slice(lm_head, P);
  }
  embed = table;
  return {};
}

void TensorParallel::shard_shape(ModelShape& s) const {
  if (!sharded()) return;
  s.n_heads = heads_.n_q;
  s.n_kv_heads = heads_.n_kv;
  s.tp_rank = spec_.rank;
  s.tp_world = spec_.world;
}

std::vector<float> TensorParallel::local_heads(const std::vector<float>& per_head) const {
  if (!sharded()) return per_head;
  return {per_head.begin() + heads_.q_head0, per_head.begin() + heads_.q_head0 + heads_.n_q};
}

Result<StepBatch> TensorParallel::local_token_ids(const StepBatch& batch) {
  StepBatch out = batch;
  if (!sharded()) return out;
  const int64_t n = batch.n_tokens();
  ids_.resize(static_cast<size_t>(n));
  const int32_t* ids = batch.token_ids.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= full_vocab_)
      return core::invalid_argument("token id {} at step row {} is outside the vocabulary [0, {})",
                                    ids[i], i, full_vocab_);
    const int64_t local = ids[i] - vocab_.start;
    ids_[static_cast<size_t>(i)] =
        static_cast<int32_t>(local >= 0 && local < vocab_.size ? local : vocab_.padded);
  }
  out.token_ids = Tensor::view(ids_.data(), {n}, core::DType::i32);
  return out;
}

Status TensorParallel::lm_head(const Tensor& hidden, const std::vector<int32_t>& rows,
                               const Tensor& lm_head, Workspace& ws, Tensor& logits) {
  if (!sharded()) return lm_head_rows(hidden, rows, lm_head, ws, logits);
  const int64_t n = static_cast<int64_t>(rows.size()), P = vocab_.padded, W = spec_.world;
  if (logits.dim(0) != n || logits.dim(1) != full_vocab_ || lm_head.dim(0) != P)
    return core::internal_error("logits buffer {} / lm_head shard {} for {} rows x vocab {}",
                                logits.describe(), lm_head.describe(), n, full_vocab_);
  if (n == 0) return {};  // every rank sees the same rows: all skip the gather
  Tensor local = ws.get(Buf::logits, {n, P}, core::DType::f32);            // [n, padded]
  Tensor gathered = ws.get(Buf::tp_gather, {W * n, P}, core::DType::f32);  // [world*n, padded]
  LLM_RETURN_IF_ERROR(project_rows(hidden, rows, lm_head, ws, local));
  LLM_RETURN_IF_ERROR(spec_.comm->all_gather(local, gathered));
  const float* src = gathered.data<float>();
  if (gathered.device() != core::Device::cpu) {
    gathered_host_.resize(static_cast<size_t>(W * n * P));
    Tensor host = Tensor::view(gathered_host_.data(), {W * n, P}, core::DType::f32);
    LLM_RETURN_IF_ERROR(ops::copy_to_host_f32(gathered, host));
    src = gathered_host_.data();
  }
  const bool device_out = logits.device() != core::Device::cpu;  // device sampling
  if (device_out) logits_host_.resize(static_cast<size_t>(n * full_vocab_));
  float* dst = device_out ? logits_host_.data() : logits.data<float>();
  for (int64_t r = 0; r < W; ++r) {  // rank r's block [n, padded] → columns [r*P, r*P + cols)
    const int64_t cols = std::clamp<int64_t>(full_vocab_ - r * P, 0, P);
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(dst + i * full_vocab_ + r * P, src + (r * n + i) * P,
                  static_cast<size_t>(cols) * sizeof(float));
  }
  if (!device_out) return {};
  Tensor host = Tensor::view(logits_host_.data(), {n, full_vocab_}, core::DType::f32);
  return ops::copy_to_device(host, logits);
}

}  // namespace lightllm::models::layers
