#!/usr/bin/env bash
# Installs the build and test dependencies of a fresh Debian 12 machine (apt + pip).
# Safe to run twice. Used by the README's commands and by .ci/run.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ccache \
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev \
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev \
  libpcre2-dev libutf8proc-dev libsentencepiece-dev libboost1.81-dev \
  python3 python3-pip curl >/dev/null
# Python references used only by tests (never by the engine): see tests/requirements.txt.
python3 -m pip install -q -r "$(dirname "$0")/../tests/requirements.txt" 2>/dev/null ||
  python3 -m pip install -q --break-system-packages -r "$(dirname "$0")/../tests/requirements.txt"
