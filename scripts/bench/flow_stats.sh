#!/usr/bin/env bash
# Cost of per-flow stats + events at connect(), in one run: two agents on two
# sibling cgroup subtrees, one with flow stats (the default) and one with
# --no-flow-stats (the .rodata knob flow_stats_enabled=0: same programs,
# the flows update and events skipped). connect_bench runs in a workload
# cgroup of each, interleaved, ROUNDS times; medians are compared.
# Also prints each program's verifier instruction count.
#   scripts/bench/flow_stats.sh [CALLS=200000] [ROUNDS=7]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-$(pwd)/build/bin}
calls=${1:-200000}
rounds=${2:-7}
cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
tmp=$(mktemp -d)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for v in on off; do
    "$bin/egressd" --uninstall --bpffs "/sys/fs/bpf/egressd-flowbench-$v" >/dev/null 2>&1
    rmdir "$cg/flowbench-$v/ns/w" "$cg/flowbench-$v/ns" "$cg/flowbench-$v" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
port=9480
for v in on off; do
  mkdir -p "$cg/flowbench-$v/ns/w" "$tmp/$v"
  cat > "$tmp/$v/w.yaml" <<YAML
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: w, namespace: ns}
spec: {cgroup: ns/w}
YAML
  flag=; [ $v = off ] && flag=--no-flow-stats
  "$bin/egressd" --policy-dir "$tmp/$v" --cgroup-root "$cg/flowbench-$v" --bpffs "/sys/fs/bpf/egressd-flowbench-$v" \
    --admin-addr 127.0.0.1:$port --dns-server 127.0.0.53 --access-log "$tmp/$v.access" $flag >"$tmp/$v.log" 2>&1 &
  pids+=($!)
  eval "admin_$v=127.0.0.1:$port"
  port=$((port + 1))
done
for v in on off; do
  a=$(eval echo \$admin_$v)
  for _ in $(seq 100); do curl -sf "http://$a/readyz" >/dev/null && break; sleep 0.05; done
done
run_in() {  # cgroup -> ns/connect
  sh -c "echo \$\$ > $1/cgroup.procs; exec $bin/connect_bench 192.0.2.1 9 $calls" | awk '{print $1}'
}
on=(); off=()
for _ in $(seq "$rounds"); do
  on+=("$(run_in "$cg/flowbench-on/ns/w")")
  off+=("$(run_in "$cg/flowbench-off/ns/w")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
echo "connect() ns/call, $rounds interleaved rounds of $calls (UDP connect to an ALLOW_ANY destination):"
echo "  with flow stats+events:    median $m_on  (${on[*]})"
echo "  without (--no-flow-stats): median $m_off  (${off[*]})"
awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "  ratio with/without: %.3f (target <= 1.05)\n", a / b }'
# The programs' own cost from kernel BPF stats (run time / runs), less noisy
# than wall-clock connect() on a busy machine.
for v in on off; do
  a=$(eval echo \$admin_$v)
  curl -s "http://$a/metrics" | awk -v v=$v '
    /^egressd_bpf_program_runs_total\{program="egressd_connect4"\}/ { runs = $2 }
    /^egressd_bpf_program_run_seconds_total\{program="egressd_connect4"\}/ { secs = $2 }
    END { printf "  connect4 program, flow stats %s: %.1f ns/run (%d runs)\n", v, secs * 1e9 / runs, runs }'
done
echo "verifier instruction counts:"
curl -s "http://$admin_on/api/v1/status" | jq -r '.programs[] | "  \(.name) \(.verified_insns)"'
