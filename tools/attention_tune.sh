#!/usr/bin/env bash
# tools/attention_tune.sh — build and run bench/cuda/attention_tune.cpp with nvcc alone (for a GPU
# machine with the CUDA toolkit but without the project's -dev libraries).
# Usage (repo root): tools/attention_tune.sh [decode|decode-sweep|prefill|prefill-nocheck] [prefill
#   variants]   (no argument: decode and prefill; see bench/cuda/attention_tune.cpp)
# Env: see tools/nvcc_harness.sh (FMT_INCLUDE, FMT_LIB, FMT_HEADER_ONLY, ARCH, BUILD, NO_RUN,
#      NVCC_DEFS).
# How run 3 of docs/PERFORMANCE.md was made: built on the Debian 12 dev box
# (NO_RUN=1 tools/attention_tune.sh), then build-tune/attention_tune and
# /usr/lib/x86_64-linux-gnu/libfmt.so.9 copied to the GPU machine and run there with
# LD_LIBRARY_PATH pointing at the copy, followed by bench/cuda/torch_baseline.py decode prefill.
set -euo pipefail
SRCS="bench/cuda/attention_tune.cpp bench/cuda/bench_l2.cu src/kernels/cuda/decode_attention.cu
      src/kernels/cuda/prefill_attention.cu src/kernels/cuda/prefill_attention_ws.cu
      src/core/status.cpp src/core/dtype.cpp src/backend/cuda/device_buffer.cpp
      src/backend/cuda/cuda_check.cpp"
exec "$(dirname "$0")/nvcc_harness.sh" attention_tune "$SRCS" "" "$@"
