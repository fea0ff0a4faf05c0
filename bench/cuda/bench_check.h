// bench/cuda/bench_check.h — CHECK_OK(expr): a benchmark's way to stop on a failed Status or
// Result (prints file:line and the message, exits 1). Benchmarks are programs, not tests: there
// is nothing to recover, so the first error ends the run. Header-only (attention_tune.cpp is
// built with nvcc alone on the GPU machine).
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    auto _st = (expr);                                                                  \
    if (!_st.ok()) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, _st.to_string().c_str()); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)
