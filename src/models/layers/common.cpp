// src/models/layers/common.cpp — see common.h.
#include "models/layers/common.h"

#include <cstring>

#include "models/loader/model_config.h"

namespace lightllm::models {

Result<ops::RopeConfig> llama_rope_config(const loader::ModelConfig& cfg) {
  ops::RopeConfig r;
  r.theta = cfg.rope_theta;
  r.rotary_dim = static_cast<int>(static_cast<double>(cfg.head_dim) * cfg.partial_rotary_factor);
  r.original_max_position = cfg.max_position_embeddings;
  const loader::RopeScaling& rs = cfg.rope_scaling;
  r.factor = rs.factor;
  switch (rs.type) {
    case loader::RopeType::none: break;
    case loader::RopeType::linear: r.scaling = ops::RopeScaling::linear; break;
    case loader::RopeType::dynamic: r.scaling = ops::RopeScaling::dynamic_ntk; break;
    case loader::RopeType::llama3:
      r.scaling = ops::RopeScaling::llama3;
      r.original_max_position = rs.original_max_position_embeddings;
      r.low_freq_factor = rs.low_freq_factor;
      r.high_freq_factor = rs.high_freq_factor;
      break;
    default:
      return core::unimplemented("{}: rope_scaling type '{}' is not supported by this model",
                                 cfg.path, rs.type_name);
  }
  return r;
}

Tensor small_weight_f32(const Tensor& w) {
  if (!w.defined() || w.dtype() == core::DType::f32 || w.device() != core::Device::cpu) return w;
  Tensor out = Tensor::empty(w.shape(), core::DType::f32);
  float* dst = out.data<float>();
  const int64_t n = w.numel();
  if (w.dtype() == core::DType::bf16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = core::bf16_to_f32(w.data<core::bf16>()[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = core::f16_to_f32(w.data<core::f16>()[i]);
  }
  return out;
}

Status lm_head_rows(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                    Workspace& ws, Tensor& logits) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t h = hidden.dim(1);
  if (logits.dim(0) != n || logits.dim(1) != lm_head.dim(0))
    return core::internal_error("logits buffer {} does not fit {} rows x vocab {}",
                                logits.describe(), n, lm_head.dim(0));
  if (n == 0) return {};
  if (hidden.device() == core::Device::cuda) {
    // Gather the rows on the device (the embedding kernel is a row gather), project them to
    // f32 logits there, and bring those to the host for the sampler.
    Tensor rows_dev = ws.get(Buf::logit_rows, {n}, core::DType::i32);
    Tensor rows_host = Tensor::view(const_cast<int32_t*>(rows.data()), {n}, core::DType::i32);
    LLM_RETURN_IF_ERROR(ops::copy_to_device(rows_host, rows_dev));
    Tensor last = ws.get(Buf::last_rows, {n, h});
    LLM_RETURN_IF_ERROR(ops::embedding(hidden, rows_dev, last));
    Tensor dev_logits = ws.get(Buf::logits, {n, lm_head.dim(0)}, core::DType::f32);
    LLM_RETURN_IF_ERROR(ops::matmul(last, lm_head, Tensor(), dev_logits));
    return ops::copy_to_host_f32(dev_logits, logits);
  }
  Tensor last = ws.get(Buf::last_rows, {n, h});
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(last.data<float>() + i * h, hidden.data<float>() + int64_t{rows[i]} * h,
                static_cast<size_t>(h) * sizeof(float));
  }
  return ops::matmul(last, lm_head, Tensor(), logits);
}

}  // namespace lightllm::models
