// src/kernels/cpu/isa.cpp — runtime CPU feature detection and the test/bench override.
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace lightllm::kernels::cpu {
namespace {

Isa detect() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx2) return Isa::scalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (!avx512) return Isa::avx2;
  return __builtin_cpu_supports("avx512bf16") ? Isa::avx512_bf16 : Isa::avx512;
}

Isa limit_from_env() {
  const char* v = std::getenv("LIGHTLLM_CPU_ISA");
  if (v == nullptr) return Isa::avx512_bf16;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512_bf16})
    if (std::strcmp(v, isa_name(i)) == 0) return i;
  return Isa::avx512_bf16;
}

std::atomic<int>& limit() {
  static std::atomic<int> l{static_cast<int>(limit_from_env())};
  return l;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() {
  const int l = limit().load(std::memory_order_relaxed);
  const int d = static_cast<int>(detected_isa());
  return static_cast<Isa>(l < d ? l : d);
}

void set_isa_limit(Isa l) {
  limit().store(static_cast<int>(l), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_bf16: return "avx512_bf16";
  }
  return "?";
}

}  // namespace lightllm::kernels::cpu
