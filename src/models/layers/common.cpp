// src/models/layers/common.cpp — see common.h.
#include "models/layers/common.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/loader/model_config.h"
#include "ops/ops.h"

namespace lightllm::models {

namespace {

// transformers _compute_longrope_parameters (Phi-3 "su" / "longrope"): factors from
// rope_scaling; when config.json has original_max_position_embeddings (Phi-3 does), the
// scaling factor is max_position_embeddings / original_max_position_embeddings; the
// attention factor defaults to sqrt(1 + ln(factor) / ln(original_max)) (1 when factor <= 1).
Status longrope_config(const loader::ModelConfig& cfg, ops::RopeConfig& r) {
  const nlohmann::json& rs = cfg.raw.at("rope_scaling");
  auto factors = [&](const char* key, std::vector<float>& out) -> Status {
    auto it = rs.find(key);
    if (it == rs.end() || !it->is_array())
      return core::invalid_argument("{}: rope_scaling.{} must be a list of numbers", cfg.path, key);
    for (const auto& v : *it) {
      if (!v.is_number())
        return core::invalid_argument("{}: rope_scaling.{} must be a list of numbers", cfg.path,
                                      key);
      out.push_back(v.get<float>());
    }
    if (static_cast<int>(out.size()) != r.rotary_dim / 2)
      return core::invalid_argument(
          "{}: rope_scaling.{} has {} entries, expected rotary_dim/2 = {}", cfg.path, key,
          out.size(), r.rotary_dim / 2);
    return {};
  };
  LLM_RETURN_IF_ERROR(factors("short_factor", r.short_factor));
  LLM_RETURN_IF_ERROR(factors("long_factor", r.long_factor));
  double factor = cfg.rope_scaling.factor;
  int64_t orig = cfg.max_position_embeddings;
  auto top = cfg.raw.find("original_max_position_embeddings");
  if (top != cfg.raw.end() && top->is_number_integer() && top->get<int64_t>() > 0) {
    orig = top->get<int64_t>();
    factor = static_cast<double>(cfg.max_position_embeddings) / static_cast<double>(orig);
  }
  if (orig <= 0)
    return core::invalid_argument("{}: longrope needs max_position_embeddings", cfg.path);
  r.original_max_position = orig;
  auto af = rs.find("attention_factor");
  if (af != rs.end() && af->is_number()) {
    r.attention_factor = af->get<double>();
  } else {
    r.attention_factor =
        factor <= 1.0 ? 1.0
                      : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(orig)));
  }
  r.scaling = ops::RopeScaling::longrope;
  return {};
}

}  // namespace

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
    case loader::RopeType::longrope: {
      LLM_RETURN_IF_ERROR(longrope_config(cfg, r));
      break;
    }
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

Status project_rows(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                    Workspace& ws, Tensor& out) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t h = hidden.dim(1);
  Tensor last = ws.get(Buf::last_rows, {n, h});
  if (hidden.device() == core::Device::cuda) {
    // Gather the rows on the device (the embedding kernel is a row gather).
    Tensor rows_dev = ws.get(Buf::logit_rows, {n}, core::DType::i32);
    Tensor rows_host = Tensor::view(const_cast<int32_t*>(rows.data()), {n}, core::DType::i32);
    LLM_RETURN_IF_ERROR(ops::copy_to_device(rows_host, rows_dev));
    LLM_RETURN_IF_ERROR(ops::embedding(hidden, rows_dev, last));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(last.data<float>() + i * h, hidden.data<float>() + int64_t{rows[i]} * h,
                  static_cast<size_t>(h) * sizeof(float));
    }
  }
  return ops::matmul(last, lm_head, Tensor(), out);
}

Status lm_head_rows(const Tensor& hidden, const std::vector<int32_t>& rows, const Tensor& lm_head,
                    Workspace& ws, Tensor& logits) {
  const int64_t n = static_cast<int64_t>(rows.size());
  if (logits.dim(0) != n || logits.dim(1) != lm_head.dim(0))
    return core::internal_error("logits buffer {} does not fit {} rows x vocab {}",
                                logits.describe(), n, lm_head.dim(0));
  if (n == 0) return {};
  // On the CPU, or logits wanted on the device (device sampling): the GEMM writes them directly.
  if (hidden.device() != core::Device::cuda || logits.device() == core::Device::cuda)
    return project_rows(hidden, rows, lm_head, ws, logits);
  // Project to f32 logits on the device and bring those to the host for the sampler.
  Tensor dev_logits = ws.get(Buf::logits, {n, lm_head.dim(0)}, core::DType::f32);
  LLM_RETURN_IF_ERROR(project_rows(hidden, rows, lm_head, ws, dev_logits));
  return ops::copy_to_host_f32(dev_logits, logits);
}

