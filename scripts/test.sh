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
cd ..
# A short run of the fuzz targets (scripts/fuzz.sh): the kernel DNS parser's
# user-space twin and the DNS punt learner. A crash or a broken invariant
# fails the run. policy_parse is left out until the out-of-memory input it
# finds within seconds (issue 17) is fixed.
./scripts/fuzz.sh "${EGRESSD_FUZZ_SECONDS:-12}" build-fuzz dns_parse punt_learner > build-fuzz.log 2>&1 \
  || { grep -E -B5 -A30 'ERROR|invariant broken|failed' build-fuzz.log | tail -n 60; echo "test.sh: fuzzing failed" >&2; exit 1; }
grep -E ': stat::(number_of_executed_units|new_units_added)' build-fuzz.log | sed 's/^/fuzz: /'
# What differs by kernel, again on Debian 12's own kernel (6.1) in a qemu
# guest (docs/KERNELS.md): fails under CI, skips (77) without root.
rc=0
./scripts/test-kernel.sh 6.1 --ci || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || { echo "test.sh: tests on kernel 6.1 failed" >&2; exit 1; }
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
