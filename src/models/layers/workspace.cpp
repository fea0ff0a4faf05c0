// src/models/layers/workspace.cpp — buffer growth of Workspace (see workspace.h).
#include "models/layers/workspace.h"

#include <algorithm>

#include "core/log.h"
#include "ops/ops.h"

namespace lightllm::models {

core::Tensor Workspace::get(Buf b, const core::Shape& shape, core::DType dtype) {
  auto& slot = slots_[static_cast<size_t>(b)];
  const size_t bytes = static_cast<size_t>(shape.numel()) * core::dtype_size(dtype);
  if (!slot.defined() || slot.nbytes() < bytes) {
    if (frozen_) {
      LLM_ERROR("workspace buffer {} of {} bytes needed, but the workspace is frozen",
                static_cast<int>(b), bytes);
      return {};
    }
    slot = core::Tensor();  // free first: the old and new buffers need not fit together
    auto grown = ops::empty_on(device_, {static_cast<int64_t>(bytes)}, core::DType::i8);
    if (!grown.ok()) {
      LLM_ERROR("workspace buffer {} of {} bytes: {}", static_cast<int>(b), bytes,
                grown.status().to_string());
      return {};
    }
    slot = std::move(grown).value();
  }
  return core::Tensor::view(slot.raw(), shape, dtype, device_);
}

core::Result<core::Tensor> UploadRing::begin(int64_t n) {
  Buffer& b = buffers_[static_cast<size_t>(turn_)];
  LLM_RETURN_IF_ERROR(b.read.wait());
  if (!b.host.defined() || b.host.numel() < n) {
    LLM_ASSIGN_OR_RETURN(b.host, ops::empty_pinned({std::max<int64_t>(n, 1024)}, core::DType::i32));
  }
  return b.host.rows(0, n);
}

core::Status UploadRing::end() {
  LLM_RETURN_IF_ERROR(buffers_[static_cast<size_t>(turn_)].read.record());
  turn_ = 1 - turn_;
  return {};
}

}  // namespace lightllm::models
