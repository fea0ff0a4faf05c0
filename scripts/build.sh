#!/usr/bin/env bash
# Configures and builds LightLLM into ./build (Release, CPU; CUDA when nvcc is found).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${LIGHTLLM_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
