#!/usr/bin/env bash
# tools/gemv_tune.sh — build and run bench/cuda/gemv_tune.cpp (the skinny GEMM harness) with nvcc
# alone, for a GPU machine with the CUDA toolkit but without the project's -dev libraries.
# Usage (repo root): tools/gemv_tune.sh [check|time|chain]...   (no argument: all three)
# Env: see tools/nvcc_harness.sh (FMT_INCLUDE, FMT_LIB, FMT_HEADER_ONLY, ARCH, BUILD, NO_RUN,
#      NVCC_DEFS).
# How run 5 of docs/PERFORMANCE.md was made: built on the Debian 12 dev box
# (NO_RUN=1 tools/gemv_tune.sh), then build-tune/gemv_tune and
# /usr/lib/x86_64-linux-gnu/libfmt.so.9 copied to the GPU machine and run there with
# LD_LIBRARY_PATH pointing at the copy.
set -euo pipefail
SRCS="bench/cuda/gemv_tune.cpp bench/cuda/bench_l2.cu src/kernels/cuda/gemv.cu src/kernels/cuda/gemv_rows.cu src/kernels/cuda/activation.cu
      src/kernels/cuda/gemm_lt.cpp src/core/status.cpp src/core/dtype.cpp
      src/backend/cuda/device_buffer.cpp src/backend/cuda/cuda_check.cpp"
exec "$(dirname "$0")/nvcc_harness.sh" gemv_tune "$SRCS" "-lcublasLt" "$@"
