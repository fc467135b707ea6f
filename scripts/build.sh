#!/usr/bin/env bash
# Configures and builds egressd, egressctl and the tests into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
werror=OFF
[ -n "${CI:-}" ] && werror=ON
cmake -S . -B build -DEGRESSD_WERROR="$werror" >/dev/null
cmake --build build -j"$(nproc)"
