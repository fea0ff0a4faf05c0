#!/usr/bin/env bash
# tools/layer_chain_tune.sh — build and run bench/cuda/layer_chain_tune.cpp (one LLaMA layer's
# batch-1 decode kernels, old vs fused sequence, 32 layers in a CUDA graph) with nvcc alone, for
# a GPU machine with the CUDA toolkit but without the project's -dev libraries.
# Usage (repo root): tools/layer_chain_tune.sh [ctx]
# Env: see tools/nvcc_harness.sh (FMT_INCLUDE, FMT_LIB, FMT_HEADER_ONLY, ARCH, BUILD, NO_RUN).
set -euo pipefail
SRCS="bench/cuda/layer_chain_tune.cpp src/kernels/cuda/gemv.cu src/kernels/cuda/gemv_rows.cu src/kernels/cuda/norm.cu
      src/kernels/cuda/rotary.cu src/kernels/cuda/kv_scatter.cu
      src/kernels/cuda/decode_attention.cu bench/cuda/l2_prefetch.cu src/core/status.cpp
      src/core/dtype.cpp src/backend/cuda/device_buffer.cpp src/backend/cuda/cuda_check.cpp"
exec "$(dirname "$0")/nvcc_harness.sh" layer_chain_tune "$SRCS" "" "$@"
