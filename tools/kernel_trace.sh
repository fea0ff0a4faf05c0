#!/usr/bin/env bash
# tools/kernel_trace.sh — builds bench/cuda/kernel_trace.cpp (a CUPTI injection library: the
# kernel timeline of an unmodified program) and runs a command under it.
# Usage (repo root): tools/kernel_trace.sh OUT.csv COMMAND [ARGS…]
#   e.g. tools/kernel_trace.sh /tmp/t.csv build/lightllm bench decode --model M --device cuda
#   then tools/kernel_trace_report.py /tmp/t.csv
# Env: BUILD (default build-tune) for libkernel_trace.so; CUDA_HOME (default: nvcc's parent).
# CUPTI's header and library are looked for in the toolkit, then in the nvidia-cuda-cupti wheel.
set -euo pipefail
OUT=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-tune}
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
WHEEL=$(python3 -c 'import nvidia.cuda_cupti as m, os; print(list(m.__path__)[0])' 2>/dev/null || true)
INC="" LIB=""
for d in "$CUDA_HOME/include" "$CUDA_HOME/extras/CUPTI/include" ${WHEEL:+"$WHEEL/include"}; do
  [[ -z "$INC" && -f "$d/cupti.h" ]] && INC=$d
done
for d in "$CUDA_HOME/lib64" "$CUDA_HOME/lib" "$CUDA_HOME/extras/CUPTI/lib64" ${WHEEL:+"$WHEEL/lib"}; do
  [[ -z "$LIB" ]] && compgen -G "$d/libcupti.so*" >/dev/null && LIB=$d
done
[[ -n "$INC" && -n "$LIB" ]] || { echo "kernel_trace.sh: CUPTI not found" >&2; exit 2; }
mkdir -p "$BUILD"
SO=$(ls "$LIB"/libcupti.so* | head -1)
g++ -O2 -std=c++17 -shared -fPIC -Wall -Wextra -I"$INC" -I"$CUDA_HOME/include" \
  "$ROOT/bench/cuda/kernel_trace.cpp" "$SO" -Wl,-rpath,"$LIB" -o "$BUILD/libkernel_trace.so"
KERNEL_TRACE_OUT=$OUT CUDA_INJECTION64_PATH=$BUILD/libkernel_trace.so "$@"
