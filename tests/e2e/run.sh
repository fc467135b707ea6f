#!/usr/bin/env bash
# End-to-end tests: the real egressd binary, real programs attached to a test
# cgroup subtree, real clients and servers in network namespaces.
#   tests/e2e/run.sh BIN_DIR [CASE...]     (cases: tests/e2e/cases/*.sh)
# Needs root; under CI=true a missing privilege fails instead of skipping.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export EGRESSD_BIN=${1:?usage: run.sh BIN_DIR [CASE...]}
shift

if [ "$(id -u)" -ne 0 ] || [ -z "$(awk '$9 == "cgroup2"' /proc/self/mountinfo)" ]; then
  msg="e2e: needs root and a cgroup v2 mount"
  if [ -n "${CI:-}" ]; then echo "FAIL: $msg" >&2; exit 1; fi
  echo "SKIP: $msg" >&2
  exit 77
fi

cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(cd "$here/cases" && ls ./*.sh | sed 's|^\./||; s|\.sh$||')
[ ${#cases[@]} -gt 0 ] || { echo "FAIL: e2e: no cases found in $here/cases" >&2; exit 1; }

failed=()
for c in "${cases[@]}"; do
  start=$(date +%s%N)
  if bash "$here/case.sh" "$here/cases/$c.sh"; then
    printf 'PASS %-28s %5d ms\n' "$c" $(( ($(date +%s%N) - start) / 1000000 ))
  else
    printf 'FAIL %-28s %5d ms\n' "$c" $(( ($(date +%s%N) - start) / 1000000 ))
    failed+=("$c")
  fi
done
echo "e2e: $(( ${#cases[@]} - ${#failed[@]} ))/${#cases[@]} cases passed"
[ ${#failed[@]} -eq 0 ]
