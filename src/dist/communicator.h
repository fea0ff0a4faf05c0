// src/dist/communicator.h — collective operations between the ranks of one tensor-parallel
// group, and the shard a rank loads. Implementations: NcclCommunicator (one GPU per rank, in
// one process with a thread per rank, or one process per host) and FakeCommunicator (ranks are
// threads of one process working on host tensors; CPU tests of the sharding math).
//
// Contract shared by every implementation:
// - Every rank calls the same collectives in the same order with tensors of the same shape and
//   dtype (a mismatch is a programming error; the fake reports it, NCCL may hang).
// - Tensors are contiguous and live where the rank computes: host memory for the fake, the
//   rank's GPU for NCCL. Supported dtypes: f32, bf16, f16 (i32 for broadcast).
// - On CUDA the collective is enqueued on the rank's current compute stream
//   (ops::set_cuda_stream), so it is ordered after the kernels that produced its input and
//   before those that read its output; no host synchronisation is implied.
// - Errors come back as Status (a failed peer, a timeout); the group is then unusable.
#pragma once

#include "core/status.h"
#include "core/tensor.h"

namespace lightllm::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // x <- sum over ranks of x, in place. x: any shape, contiguous.
  virtual core::Status all_reduce_sum(core::Tensor& x) = 0;

  // out <- concat over ranks (rank-major) of x along dim 0.
  // x: [n, ...]; out: [world_size * n, ...], same dtype and trailing shape.
  virtual core::Status all_gather(const core::Tensor& x, core::Tensor& out) = 0;

  // x on every rank <- x of rank `root`.
  virtual core::Status broadcast(core::Tensor& x, int root) = 0;
};

// Which part of the checkpoint a rank holds: rank `rank` of `world` ranks, and the group's
// communicator (nullptr only when world == 1). The default is the whole model on one device.
struct ShardSpec {
  int rank = 0;
  int world = 1;
  Communicator* comm = nullptr;

  bool sharded() const { return world > 1; }
};

}  // namespace lightllm::dist
