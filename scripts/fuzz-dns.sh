#!/usr/bin/env bash
# Fuzz the user-space twin of the kernel DNS parser (scripts/fuzz.sh dns_parse).
# Usage: scripts/fuzz-dns.sh [SECONDS=30] [BUILD_DIR=build-fuzz]
exec "$(dirname "$0")/fuzz.sh" "${1:-30}" "${2:-$(cd "$(dirname "$0")/.." && pwd)/build-fuzz}" dns_parse
