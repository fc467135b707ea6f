#!/usr/bin/env bash
# Cost of per-flow stats + events at connect(), measured side by side in one
# run. Two agents on two sibling cgroup subtrees of a lab (scripts/lib/netlab.sh),
# one with flow stats (the default), one with --no-flow-stats (the .rodata knob
# flow_stats_enabled=0: same programs, flows update and events skipped), both
# ALLOW_ANY. connect_ab_bench (tests/bench/) forks one worker into a workload
# of each, in the lab's workload netns, all pinned to one CPU (taskset), and
# alternates short batches between them (order random per round), so load
# drift on a shared machine hits both sides alike. Per round and kind it
# records ns per connect(), ns per socket()+connect()+close(), and the
# connect4 and sock_release programs' own ns/run from the kernel's BPF
# run-time stats; it prints medians, the median per-round on/off ratio with a
# 95% confidence interval, and the quartiles. Kinds, interleaved:
#   UDP connect() to 192.0.2.10:9, no send: the cheapest connect (worst-case
#     ratio), and what getaddrinfo() does to sort addresses
#   UDP connect() and one send() to 192.0.2.10:9: a known flow's datagram
#   TCP connect() to nginx on 192.0.2.10:80 over a veth (handshake in the caller's softirq)
#   UDP connect() to a new destination every call, no send (an allowed UDP
#     connect is recorded at its first datagram: the slot claim alone)
#   UDP connect() and one send() to a new destination every call (the insert
#     and event, in cgroup_skb/egress: egressd_dns_egress is measured too)
#   TCP connect() to a new address every call (198.18.0.0/15, which the
#     "internet" namespace takes as its own, so nginx answers: a new flow on a
#     connect that sends a packet, as a pod's first call to a host)
# Needs root and a build (BIN=dir to override).
#   scripts/bench/flow_stats.sh [ROUNDS=200] [CPU=last]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-$(pwd)/build/bin}
rounds=${1:-200}
cpu=${2:-$(($(nproc) - 1))}
source scripts/lib/netlab.sh

pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for v in on off; do "$bin/egressd" --uninstall --bpffs "/sys/fs/bpf/egressd-flowbench-$v" >/dev/null 2>&1; done
  lab_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up egd-fsb >/dev/null
ip -n "$LAB-ext" route add local 198.18.0.0/15 dev lo
port=9480
for v in on off; do
  mkdir -p "$LAB_CGROUP/$v/ns/w" "$LAB_DIR/$v"
  cat > "$LAB_DIR/$v/w.yaml" <<YAML
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: w, namespace: ns}
spec: {cgroup: ns/w}
YAML
  flag=; [ $v = off ] && flag=--no-flow-stats
  "$bin/egressd" --policy-dir "$LAB_DIR/$v" --cgroup-root "$LAB_CGROUP/$v" --bpffs "/sys/fs/bpf/egressd-flowbench-$v" \
    --admin-addr 127.0.0.1:$port --dns-server "$LAB_RESOLVER" --access-log "$LAB_DIR/$v.access" --bpf-run-stats $flag \
    >"$LAB_DIR/$v.log" 2>&1 &
  pids+=($!)
  eval "admin_$v=127.0.0.1:$port"
  port=$((port + 1))
done
prog_id() { curl -sf "http://$1/api/v1/status" | jq -r --arg n "$2" '.programs[] | select(.name == $n) | .id'; }
for v in on off; do
  a=$(eval echo \$admin_$v)
  for _ in $(seq 100); do curl -sf "http://$a/readyz" >/dev/null && break; sleep 0.05; done
  curl -sf "http://$a/readyz" >/dev/null || { echo "agent $v not ready: $(tail -n 5 "$LAB_DIR/$v.log")" >&2; exit 1; }
  eval "progs_$v=$(prog_id "$a" egressd_connect4),$(prog_id "$a" egressd_sock_release),$(prog_id "$a" egressd_dns_egress)"
done
# The programs' whole-run cost as /metrics reports it (kernel BPF stats).
metrics_ns() {  # ADMIN PROGRAM -> "runs ns"
  curl -sf "http://$1/metrics" | awk -v p="$2" '
    $1 == "egressd_bpf_program_runs_total{program=\"" p "\"}" { runs = $2 }
    $1 == "egressd_bpf_program_run_seconds_total{program=\"" p "\"}" { secs = $2 }
    END { printf "%d %.0f\n", runs, secs * 1e9 }'
}
declare -A before
for v in on off; do before[$v]=$(metrics_ns "$(eval echo \$admin_$v)" egressd_connect4); done

echo "flow stats on vs off, one run, $(nproc) CPUs, both workers pinned to CPU $cpu, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernel $(uname -r); agents ALLOW_ANY; 'on' = default agent, 'off' = --no-flow-stats"
taskset -c "$cpu" "$bin/connect_ab_bench" --netns "$LAB-wl" \
  --cgroup-a "$LAB_CGROUP/on/ns/w" --label-a on --progs-a "$progs_on" \
  --cgroup-b "$LAB_CGROUP/off/ns/w" --label-b off --progs-b "$progs_off" \
  --prog-names connect4,sock_release,dns_egress --rounds "$rounds" \
  --udp 192.0.2.10:9 --tcp 192.0.2.10:80 --udp-new --udp-send --udp-new-send --tcp-new

echo
echo "connect4 over the whole run, from /metrics (egressd_bpf_program_run*_total):"
for v in on off; do
  after=$(metrics_ns "$(eval echo \$admin_$v)" egressd_connect4)
  awk -v v=$v -v b="${before[$v]}" -v a="$after" 'BEGIN { split(b, x, " "); split(a, y, " ");
    printf "  flow stats %-3s %6.1f ns/run (%d runs)\n", v, (y[2] - x[2]) / (y[1] - x[1]), y[1] - x[1] }'
done
echo "verifier instruction counts:"
curl -s "http://$admin_on/api/v1/status" | jq -r '.programs[] | "  \(.name) \(.verified_insns)"'
