// src/models/kv_storage.cpp — host allocation of the per-layer K/V pool (Token Attention).
#include "models/model.h"

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

}  // namespace lightllm::models
