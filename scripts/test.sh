#!/usr/bin/env bash
# Builds and runs the CPU test suite (everything not labelled `cuda`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build && ctest -LE cuda --output-on-failure -j"$(nproc)"