core::DType device_act_dtype(core::DType weight_dtype) {
  return weight_dtype == core::DType::f16 ? core::DType::f16 : core::DType::bf16;
}

Status WeightUploader::upload(Tensor& t) {
  if (!t.defined()) return {};
  auto it = done_.find({static_cast<const void*>(t.raw()), t.dtype()});
  if (it != done_.end()) {
    const Tensor& host = it->second.first;
    const Tensor& dev = it->second.second;
    if (t.shape() == host.shape()) {
      t = dev;
      return {};
    }
    const std::vector<int64_t> ts = t.shape().to_vector(), hs = host.shape().to_vector();
    // A view of the leading rows of a tensor already uploaded (a tied lm_head of a
    // tensor-parallel shard: the embedding shard without its trailing zero row).
    if (t.ndim() == host.ndim() && t.ndim() >= 1 && t.dim(0) <= host.dim(0) && t.is_contiguous() &&
        host.is_contiguous() && std::equal(ts.begin() + 1, ts.end(), hs.begin() + 1)) {
      t = dev.rows(0, t.dim(0));
      return {};
    }
  }
  LLM_ASSIGN_OR_RETURN(Tensor dev, ops::to_device(t, device_, act_));
  bytes_ += static_cast<int64_t>(dev.nbytes());
  done_.insert_or_assign({static_cast<const void*>(t.raw()), t.dtype()}, std::make_pair(t, dev));
  t = std::move(dev);
  return {};
}

Status WeightUploader::upload_fused(std::initializer_list<Tensor*> parts) {
  const Tensor* first = nullptr;
  bool stackable = parts.size() > 0;
  for (Tensor* t : parts) {
    if (!t->defined() || !t->is_contiguous() || t->ndim() < 1 ||
        done_.count({static_cast<const void*>(t->raw()), t->dtype()}) != 0) {
      stackable = false;
      break;
    }
    if (first == nullptr) first = t;
    bool same = t->ndim() == first->ndim();
    for (int d = 1; same && d < t->ndim(); ++d) same = t->dim(d) == first->dim(d);
    stackable = stackable && same;
  }
  if (!stackable) {
    for (Tensor* t : parts) LLM_RETURN_IF_ERROR(upload(*t));
    return {};
  }
  core::Shape shape = first->shape();
  shape[0] = 0;
  for (Tensor* t : parts) shape[0] += t->dim(0);
  // Stacked on the host in the activation dtype, then one upload (to_device: the same
  // synchronous copy as every other weight).
  Tensor host = Tensor::empty(shape, act_);
  int64_t row0 = 0;
  for (Tensor* t : parts) {
    LLM_ASSIGN_OR_RETURN(const Tensor conv, ops::to_device(*t, core::Device::cpu, act_));
    std::memcpy(host.rows(row0, t->dim(0)).raw(), conv.raw(), conv.nbytes());
    row0 += t->dim(0);
  }
  LLM_ASSIGN_OR_RETURN(const Tensor fused, ops::to_device(host, device_, act_));
  row0 = 0;
  for (Tensor* t : parts) {
    Tensor dst = fused.rows(row0, t->dim(0));
    row0 += t->dim(0);
    done_.insert_or_assign({static_cast<const void*>(t->raw()), t->dtype()},
                           std::make_pair(*t, dst));
    *t = std::move(dst);
  }
  bytes_ += static_cast<int64_t>(fused.nbytes());
  return {};
}

Tensor stacked_rows(std::initializer_list<const Tensor*> parts) {
  if (parts.size() == 0) return {};
  const Tensor& first = **parts.begin();
  const char* next = static_cast<const char*>(first.raw());
  int64_t rows = 0;
  for (const Tensor* t : parts) {
    if (!t->defined() || !t->is_contiguous() || t->ndim() != first.ndim() ||
        t->dtype() != first.dtype() || t->device() != first.device() || t->raw() != next)
      return {};
    for (int d = 1; d < t->ndim(); ++d)
      if (t->dim(d) != first.dim(d)) return {};
    next += t->nbytes();
    rows += t->dim(0);
  }
  core::Shape shape = first.shape();
  shape[0] = rows;
  return Tensor::view(first.raw(), shape, first.dtype(), first.device());
}

}  // namespace lightllm::models
