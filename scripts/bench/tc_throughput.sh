#!/usr/bin/env bash
# TCP throughput through a workload's host-side veth with the TC programs vs
# without, in one run (target: with >= 0.95 x without).
# One pod-like workload (lab_pod: its own netns, eth0 <-> <lab>-v1 in the
# "internet" netns) in a REGISTRY_ONLY mesh whose ServiceEntry allows
# 192.0.2.10:5201, where `iperf3 -s` listens; the socket hooks stay on
# throughout, only the TC programs come and go.
#  1. The agent attaches its tcx links (--tc-mode auto); one iperf3 test each
#     way checks the bytes TC counts on the flow against iperf3's.
#  2. The agent stops (its pinned links, programs and maps stay). For each
#     direction, one long iperf3 stream runs while tc_ab_bench (tests/bench/)
#     cycles the interface through none / a pass-through tcx program (the
#     hook's own cost) / egressd's programs, in short windows, order shuffled
#     per cycle, so the machine's drift hits all three alike.
#       -c   the workload sends (egressd_tc_from_pod on tcx ingress)
#       -R   the workload receives (egressd_tc_to_pod on tcx egress)
# Prints (per-cycle rates with VERBOSE=1) the median egressd/none and hook/none ratios with a
# 95% confidence interval, and the programs' ns/run.
# Client and server are pinned to CLIENT_CPU and SERVER_CPU (default 0 and 1;
# the same CPU makes the test CPU-bound on one CPU, the programs' worst case,
# and free of the cross-CPU reordering retransmits a 2-vCPU guest shows).
# Needs root, iperf3 and a build (BIN=dir to override).
#   scripts/bench/tc_throughput.sh [CYCLES=60] [WINDOW_MS=300]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${BIN:-$root/build/bin}
cycles=${1:-60}
window_ms=${2:-300}
settle_ms=150
secs=3  # the byte-count check
# CPUs for the iperf3 client (in the workload) and the server.
client_cpu=${CLIENT_CPU:-0}
server_cpu=${SERVER_CPU:-1}
source scripts/lib/netlab.sh

