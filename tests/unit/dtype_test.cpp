// Exact bf16/f16 conversions: round-to-nearest-even, specials, subnormals.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "core/dtype.h"

using namespace lightllm::core;

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  EXPECT_EQ(dtype_name(DType::f16), "f16");
}

TEST(DType, Bf16RoundTripsEveryBf16Value) {
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const bf16 h{static_cast<uint16_t>(b)};
    const float f = bf16_to_f32(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
      continue;
    }
    EXPECT_EQ(f32_to_bf16(f).bits, h.bits) << b;
  }
}

TEST(DType, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 lies exactly between two bf16 values (1 and 1+2^-7): ties to even (1).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
}

TEST(DType, F16RoundTripsEveryF16Value) {
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const f16 h{static_cast<uint16_t>(b)};
    const float f = f16_to_f32(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f).bits, h.bits) << b;
  }
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(f16{0x3c00}), 1.0f);
  EXPECT_EQ(f16_to_f32(f16{0xc000}), -2.0f);
  EXPECT_EQ(f16_to_f32(f16{0x0001}), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(65520.0f).bits, 0x7c00);               // rounds up to inf
  EXPECT_EQ(f32_to_f16(65504.0f).bits, 0x7bff);               // max finite
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)).bits, 0x0000);  // tie to even -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -26)).bits, 0x0001);
}
