#!/usr/bin/env bash
# Runs the README's main command (scripts/demo.sh) on the built binaries and
# checks that each step of the seed story had its outcome, and that the demo
# cleaned up after itself.   tests/demo/check.sh BIN_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: check.sh BIN_DIR}
if [ "$(id -u)" -ne 0 ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: the demo needs root" >&2; exit 1; }
  echo "SKIP: the demo needs root" >&2
  exit 77
fi
out=$(BIN=$bin "$root/scripts/demo.sh" 2>&1)
status=$?
failures=0
expect() {  # WHAT PATTERN
  if grep -qE -- "$2" <<<"$out"; then echo "  ok: $1"; else echo "  FAIL: $1 (no /$2/)"; failures=$((failures + 1)); fi
}
[ "$status" -eq 0 ] && echo "  ok: demo.sh exited 0" || { echo "  FAIL: demo.sh exited $status"; failures=$((failures + 1)); }
expect "the registered API reached" '^hello from 192\.0\.2\.10:443'
expect "an exact hostname learned and reached" '^hello from 198\.51\.100\.30:80'
expect "a wildcard hostname learned and reached" '^hello from 198\.51\.100\.31:80'
expect "egressctl dns lists the learned names" '^production\|  +\*\.cdn\.example\.org +198\.51\.100\.31'
expect "an unregistered host refused with EPERM" '^EPERM'
expect "explain says why" 'reason: +not_in_registry'
expect "the gateway saw the app's SNI" '^10\.99\.1\.2 sni=api\.external-service\.com'
expect "the external server saw the gateway" '^10\.99\.0\.3 - - '
expect "getpeername() shows the original address" '^192\.0\.2\.10 443$'
expect "explain says redirected" 'production/web -> 192\.0\.2\.10:443/tcp: redirected'
expect "audit let the call through" '^hello from 198\.51\.100\.66:80'
expect "suggest named the host" '^  - evil\.example\.com$'
expect "the backstop dropped every raw datagram" 'datagrams bytes\): 0 0$'
expect "metrics count the backstop's drops" '^egressd_backstop_dropped_packets_total\{source_namespace="production",source_workload="web"\} 3$'
expect "the suggestion, applied, allowed the call" 'destination_host="evil\.example\.com",destination_port="80",protocol="tcp",verdict="allowed"\} 1$'
expect "cleaned up" '^==> cleaned up'
leftovers=$(ip netns list | grep -c '^egressd-demo' || true)
[ "$leftovers" = 0 ] && [ ! -e /sys/fs/bpf/egressd-demo ] && echo "  ok: no namespace or pin left" ||
  { echo "  FAIL: left $leftovers namespaces, bpffs: $(ls /sys/fs/bpf/egressd-demo 2>/dev/null | wc -l) pins"; failures=$((failures + 1)); }
if [ "$failures" -gt 0 ]; then
  echo "--- demo output:"; echo "$out" | tail -n 80
  exit 1
fi
echo "demo: every step had its outcome"
