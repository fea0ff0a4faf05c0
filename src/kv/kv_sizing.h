// src/kv/kv_sizing.h — how many bytes one KV slot takes, and how many slots fit in memory.
//
// One slot = one token's K and V for every layer. For f32/f16/bf16 caches that is
// 2 * n_layers * n_kv_heads * head_dim * sizeof(elem). The int8 cache (DESIGN.md §3) stores
// int8 K/V plus one scale per token per head for K and for V:
// 2 * n_layers * n_kv_heads * (head_dim * 1 + scale_bytes), scale_bytes = 4 (f32) or 2 (f16).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/dtype.h"
#include "core/status.h"

namespace lightllm::kv {

struct KvShape {
  int64_t n_layers = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
};

// The element type of the cache, and (int8 only) the scale's type.
struct KvDType {
  core::DType elem = core::DType::bf16;  // f32, f16, bf16 or i8
  core::DType scale = core::DType::f32;  // i8 only: f32 (what the kernels store) or f16
};

// Parses "--kv-cache-dtype": "f32", "f16", "bf16", "int8" ("auto" is resolved by the caller to
// the model's dtype before calling this). "int8" uses f32 scales, as the CPU and CUDA kernels
// store them: 2·d/(d+4) >= 1.9x the bf16 capacity for head_dim d >= 76 (f16 scales would
// reach it from d >= 38; the kernels do not support them yet).
core::Result<KvDType> parse_kv_dtype(std::string_view name);

// Bytes of one slot; an invalid shape or dtype is an invalid_argument naming the field.
core::Result<int64_t> bytes_per_token(const KvShape& shape, const KvDType& dtype);

// Slots that fit in `bytes` (floor), or the error of bytes_per_token().
core::Result<int64_t> tokens_for_bytes(int64_t bytes, const KvShape& shape, const KvDType& dtype);

}  // namespace lightllm::kv
