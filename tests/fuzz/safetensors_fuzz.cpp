// tests/fuzz/safetensors_fuzz.cpp — libFuzzer target for the loader's parsers.
// The input is parsed as a whole safetensors file (header + data) and every tensor it
// accepts is checked to lie inside the input; the same bytes are also parsed as a
// config.json. Any crash, sanitizer report or out-of-bounds entry is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "models/loader/model_config.h"
#include "models/loader/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightllm::loader;
  auto header = parse_safetensors(data, size, "fuzz.safetensors");
  if (header.ok()) {
    for (const TensorEntry& e : header->entries) {
      if (header->data_start + e.end > size || e.begin > e.end) std::abort();
      // Touch the first and last byte of every accepted tensor (ASan checks the bounds).
      volatile uint8_t sink = 0;
      if (e.end > e.begin)
        sink = data[header->data_start + e.begin] ^ data[header->data_start + e.end - 1];
      (void)sink;
    }
  }
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!j.is_discarded()) {
    auto cfg = parse_model_config(j, "fuzz/config.json");
    (void)cfg;
    auto gen = parse_generation_config(j, "fuzz/generation_config.json");
    (void)gen;
  }
  return 0;
}
