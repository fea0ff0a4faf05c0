#!/usr/bin/env bash
# tools/gemv_tune.sh — build and run bench/cuda/gemv_tune.cpp (the skinny GEMM harness) with nvcc
# alone, for a GPU machine with the CUDA toolkit but without the project's -dev libraries.
# Usage (repo root): tools/gemv_tune.sh [check|time|chain]...   (no argument: all three)
# Env: FMT_INCLUDE=dir holding fmt/ and FMT_LIB=dir holding libfmt.so (status.h needs fmt),
#      FMT_HEADER_ONLY=1 to use the fmt headers alone (a copy of /usr/include/fmt; no libfmt),
#      ARCH (default sm_90a), BUILD (default build-tune), NO_RUN=1 to build only. Compiles in
#      parallel, then runs (the same conventions as tools/attention_tune.sh).
# How run 5 of docs/PERFORMANCE.md was made: built on the Debian 12 dev box
# (NO_RUN=1 tools/gemv_tune.sh), then build-tune/gemv_tune and
# /usr/lib/x86_64-linux-gnu/libfmt.so.9 copied to the GPU machine and run there with
# LD_LIBRARY_PATH pointing at the copy.
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
SRCS=(bench/cuda/gemv_tune.cpp src/kernels/cuda/gemv.cu src/kernels/cuda/activation.cu
      src/kernels/cuda/gemm_lt.cpp src/core/status.cpp src/core/dtype.cpp
      src/backend/cuda/device_buffer.cpp src/backend/cuda/cuda_check.cpp)
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
nvcc -arch="$ARCH" "${OBJS[@]}" -o "$BUILD/gemv_tune" ${FMT_LIB:+-L"$FMT_LIB" \
  -Xlinker -rpath="$FMT_LIB"} "${LIBFMT[@]}" -lcublasLt
[[ "${NO_RUN:-0}" == 1 ]] || "$BUILD/gemv_tune" "$@"