bpffs=/sys/fs/bpf/egressd-tcbench
admin=127.0.0.1:9485  # flow_stats.sh has 9480-9481
server=192.0.2.10
port=5201
agent_pid=
iperf_pid=
cleanup() {
  set +e
  [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  "$bin/egressd" --uninstall --bpffs "$bpffs" >/dev/null 2>&1
  lab_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up egd-tcb >/dev/null
lab_pod production/web 1 >/dev/null
policy=$LAB_DIR/policy
mkdir -p "$policy"
cat > "$policy/all.yaml" <<YAML
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: iperf, namespace: production}
spec:
  hosts: [iperf.example.com]
  ports: [{number: $port, name: tcp-iperf, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: $server}]
YAML

ip netns exec "$LAB-ext" taskset -c "$server_cpu" iperf3 -s -B "$server" -p "$port" >"$LAB_DIR/iperf3-server.log" 2>&1 &
disown
# The pod's main process: the agent attaches once the workload has one.
lab_exec production/web sleep 3600 &
disown

start_agent() {
  # Another agent on our admin address would answer for ours.
  if curl -sf "http://$admin/readyz" >/dev/null 2>&1; then echo "$admin is taken by another agent" >&2; return 1; fi
  "$bin/egressd" --policy-dir "$policy" --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" --admin-addr "$admin" \
    --tc-mode auto >>"$LAB_DIR/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://$admin/readyz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "agent not ready:" >&2; tail -n 20 "$LAB_DIR/agent.log" >&2; return 1
}
stop_agent() {
  kill "$agent_pid" && wait "$agent_pid" 2>/dev/null || true
  agent_pid=
}
tc_pins() { ls "$bpffs/links/" 2>/dev/null | grep '^tc-' || true; }
attached() {
  [ "$(curl -sf "http://$admin/api/v1/status" | jq -r '.tc_interfaces[]? | select(.workload == "production/web") | .mode // ""')" = tcx ]
}
prog_id() { curl -sf "http://$admin/api/v1/status" | jq -r --arg n "$1" '.programs[] | select(.name == $n) | .id'; }
# The iperf flow's TC byte counters: "bytes_out bytes_in".
flow_bytes() {
  curl -sf "http://$admin/api/v1/flows?workload=production/web&limit=1000" |
    jq -r --arg ip "$server" --argjson port "$port" \
      '[.flows[] | select(.destination_ip == $ip and .destination_port == $port and .protocol == "tcp")][0] // {} |
       "\(.bytes_out // 0) \(.bytes_in // 0)"'
}
iperf() {  # iperf ARGS...: the workload's iperf3 client, pinned
  lab_exec production/web taskset -c "$client_cpu" iperf3 -c "$server" -p "$port" "$@"
}

start_agent
for _ in $(seq 1 100); do attached && break; sleep 0.05; done
attached || { echo "TC not attached: $(curl -sf "http://$admin/api/v1/status" | jq -c .tc_interfaces)" >&2; exit 1; }
[ "$(tc_pins | wc -l)" = 2 ] || { echo "expected 2 pinned tc links, have: $(tc_pins | tr '\n' ' ')" >&2; exit 1; }
iperf -t 1 >/dev/null  # warm-up

uname -r | sed 's/^/kernel /'
echo "bytes TC counted on the flow $server:$port/tcp (IP bytes, both iperf3 connections) vs iperf3's payload bytes, ${secs} s each way:"
for dir in c R; do
  extra=(); [ $dir = R ] && extra=(-R)
  read -r ob ib <<<"$(flow_bytes)"
  iperf -t "$secs" -J "${extra[@]}" >"$LAB_DIR/iperf.json"
  read -r oa ia <<<"$(flow_bytes)"
  if [ $dir = c ]; then counted=$((oa - ob)); what=bytes_out; else counted=$((ia - ib)); what=bytes_in; fi
  jq -r --arg d "$dir" --arg w "$what" --argjson c "$counted" '.end as $e |
    "  -\($d): iperf3 sent \($e.sum_sent.bytes) B (\($e.sum_sent.retransmits // 0) retransmits), TC \($w) \($c) B, TC/sent \($c / $e.sum_sent.bytes * 10000 | round / 10000)"' \
    "$LAB_DIR/iperf.json"
done

from_id=$(prog_id egressd_tc_from_pod); to_id=$(prog_id egressd_tc_to_pod)
pin=$(tc_pins | head -n 1)
pin_prefix=$bpffs/links/${pin%ingress}; pin_prefix=${pin_prefix%egress}
stop_agent  # its pins keep the links, programs and maps

# A stream for the whole bench: 3 states per cycle, plus ramp-up and slack.
stream_secs=$(( (cycles * 3 * (settle_ms + window_ms)) / 1000 + 10 ))
echo "throughput through $LAB-v1, one iperf3 stream per direction; client CPU $client_cpu, server CPU $server_cpu"
for dir in c R; do
  extra=(); [ $dir = R ] && extra=(-R)
  iperf -t "$stream_secs" "${extra[@]}" >"$LAB_DIR/iperf-$dir.log" 2>&1 &
  iperf_pid=$!
  sleep 1
  kill -0 "$iperf_pid" 2>/dev/null || { echo "iperf3 -$dir did not start: $(cat "$LAB_DIR/iperf-$dir.log")" >&2; exit 1; }
  echo "-$dir ($([ $dir = c ] && echo "the workload sends" || echo "the workload receives")):"
  "$bin/tc_ab_bench" --netns "$LAB-ext" --dev "$LAB-v1" --from-prog-id "$from_id" --to-prog-id "$to_id" \
    --pin-prefix "$pin_prefix" --cycles "$cycles" --settle-ms "$settle_ms" --window-ms "$window_ms" >"$LAB_DIR/ab-$dir.txt"
  # SIGINT: the client ends the test with the server, which is then free
  # for the next direction's stream.
  kill -INT "$iperf_pid" 2>/dev/null; wait "$iperf_pid" 2>/dev/null || true
  iperf_pid=
  sleep 1
  if [ -n "${VERBOSE:-}" ]; then cat "$LAB_DIR/ab-$dir.txt"; else sed -n '/cycles of/,$p' "$LAB_DIR/ab-$dir.txt"; fi
done
