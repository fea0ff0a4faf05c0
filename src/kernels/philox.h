// src/kernels/philox.h — Philox4x32-10 (Salmon et al., SC'11; the Random123 generator), usable
// from host C++ and CUDA device code alike. Counter-based: the output is a pure function of
// (counter, key), so a sequence's draw number n_generated can be computed anywhere (GPU kernel
// or host fallback) and gives the same number. Known-answer vectors: tests/engine.
//
// The sampling draw for a sequence with seed S at its token number N (0-based) is
// philox_uniform01(S, N): key = S (low word, high word), counter = (N low, N high, 0, 0);
// the double is built from the first two output words (53 bits, [0, 1)).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LLM_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LLM_HOST_DEVICE inline
#endif

namespace lightllm::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

LLM_HOST_DEVICE Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr.v[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * ctr.v[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

// Uniform double in [0, 1) for draw number `counter` of the stream `seed`.
LLM_HOST_DEVICE double philox_uniform01(uint64_t seed, uint64_t counter) {
  const Philox4x32 r = philox4x32_10(
      Philox4x32{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 32 | r.v[1]) >> 11;  // 53 bits
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);               // 2^-53
}

}  // namespace lightllm::kernels
