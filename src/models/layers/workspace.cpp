// src/models/layers/workspace.cpp — buffer growth of Workspace (see workspace.h).
#include "models/layers/workspace.h"

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

}  // namespace lightllm::models
