// src/kv/kv_sizing.cpp — slot size and pool capacity arithmetic; see kv_sizing.h.
#include "kv/kv_sizing.h"

namespace lightllm::kv {

core::Result<KvDType> parse_kv_dtype(std::string_view name) {
  if (name == "f32" || name == "float32") return KvDType{core::DType::f32, core::DType::f32};
  if (name == "f16" || name == "float16") return KvDType{core::DType::f16, core::DType::f32};
  if (name == "bf16" || name == "bfloat16") return KvDType{core::DType::bf16, core::DType::f32};
  if (name == "int8") return KvDType{core::DType::i8, core::DType::f32};
  return core::invalid_argument("kv_cache_dtype must be one of f32, f16, bf16, int8, got \"{}\"",
                                name);
}

core::Result<int64_t> bytes_per_token(const KvShape& s, const KvDType& d) {
  if (s.n_layers <= 0) return core::invalid_argument("n_layers must be > 0, got {}", s.n_layers);
  if (s.n_kv_heads <= 0) {
    return core::invalid_argument("n_kv_heads must be > 0, got {}", s.n_kv_heads);
  }
  if (s.head_dim <= 0) return core::invalid_argument("head_dim must be > 0, got {}", s.head_dim);
  const int64_t heads = 2 * s.n_layers * s.n_kv_heads;  // K and V
  switch (d.elem) {
    case core::DType::f32:
    case core::DType::f16:
    case core::DType::bf16:
      return heads * s.head_dim * static_cast<int64_t>(core::dtype_size(d.elem));
    case core::DType::i8: {
      if (d.scale != core::DType::f32 && d.scale != core::DType::f16) {
        return core::invalid_argument("int8 KV scale dtype must be f32 or f16, got {}",
                                      core::dtype_name(d.scale));
      }
      return heads * (s.head_dim + static_cast<int64_t>(core::dtype_size(d.scale)));
    }
    default:
      return core::invalid_argument("KV cache element dtype must be f32, f16, bf16 or i8, got {}",
                                    core::dtype_name(d.elem));
  }
}

core::Result<int64_t> tokens_for_bytes(int64_t bytes, const KvShape& shape, const KvDType& dtype) {
  LLM_ASSIGN_OR_RETURN(const int64_t per, bytes_per_token(shape, dtype));
  if (bytes < 0) return core::invalid_argument("KV memory bytes must be >= 0, got {}", bytes);
  return bytes / per;
}

}  // namespace lightllm::kv
