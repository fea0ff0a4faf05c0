// src/dist/nccl_communicator.cpp — NcclCommunicator (see nccl_communicator.h).
#include "dist/nccl_communicator.h"

#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ops/ops.h"

namespace lightllm::dist {

namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId::bytes), "NCCL_UNIQUE_ID_BYTES changed");

core::Status nccl_status(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return {};
  const core::StatusCode code =
      r == ncclInvalidArgument || r == ncclInvalidUsage ? core::StatusCode::invalid_argument
      : r == ncclSystemError || r == ncclRemoteError    ? core::StatusCode::unavailable
                                                        : core::StatusCode::internal;
  return core::error(code, "NCCL {} failed: {} ({})", what, ncclGetErrorString(r),
                     ncclGetLastError(nullptr));
}

core::Result<ncclDataType_t> nccl_dtype(const core::Tensor& t, std::string_view op) {
  switch (t.dtype()) {
    case core::DType::f32: return ncclFloat32;
    case core::DType::bf16: return ncclBfloat16;
    case core::DType::f16: return ncclFloat16;
    case core::DType::i32: return ncclInt32;
    default:
      return core::invalid_argument("{}: {} has an unsupported dtype (f32, bf16, f16, i32)", op,
                                    t.describe());
  }
}

core::Status check_on_device(const core::Tensor& t, std::string_view op) {
  if (!t.defined() || t.device() != core::Device::cuda || !t.is_contiguous())
    return core::invalid_argument("{}: {} must be a contiguous CUDA tensor", op, t.describe());
  return {};
}

}  // namespace

void disable_nvls_unless_set() {
  static std::once_flag once;
  std::call_once(once, [] { ::setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0); });
}

core::Result<NcclUniqueId> nccl_unique_id() {
  disable_nvls_unless_set();
  ncclUniqueId id;
  LLM_RETURN_IF_ERROR(nccl_status(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  NcclUniqueId out;
  std::memcpy(out.bytes.data(), &id, sizeof(id));
  return out;
}

core::Result<std::unique_ptr<NcclCommunicator>> NcclCommunicator::create(const NcclUniqueId& id,
                                                                         int world, int rank) {
  if (world < 1 || rank < 0 || rank >= world)
    return core::invalid_argument("NCCL communicator: rank {} of world {}", rank, world);
  disable_nvls_unless_set();
  ncclUniqueId nid;
  std::memcpy(&nid, id.bytes.data(), sizeof(nid));
  ncclComm_t comm = nullptr;
  LLM_RETURN_IF_ERROR(nccl_status(ncclCommInitRank(&comm, world, nid, rank), "ncclCommInitRank"));
  return std::unique_ptr<NcclCommunicator>(new NcclCommunicator(comm, world, rank));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

core::Status NcclCommunicator::all_reduce_sum(core::Tensor& x) {
  LLM_RETURN_IF_ERROR(check_on_device(x, "all_reduce_sum"));
  LLM_ASSIGN_OR_RETURN(ncclDataType_t dt, nccl_dtype(x, "all_reduce_sum"));
  return nccl_status(
      ncclAllReduce(x.raw(), x.raw(), static_cast<size_t>(x.numel()), dt, ncclSum,
                    static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(ops::cuda_stream())),
      "all_reduce_sum");
}

core::Status NcclCommunicator::all_gather(const core::Tensor& x, core::Tensor& out) {
  LLM_RETURN_IF_ERROR(check_on_device(x, "all_gather"));
  LLM_RETURN_IF_ERROR(check_on_device(out, "all_gather"));
  LLM_ASSIGN_OR_RETURN(ncclDataType_t dt, nccl_dtype(x, "all_gather"));
  if (out.dtype() != x.dtype() || out.numel() != x.numel() * world_ || x.ndim() < 1 ||
      out.ndim() != x.ndim() || out.dim(0) != x.dim(0) * world_)
    return core::invalid_argument("all_gather: out {} must be [{} * x.dim(0), ...] of x {}",
                                  out.describe(), world_, x.describe());
  return nccl_status(
      ncclAllGather(x.raw(), out.raw(), static_cast<size_t>(x.numel()), dt,
                    static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(ops::cuda_stream())),
      "all_gather");
}

core::Status NcclCommunicator::broadcast(core::Tensor& x, int root) {
  LLM_RETURN_IF_ERROR(check_on_device(x, "broadcast"));
  LLM_ASSIGN_OR_RETURN(ncclDataType_t dt, nccl_dtype(x, "broadcast"));
  if (root < 0 || root >= world_)
    return core::invalid_argument("broadcast: root {} of world {}", root, world_);
  return nccl_status(
      ncclBroadcast(x.raw(), x.raw(), static_cast<size_t>(x.numel()), dt, root,
                    static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(ops::cuda_stream())),
      "broadcast");
}

}  // namespace lightllm::dist
