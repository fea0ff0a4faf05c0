// src/models/layers/tensor_parallel.h — one rank's part of a tensor-parallel model: slicing
// the weights at load (dist/sharding.h says which rows each rank holds) and the collectives of
// the forward pass.
// Weights (W [out, in] as in HF Linear):
// - column-parallel (q/k/v, gate/up, their biases, per-head q/k norms): rows of the rank's
//   heads / intermediate slice — views into the checkpoint (rows are contiguous);
// - row-parallel (o, down): the rank's columns — a copy of just that slice; their bias stays
//   on rank 0 only, so the all_reduce_sum after them adds it once;
// - embedding / lm_head: vocab-parallel. The embedding becomes [padded + 1, hidden]: the rank's
//   vocab rows, zero padding, then one zero row that every id outside the shard is mapped to
//   (so out-of-shard ids embed to zeros without a special kernel) before the all_reduce.
//   lm_head is [padded, hidden] (the first rows of the embedding shard when tied); each rank
//   projects its vocab slice and an all_gather assembles the full [rows, vocab] logits on
//   every rank.
// World 1 (spec not sharded): nothing is sliced and every forward helper is the plain op with
// no copy and no collective.
#pragma once

#include <string_view>
#include <vector>

#include "dist/communicator.h"
#include "dist/sharding.h"
#include "models/layers/attention.h"
#include "models/layers/mlp.h"
#include "models/layers/workspace.h"
#include "models/model.h"

namespace lightllm::models::layers {

// A copy of columns [col0, col0 + n) of a 2-D weight [rows, cols] (any dtype): [rows, n].
Tensor copy_columns(const Tensor& w, int64_t col0, int64_t n);

// Bytes of the distinct tensors in `ts` (tensors sharing a data pointer count once).
int64_t distinct_bytes(const std::vector<const Tensor*>& ts);
// Bytes of the look-up table `table` (embedding, learned positions: [rows, width]) that a step
// looking up `rows_read` rows leaves unread; 0 when the table is also read whole as the lm_head
// (tied: same data) or is undefined.
int64_t unread_table_bytes(const Tensor& table, const Tensor& lm_head, int64_t rows_read);

class TensorParallel {
 public:
  // The whole model (world 1).
  TensorParallel() = default;
  // Checks that the shapes split over spec.world ranks (invalid_argument naming `arch` and the
  // numbers otherwise) and derives this rank's heads and vocab slice.
  static Result<TensorParallel> make(const dist::ShardSpec& spec, std::string_view arch,
                                     int n_heads, int n_kv_heads, int64_t vocab);

  bool sharded() const { return spec_.sharded(); }
  const dist::ShardSpec& spec() const { return spec_; }
  const dist::HeadShard& heads() const { return heads_; }
  const dist::VocabShard& vocab() const { return vocab_; }

  // --- load: in-place slicing of full (view) weights into this rank's part ---
  // q/k/v rows of the rank's heads (unless `qkv_done`: a family that split a per-head fused
  // projection itself), o columns, biases; q_norm / k_norm rows.
  Status shard_attention(AttentionWeights& w, int head_dim, bool qkv_done = false) const;
  // gate/up rows and biases, down columns (intermediate must divide by the world size).
  Status shard_mlp(GatedMlpWeights& w) const;
  // embed [vocab, hidden] → [padded + 1, hidden] copy; lm_head → [padded, hidden] (the first
  // rows of the new embedding when `tied`, else a view, or a zero-padded copy of the rank's rows).
  Status shard_vocab(Tensor& embed, Tensor& lm_head, bool tied) const;
  // The per-rank heads in a ModelShape (what the rank's KV pool is sized with).
  void shard_shape(ModelShape& s) const;
  // The rank's entries of a per-head vector (ALiBi slopes) [n_heads] → [n_q].
  std::vector<float> local_heads(const std::vector<float>& per_head) const;

  // --- forward ---
  // The step's token ids as rows of the embedding shard (ids outside → the zero row); batch
  // as is when not sharded. Errors on ids outside [0, vocab). Reuses a buffer of this object.
  Result<StepBatch> local_token_ids(const StepBatch& batch);
  // x <- sum over ranks of x (no-op when not sharded).
  Status all_reduce(Tensor& x) const {
    return sharded() ? spec_.comm->all_reduce_sum(x) : Status{};
  }
  // logits [rows.size(), vocab] f32 from this rank's lm_head slice: project, gather the ranks'
  // slices, drop the padding. lm_head_rows when not sharded. The slices are interleaved into
  // [rows, vocab] on the host; logits on the device (device sampling) are then copied up (a
  // device-side interleave would save that round trip).
  Status lm_head(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                 Workspace& ws, Tensor& logits);

 private:
  dist::ShardSpec spec_;
  dist::HeadShard heads_;
  dist::VocabShard vocab_;
  int64_t full_vocab_ = 0;
  std::vector<int32_t> ids_;          // local_token_ids' buffer
  std::vector<float> gathered_host_;  // [world * rows, padded] (CUDA: the gathered logits)
  std::vector<float> logits_host_;    // [rows, vocab] (logits wanted on the device)
};

}  // namespace lightllm::models::layers
