// tests/loader/safetensors_test.cpp — one safetensors file: reading every dtype, and every
// malformed-file case giving a clear error (code + file + tensor), never a crash.
#include <gtest/gtest.h>

#include "loader/st_writer.h"
#include "models/loader/safetensors.h"

using namespace lightllm;
using namespace lightllm::loader;
using namespace lightllm::loader::testing;
using core::StatusCode;

namespace {

class SafetensorsTest : public TempDirTest {
 protected:
  // Writes `bytes` to a file and opens it.
  core::Result<SafetensorsFile> open_bytes(const std::string& bytes) {
    write_file(path("t.safetensors"), bytes);
    return SafetensorsFile::open(path("t.safetensors"));
  }
  // Expects opening `bytes` to fail with `code` and a message naming the file and `tensor`.
  void expect_error(const std::string& bytes, StatusCode code, const std::string& tensor = "") {
    auto r = open_bytes(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    EXPECT_NE(r.status().message().find(path("t.safetensors")), std::string::npos)
        << r.status().message();
    if (!tensor.empty()) {
      EXPECT_NE(r.status().message().find("'" + tensor + "'"), std::string::npos)
          << r.status().message();
    }
  }
};

TEST_F(SafetensorsTest, ReadsF32ValuesAsViewThatOutlivesTheFile) {
  const std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.125f};
  core::Tensor t;
  {
    auto f = open_bytes(st_file({{"w", "F32", {2, 3}, to_bytes(w)}}, true, /*metadata=*/true));
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    ASSERT_EQ(f->entries().size(), 1u);  // __metadata__ is not a tensor
    const TensorEntry* e = f->find("w");
    ASSERT_NE(e, nullptr);
    auto r = f->tensor(*e);
    ASSERT_TRUE(r.ok());
    t = *r;
  }  // the SafetensorsFile is gone; the view keeps the mapping alive
  std::filesystem::remove(path("t.safetensors"));
  EXPECT_EQ(t.dtype(), core::DType::f32);
  EXPECT_EQ(t.shape(), core::Shape({2, 3}));
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(t.data<float>()[i], w[i]);
}

TEST_F(SafetensorsTest, ReadsBf16F16AndIntegerDtypes) {
  // Bit patterns with known values: bf16 0x3F80 = 1, 0xC000 = -2, 0x3E00 = 0.125;
  // f16 0x3C00 = 1, 0xC000 = -2, 0x3800 = 0.5.
  const std::vector<uint16_t> bf = {0x3F80, 0xC000, 0x3E00};
  const std::vector<uint16_t> hf = {0x3C00, 0xC000, 0x3800};
  const std::vector<int8_t> i8 = {-128, 0, 127};
  const std::vector<int32_t> i32 = {-7, 1 << 30};
  const std::vector<int64_t> i64 = {-(1LL << 40), 5};
  auto f = open_bytes(st_file({{"bf", "BF16", {3}, to_bytes(bf)},
                               {"hf", "F16", {3}, to_bytes(hf)},
                               {"i8", "I8", {3}, to_bytes(i8)},
                               {"i32", "I32", {2}, to_bytes(i32)},
                               {"i64", "I64", {2, 1}, to_bytes(i64)}}));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto bt = f->tensor(*f->find("bf"));
  ASSERT_TRUE(bt.ok());
  EXPECT_EQ(bt->dtype(), core::DType::bf16);
  const float bf_want[] = {1.0f, -2.0f, 0.125f};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(core::bf16_to_f32(bt->data<core::bf16>()[i]), bf_want[i]);
  auto ht = f->tensor(*f->find("hf"));
  ASSERT_TRUE(ht.ok());
  EXPECT_EQ(ht->dtype(), core::DType::f16);
  const float hf_want[] = {1.0f, -2.0f, 0.5f};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(core::f16_to_f32(ht->data<core::f16>()[i]), hf_want[i]);
  auto t8 = f->tensor(*f->find("i8"));
  ASSERT_TRUE(t8.ok());
  EXPECT_EQ(t8->data<int8_t>()[0], -128);
  EXPECT_EQ(t8->data<int8_t>()[2], 127);
  auto t32 = f->tensor(*f->find("i32"));
  ASSERT_TRUE(t32.ok());
  EXPECT_EQ(t32->data<int32_t>()[1], 1 << 30);
  auto t64 = f->tensor(*f->find("i64"));
  ASSERT_TRUE(t64.ok());
  EXPECT_EQ(t64->shape(), core::Shape({2, 1}));
  EXPECT_EQ(t64->data<int64_t>()[0], -(1LL << 40));
}

TEST_F(SafetensorsTest, MisalignedDataIsCopiedToAnAlignedTensor) {
  const std::vector<float> w = {1.0f, 2.0f, 3.0f};
  // An unpadded header of odd length puts the data at an odd file offset.
  std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  if (header.size() % 4 == 0) header += ' ';
  std::string data(reinterpret_cast<const char*>(w.data()), 12);
  auto f = open_bytes(st_raw(header, data));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto t = f->tensor(*f->find("w"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw()) % 4, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t->data<float>()[i], w[static_cast<size_t>(i)]);
}

TEST_F(SafetensorsTest, ZeroSizedTensorIsAllowed) {
  auto f = open_bytes(st_file(
      {{"empty", "F32", {0, 4}, {}}, {"x", "F32", {1}, to_bytes(std::vector<float>{2.0f})}}));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto t = f->tensor(*f->find("empty"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->numel(), 0);
}

TEST_F(SafetensorsTest, UnsupportedDtypeFailsOnReadNamingTensorAndDtype) {
  auto f = open_bytes(st_file({{"d", "F64", {2}, std::vector<uint8_t>(16, 0)}}));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto t = f->tensor(*f->find("d"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::unimplemented);
  EXPECT_NE(t.status().message().find("'d'"), std::string::npos);
  EXPECT_NE(t.status().message().find("F64"), std::string::npos);
}

TEST_F(SafetensorsTest, RankAboveFourFailsOnRead) {
  auto f = open_bytes(st_file({{"r5", "F32", {1, 1, 1, 1, 2}, std::vector<uint8_t>(8, 0)}}));
  ASSERT_TRUE(f.ok());
  auto t = f->tensor(*f->find("r5"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::unimplemented);
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  auto r = SafetensorsFile::open(path("nope.safetensors"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::not_found);
  EXPECT_NE(r.status().message().find("nope.safetensors"), std::string::npos);
}

TEST_F(SafetensorsTest, FileShorterThanEightBytes) {
  expect_error("", StatusCode::data_loss);
  expect_error("\x05\x00\x00", StatusCode::data_loss);
  expect_error(std::string(7, '\0'), StatusCode::data_loss);
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  expect_error(st_raw("{}", "", 3), StatusCode::data_loss);
  expect_error(st_raw("{}", "", UINT64_MAX - 1), StatusCode::data_loss);
}

TEST_F(SafetensorsTest, MalformedJsonHeader) {
  expect_error(st_raw("{\"w\": {"), StatusCode::data_loss);
  expect_error(st_raw("[1, 2]"), StatusCode::data_loss);
  expect_error(st_raw(std::string("\xff\xfe", 2)), StatusCode::data_loss);
}

TEST_F(SafetensorsTest, BadEntryFieldsNameTheTensor) {
  expect_error(st_raw(R"({"w": 3})"), StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, -4]}})", "abcd"),
               StatusCode::data_loss, "w");
}

TEST_F(SafetensorsTest, DataOffsetsOutOfBounds) {
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", "abcd"),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [1],
                              "data_offsets": [18446744073709551612, 18446744073709551615]}})",
                      "abcd"),
               StatusCode::data_loss, "w");
}

TEST_F(SafetensorsTest, SizeNotMatchingShapeTimesDtype) {
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                      std::string(8, '\0')),
               StatusCode::data_loss, "w");
  expect_error(st_raw(R"({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 8]}})",
                      std::string(8, '\0')),
               StatusCode::data_loss, "w");
  // numel * size overflows 64 bits
  expect_error(st_raw(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296],
                              "data_offsets": [0, 8]}})",
                      std::string(8, '\0')),
               StatusCode::data_loss, "w");
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expect_error(st_raw(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                      std::string(12, '\0')),
               StatusCode::data_loss, "b");
}

}  // namespace
