// src/dist/nccl_communicator.h — Communicator over NCCL: one communicator per rank, one GPU
// per rank; ranks are threads of one process (one per local GPU) and/or processes on several
// hosts. Built only with LIGHTLLM_CUDA and NCCL (LIGHTLLM_NCCL).
//
// Creation: rank 0's process makes a NcclUniqueId (nccl_unique_id) and hands it to every
// rank: in one process by sharing the value, across hosts over the TCP rendezvous
// (tcp_channel.h). Each rank's thread then selects its device (ops::set_cuda_device) and
// calls NcclCommunicator::create, which blocks until all `world` ranks joined.
// Collectives are enqueued on the calling thread's current stream (ops::cuda_stream), with no
// host synchronisation. Dtypes: f32, bf16, f16, i32 (all four collectives).
// NCCL_NVLS_ENABLE is set to 0 before NCCL starts unless the environment already sets it
// (NVLink multicast is not allowed on the GPU machines we use).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "dist/communicator.h"

namespace lightllm::dist {

// ncclUniqueId's bytes (NCCL_UNIQUE_ID_BYTES == 128), kept opaque so nccl.h stays private.
struct NcclUniqueId {
  std::array<uint8_t, 128> bytes{};
};

// A fresh id (ncclGetUniqueId); also starts NCCL's bootstrap listener in this process.
core::Result<NcclUniqueId> nccl_unique_id();

class NcclCommunicator final : public Communicator {
 public:
  // Rank `rank` of `world` on the calling thread's current CUDA device.
  static core::Result<std::unique_ptr<NcclCommunicator>> create(const NcclUniqueId& id, int world,
                                                                int rank);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  core::Status all_reduce_sum(core::Tensor& x) override;
  core::Status all_gather(const core::Tensor& x, core::Tensor& out) override;
  core::Status broadcast(core::Tensor& x, int root) override;

 private:
  NcclCommunicator(void* comm, int world, int rank) : comm_(comm), world_(world), rank_(rank) {}
  void* comm_;  // ncclComm_t
  int world_;
  int rank_;
};

// Sets NCCL_NVLS_ENABLE=0 unless the environment has it (call before any NCCL call; also
// done by nccl_unique_id and create).
void disable_nvls_unless_set();

}  // namespace lightllm::dist
