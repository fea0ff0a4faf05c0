#!/usr/bin/env bash
# tools/nvcc_harness.sh — builds (and runs) one standalone CUDA harness with nvcc and g++ alone,
# for a GPU machine with the CUDA toolkit but without the project's -dev libraries. Run by
# tools/attention_tune.sh and tools/gemv_tune.sh as
#   tools/nvcc_harness.sh NAME "SOURCES…" "EXTRA_LINK_FLAGS" [harness args…]
# Env: FMT_INCLUDE=dir holding fmt/ and FMT_LIB=dir holding libfmt.so (status.h needs fmt),
#      FMT_HEADER_ONLY=1 to use the fmt headers alone (a copy of /usr/include/fmt; no libfmt),
#      ARCH (default sm_90a), BUILD (default build-tune), NO_RUN=1 to build only, NVCC_DEFS for
#      compile-time tuning knobs (e.g. "-DLIGHTLLM_DECODE_MMA_STAGES16=2"). Sources compile in
#      parallel, then BUILD/NAME runs with the remaining arguments.
set -euo pipefail
NAME=$1
# shellcheck disable=SC2206  # word lists (sources may span lines)
SRCS=($2)
# shellcheck disable=SC2206
EXTRA_LINK=(${3:-})
shift 3
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
nvcc -arch="$ARCH" "${OBJS[@]}" -o "$BUILD/$NAME" ${FMT_LIB:+-L"$FMT_LIB" \
  -Xlinker -rpath="$FMT_LIB"} "${LIBFMT[@]}" "${EXTRA_LINK[@]}"
[[ "${NO_RUN:-0}" == 1 ]] || "$BUILD/$NAME" "$@"
