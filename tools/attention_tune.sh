#!/usr/bin/env bash
# tools/attention_tune.sh — build and run bench/cuda/attention_tune.cpp with nvcc alone (for a GPU
# machine with the CUDA toolkit but without the project's -dev libraries).
# Usage (repo root): tools/attention_tune.sh [decode|prefill]   (no argument: both)
# Env: FMT_INCLUDE=dir holding fmt/ and FMT_LIB=dir holding libfmt.so (status.h needs fmt),
#      FMT_HEADER_ONLY=1 to use the fmt headers alone (a copy of /usr/include/fmt; no libfmt),
#      ARCH (default sm_90a), BUILD (default build-tune), NO_RUN=1 to build only, NVCC_DEFS for
#      compile-time tuning knobs (e.g. "-DLIGHTLLM_DECODE_MMA_STAGES16=2"). Compiles in
#      parallel, then runs.
# How run 3 of docs/PERFORMANCE.md was made: built on the Debian 12 dev box
# (NO_RUN=1 tools/attention_tune.sh), then build-tune/attention_tune and
# /usr/lib/x86_64-linux-gnu/libfmt.so.9 copied to the GPU machine and run there with
# LD_LIBRARY_PATH pointing at the copy, followed by bench/cuda/torch_baseline.py decode prefill.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-tune}
ARCH=${ARCH:-sm_90a}
mkdir -p "$BUILD"
CUDA_INC=$(dirname "$(command -v nvcc)")/../include
FLAGS=(-O3 -std=c++17 -arch="$ARCH" -I"$ROOT/src" -lineinfo --expt-relaxed-constexpr
       -Xcompiler -Wall,-Wextra)
[[ -n "${FMT_INCLUDE:-}" ]] && FLAGS+=(-I"$FMT_INCLUDE")
FMT_DEF=()
LIBFMT=(-lfmt)
if [[ "${FMT_HEADER_ONLY:-0}" == 1 ]]; then
  FMT_DEF=(-DFMT_HEADER_ONLY)
  LIBFMT=()
fi
FLAGS+=("${FMT_DEF[@]}")
# shellcheck disable=SC2206  # NVCC_DEFS is a list of -D flags
[[ -n "${NVCC_DEFS:-}" ]] && FLAGS+=(${NVCC_DEFS})
SRCS=(bench/cuda/attention_tune.cpp src/kernels/cuda/decode_attention.cu
      src/kernels/cuda/prefill_attention.cu src/kernels/cuda/prefill_attention_v1.cu
      src/kernels/cuda/prefill_attention_wgmma.cu src/kernels/cuda/prefill_attention_wgmma_pipe.cu
      src/core/status.cpp src/core/dtype.cpp src/backend/cuda/device_buffer.cpp
      src/backend/cuda/cuda_check.cpp)
OBJS=()
pids=()
for s in "${SRCS[@]}"; do
  o="$BUILD/$(basename "$s").o"
  OBJS+=("$o")
  if [[ "$s" == *.cpp ]]; then
    ${CXX:-g++} -O2 -std=c++20 -Wall -Wextra -I"$ROOT/src" -I"$CUDA_INC" \
      ${FMT_INCLUDE:+-I"$FMT_INCLUDE"} "${FMT_DEF[@]}" -c "$ROOT/$s" -o "$o" &
  else
    nvcc "${FLAGS[@]}" -c "$ROOT/$s" -o "$o" &
  fi
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
nvcc -arch="$ARCH" "${OBJS[@]}" -o "$BUILD/attention_tune" ${FMT_LIB:+-L"$FMT_LIB" \
  -Xlinker -rpath="$FMT_LIB"} "${LIBFMT[@]}"
[[ "${NO_RUN:-0}" == 1 ]] || "$BUILD/attention_tune" "$@"
