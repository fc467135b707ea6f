#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, kernel
# tests (real BPF programs, real sockets) and end-to-end tests (the real
# agent against real servers in network namespaces). Needs root for the
# kernel and end-to-end tests; under CI=true anything that cannot run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 1200 "$@"
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
