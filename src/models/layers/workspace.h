// src/models/layers/workspace.h — reusable activation buffers for one forward pass, on the
// model's device. Buffers grow to the largest step seen and are then reused, so the hot path
// never allocates once the engine has warmed up. On the CPU the activation dtype is f32; on
// CUDA it is the model's 16-bit dtype (ops.h dtype rules) and the buffers are device memory
// (a failed device allocation logs the error and yields an undefined tensor, which the next
// op reports). Not thread-safe: one Workspace per runner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/ops.h"

namespace lightllm::models {

enum class Buf : int {
  residual,    // [n_tokens, hidden]
  normed,      // [n_tokens, hidden]
  q,           // [n_tokens, n_heads, head_dim]
  k,           // [n_tokens, n_kv_heads, head_dim]
  v,           // [n_tokens, n_kv_heads, head_dim]
  attn_out,    // [n_tokens, n_heads, head_dim]
  proj_out,    // [n_tokens, hidden]
  mlp_out,     // [n_tokens, hidden] (parallel residual: the MLP beside the attention)
  gate,        // [n_tokens, intermediate]
  up,          // [n_tokens, intermediate]
  last_rows,   // [n_logit_rows, hidden]
  step_meta,   // i32, device only: the step's ids, positions, slots and attention metadata
  logit_rows,  // i32 [n_logit_rows], device only
  logits,      // f32 [n_logit_rows, vocab], device only (tensor parallel: [n_logit_rows,
               // vocab slice] on every device)
  tp_gather,   // f32 [world * n_logit_rows, vocab slice]: the ranks' gathered logit slices
  count
};

// The residual form of a layer block on the batch-1 decode path (ops::fused_decode_path, no tensor
// parallelism): residual += block(rms_norm(residual, norm_weight, eps)), with the RMSNorm run
// inside the block's first projection and the add inside its last (layers/attention.h,
// layers/mlp.h).
struct ResidualIo {
  core::Tensor& residual;           // [n_tokens, hidden]
  const core::Tensor& norm_weight;  // [hidden]
  float eps = 1e-6f;
};

// How a layer block (attention, gated MLP) reads its input and writes its output: the plain
// form (norm == nullptr: the block reads h) or ResidualIo's (norm set: the block's first
// projection normalizes h into norm->normed, fused where an op can).
struct BlockIo {
  const core::Tensor& h;         // [n_tokens, hidden] (norm: the residual stream)
  const ops::NormedInput* norm;  // set: the first projection normalizes h first
  core::Tensor& out;             // [n_tokens, hidden]
  bool accumulate;               // out += block, else out = block

  // What the first projection multiplies: norm->normed (once written) or h.
  const core::Tensor& input() const { return norm != nullptr ? norm->normed : h; }
  // The unfused path's RMSNorm of h into norm->normed (nothing without a norm).
  core::Status normalize() const {
    return norm != nullptr ? ops::rms_norm(h, norm->weight, norm->eps, norm->normed)
                           : core::Status{};
  }
};

class Workspace {
 public:
  // Moves the buffers to `device` with activation dtype `act` (drops what was allocated).
  void set_device(core::Device device, core::DType act) {
    device_ = device;
    act_ = act;
    slots_ = {};
  }
  core::Device device() const { return device_; }
  core::DType act_dtype() const { return act_; }

  // A view of buffer `b` with `shape` in the activation dtype, growing its storage as needed.
  core::Tensor get(Buf b, const core::Shape& shape) { return get(b, shape, act_); }
  // The same in an explicit dtype.
  core::Tensor get(Buf b, const core::Shape& shape, core::DType dtype);

  // Host scratch for packing a step's index arrays, and the page-locked buffers they are then
  // copied to the device from.
  std::vector<int32_t>& host_staging() { return staging_; }
  ops::UploadRing& upload_ring() { return upload_; }

  // While frozen, get() never reallocates: a shape that does not fit yields an undefined tensor
  // (logged), which the next op reports. CUDA graphs freeze their workspace after sizing it,
  // because a captured graph keeps using the addresses it was captured with.
  void set_frozen(bool frozen) { frozen_ = frozen; }

 private:
  core::Device device_ = core::Device::cpu;
  core::DType act_ = core::DType::f32;
  std::array<core::Tensor, static_cast<size_t>(Buf::count)> slots_;
  std::vector<int32_t> staging_;
  ops::UploadRing upload_;
  bool frozen_ = false;
};

}  // namespace lightllm::models
