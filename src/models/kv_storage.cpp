// src/models/kv_storage.cpp — allocation of the per-layer K/V pool (Token Attention), on the
// host or on the CUDA device. i8 pools (both devices) carry [capacity, n_kv_heads] f32 K and V
// scales. On CUDA the element dtype is the activation dtype (bf16/f16) or i8.
#include "models/model.h"
#include "ops/ops.h"

namespace lightllm::models {

KvStorage KvStorage::allocate(int n_layers, int64_t capacity, int n_kv_heads, int head_dim,
                              core::DType dtype) {
  KvStorage s;
  s.capacity = capacity;
  s.dtype = dtype;
  s.layers.resize(static_cast<size_t>(n_layers));
  for (auto& layer : s.layers) {
    layer.k = Tensor::empty({capacity, n_kv_heads, head_dim}, dtype);
    layer.v = Tensor::empty({capacity, n_kv_heads, head_dim}, dtype);
    if (dtype == core::DType::i8) {
      layer.k_scale = Tensor::empty({capacity, n_kv_heads}, core::DType::f32);
      layer.v_scale = Tensor::empty({capacity, n_kv_heads}, core::DType::f32);
    }
  }
  return s;
}

Result<KvStorage> KvStorage::allocate_on(core::Device device, int n_layers, int64_t capacity,
                                         int n_kv_heads, int head_dim, core::DType dtype) {
  if (device == core::Device::cpu) return allocate(n_layers, capacity, n_kv_heads, head_dim, dtype);
  if (dtype == core::DType::f32)
    return core::unimplemented("KV cache dtype f32 on CUDA (use the activation dtype or i8)");
  KvStorage s;
  s.capacity = capacity;
  s.dtype = dtype;
  s.layers.resize(static_cast<size_t>(n_layers));
  for (auto& layer : s.layers) {
    LLM_ASSIGN_OR_RETURN(layer.k, ops::empty_on(device, {capacity, n_kv_heads, head_dim}, dtype));
    LLM_ASSIGN_OR_RETURN(layer.v, ops::empty_on(device, {capacity, n_kv_heads, head_dim}, dtype));
    if (dtype == core::DType::i8) {  // one f32 scale per (slot, kv head), as kv_scatter_int8
      LLM_ASSIGN_OR_RETURN(layer.k_scale,
                           ops::empty_on(device, {capacity, n_kv_heads}, core::DType::f32));
      LLM_ASSIGN_OR_RETURN(layer.v_scale,
                           ops::empty_on(device, {capacity, n_kv_heads}, core::DType::f32));
    }
  }
  return s;
}

}  // namespace lightllm::models
