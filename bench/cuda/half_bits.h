// bench/cuda/half_bits.h — f32 <-> the 16-bit image of a bf16 / f16 value for the standalone
// CUDA harnesses (attention_tune, gemv_tune), through core/dtype.h's conversions (round to
// nearest even). Header-only: the harnesses are built with nvcc and g++ alone.
#pragma once

#include <cstdint>

#include "core/dtype.h"

inline uint16_t to_bits(lightllm::core::DType dt, float f) {
  namespace c = lightllm::core;
  return dt == c::DType::bf16 ? c::f32_to_bf16(f).bits : c::f32_to_f16(f).bits;
}
inline float from_bits(lightllm::core::DType dt, uint16_t b) {
  namespace c = lightllm::core;
  return dt == c::DType::bf16 ? c::bf16_to_f32(c::bf16{b}) : c::f16_to_f32(c::f16{b});
}
