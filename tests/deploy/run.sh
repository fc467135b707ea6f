#!/usr/bin/env bash
# The install in deploy/, tested as written: every tests/deploy/*_test.sh.
#   tests/deploy/run.sh [BIN_DIR]      (BIN_DIR: egressd for the DaemonSet's e2e)
# Needs kubectl, jq, curl and python3; under CI=true a missing one fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for tool in kubectl jq curl python3; do
  if ! command -v "$tool" >/dev/null; then
    if [ -n "${CI:-}" ]; then echo "FAIL: tests/deploy needs $tool" >&2; exit 1; fi
    echo "SKIP: tests/deploy needs $tool" >&2
    exit 77
  fi
done
failed=()
for t in "$here"/*_test.sh; do
  echo "== $(basename "$t")"
  "$t" "$@" || failed+=("$(basename "$t")")
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "tests/deploy: all passed"
