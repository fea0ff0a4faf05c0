#include <gtest/gtest.h>

#include "core/status.h"

using namespace lightllm::core;

namespace {
Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("value must be positive, got {}", v);
  return v;
}
Result<int> doubled(int v) {
  LLM_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}
}  // namespace

TEST(Status, OkAndErrorsCarryMessages) {
  EXPECT_TRUE(Status().ok());
  Status s = not_found("tensor '{}' missing in {}", "w", "a.safetensors");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::not_found);
  EXPECT_EQ(s.to_string(), "not_found: tensor 'w' missing in a.safetensors");
  EXPECT_EQ(s.with_context("loading").message(), "loading: tensor 'w' missing in a.safetensors");
}

TEST(Status, ResultPropagates) {
  EXPECT_EQ(doubled(4).value(), 8);
  Result<int> r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
}
