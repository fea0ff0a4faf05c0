// src/kernels/cpu/isa.h — which x86 instruction-set path the CPU kernels take.
// The best path is detected once with __builtin_cpu_supports; tests and benchmarks may lower
// it (set_isa_limit, or the env var LIGHTLLM_CPU_ISA=scalar|avx2|avx512|avx512_bf16) to
// exercise every path on one machine. Fast functions carry per-function target attributes
// (LLM_TARGET_*) so the library itself builds for baseline x86-64.
#pragma once

namespace lightllm::kernels::cpu {

// Ordered: each level implies the ones below it.
enum class Isa { scalar = 0, avx2 = 1, avx512 = 2, avx512_bf16 = 3 };

Isa detected_isa();             // best level this CPU supports
Isa active_isa();               // min(detected, limit)
void set_isa_limit(Isa limit);  // caps active_isa(); thread-safe, affects later calls
const char* isa_name(Isa isa);

}  // namespace lightllm::kernels::cpu

#define LLM_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LLM_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define LLM_TARGET_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))
