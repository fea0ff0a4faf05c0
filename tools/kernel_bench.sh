#!/usr/bin/env bash
# tools/kernel_bench.sh — build and run bench/cuda/kernel_bench.cpp with nvcc alone (for a GPU
# machine with the CUDA toolkit but without the project's -dev libraries; the CMake target is
# the usual way). Usage (repo root): tools/kernel_bench.sh [kernel_bench arguments]
# Env: see tools/nvcc_harness.sh (FMT_INCLUDE, FMT_LIB, FMT_HEADER_ONLY, ARCH, BUILD, NO_RUN,
#      NVCC_DEFS: e.g. "-DLIGHTLLM_DECODE_MMA_STAGES16=2" or "-DLIGHTLLM_DECODE_MMA_L2_AHEAD=2"
#      times the decode kernel's knobs in the decode-chain lines).
# How run 15 of docs/PERFORMANCE.md was made: built on the Debian 12 dev box
# (FMT_HEADER_ONLY=1 NO_RUN=1 tools/kernel_bench.sh), the binary carried to the GPU machine and
# run there as `kernel_bench decode`, then bench/cuda/torch_baseline.py decode.
set -euo pipefail
SRCS="bench/cuda/kernel_bench.cpp bench/cuda/bench_l2.cu src/kernels/cuda/decode_attention.cu
      src/kernels/cuda/prefill_attention.cu src/kernels/cuda/prefill_attention_ws.cu
      src/kernels/cuda/gemm_lt.cpp src/core/status.cpp src/core/dtype.cpp
      src/backend/cuda/device_buffer.cpp src/backend/cuda/cuda_check.cpp"
exec "$(dirname "$0")/nvcc_harness.sh" kernel_bench "$SRCS" "-lcublasLt" "$@"
