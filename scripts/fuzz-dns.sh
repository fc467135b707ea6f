#!/usr/bin/env bash
# Fuzz the user-space twin of the kernel DNS parser with libFuzzer.
# Usage: scripts/fuzz-dns.sh [SECONDS=30] [BUILD_DIR=build-fuzz]
# Builds with clang (EGRESSD_FUZZ=ON), seeds the corpus from the shared DNS
# fixtures, runs for SECONDS; crashes land in BUILD_DIR/fuzz-artifacts.
set -euo pipefail
seconds=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build-fuzz}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DEGRESSD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target dns_parse_fuzz dns_fixture_seeds >/dev/null
corpus=$build/fuzz-corpus/dns_parse
mkdir -p "$corpus" "$build/fuzz-artifacts"
"$build/bin/dns_fixture_seeds" "$corpus"
exec "$build/bin/dns_parse_fuzz" -max_total_time="$seconds" -max_len=1400 -print_final_stats=1 \
  -artifact_prefix="$build/fuzz-artifacts/" "$corpus"
