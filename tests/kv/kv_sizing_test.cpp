// tests/kv/kv_sizing_test.cpp — bytes per KV slot and capacity at equal memory.
#include <gtest/gtest.h>

#include "kv/kv_sizing.h"

namespace lightllm::kv {
namespace {

TEST(KvSizing, BytesPerToken) {
  const KvShape llama7b{32, 32, 128};
  // bf16: 2 (K,V) * 32 layers * 32 heads * 128 * 2 bytes = 524288.
  EXPECT_EQ(*bytes_per_token(llama7b, *parse_kv_dtype("bf16")), 2 * 32 * 32 * 128 * 2);
  EXPECT_EQ(*bytes_per_token(llama7b, *parse_kv_dtype("f32")), 2 * 32 * 32 * 128 * 4);
  // int8 + one f32 scale per token per head (what the kernels store): 2 * 32 * 32 * (128 + 4);
  // with f16 scales + 2.
  EXPECT_EQ(*bytes_per_token(llama7b, *parse_kv_dtype("int8")), 2 * 32 * 32 * 132);
  EXPECT_EQ(*bytes_per_token(llama7b, {core::DType::i8, core::DType::f16}), 2 * 32 * 32 * 130);
  EXPECT_FALSE(bytes_per_token(llama7b, {core::DType::i8, core::DType::bf16}).ok());
}

TEST(KvSizing, Int8NearlyDoublesCapacity) {
  const int64_t mem = int64_t{8} << 30;
  // head_dim 128 (Llama-2/3, Mistral, Qwen2-7B): 2*128/(128+4) = 1.94x the bf16 capacity.
  const KvShape llama3{32, 8, 128};
  const int64_t bf16 = *tokens_for_bytes(mem, llama3, *parse_kv_dtype("bf16"));
  const int64_t i8 = *tokens_for_bytes(mem, llama3, *parse_kv_dtype("int8"));
  EXPECT_GE(static_cast<double>(i8) / static_cast<double>(bf16), 1.9);
  EXPECT_EQ(bf16, mem / (2 * 32 * 8 * 128 * 2));
  // head_dim 64 (TinyLlama-like): f32 scales give 2*64/68 = 1.88x; f16 scales would give 1.94x.
  const KvShape tiny{22, 4, 64};
  const double r64 = static_cast<double>(*tokens_for_bytes(mem, tiny, *parse_kv_dtype("int8"))) /
                     static_cast<double>(*tokens_for_bytes(mem, tiny, *parse_kv_dtype("bf16")));
  EXPECT_NEAR(r64, 128.0 / 68.0, 1e-3);
}

TEST(KvSizing, BadInputsNameTheField) {
  EXPECT_NE(parse_kv_dtype("fp8").status().message().find("kv_cache_dtype"), std::string::npos);
  EXPECT_NE(bytes_per_token({0, 1, 1}, {}).status().message().find("n_layers"), std::string::npos);
  EXPECT_NE(bytes_per_token({1, 0, 1}, {}).status().message().find("n_kv_heads"),
            std::string::npos);
  EXPECT_NE(bytes_per_token({1, 1, 0}, {}).status().message().find("head_dim"), std::string::npos);
  EXPECT_FALSE(tokens_for_bytes(-1, {1, 1, 1}, {}).ok());
}

}  // namespace
}  // namespace lightllm::kv
