#!/usr/bin/env bash
# TCP throughput through a workload's host-side veth with the TC backstop
# attached vs detached, in one run (target: with >= 0.95 x without).
# One pod-like workload (lab_pod: its own netns, eth0 <-> <lab>-v1 in the
# "internet" netns) in a REGISTRY_ONLY mesh whose ServiceEntry allows
# 192.0.2.10:5201, where `iperf3 -s` listens. The agent runs throughout
# (socket hooks on in both cases); only the TC programs come and go:
#   with:    egressd --tc-mode auto  (attaches tcx links to <lab>-v1)
#   without: egressd --tc-mode off, and the pinned tcx links detached and
#            unpinned here (an agent with TC off leaves them alone)
# Rounds alternate the order (with,without | without,with | ...), each state
# runs `iperf3 -c` (workload sends: the from-pod program on tcx ingress)
# and `iperf3 -c -R` (workload receives: the to-pod program on tcx egress),
# client and server pinned to different CPUs. Prints median bits/s per
# direction, the ratios, the TC programs' runs and ns/run (kernel BPF stats),
# their CPU time as a share of the test (a bound on the throughput they can
# cost, free of the machine's noise) and the flow's bytes counted by TC
# against iperf3's own byte counts.
# Needs root, iperf3 and a build (BIN=dir to override).
#   scripts/bench/tc_throughput.sh [ROUNDS=6] [SECONDS=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${BIN:-$root/build/bin}
rounds=${1:-6}
secs=${2:-2}
# CPUs for the iperf3 client (in the workload) and the server.
client_cpu=${CLIENT_CPU:-0}
server_cpu=${SERVER_CPU:-1}
source scripts/lib/netlab.sh

bpffs=/sys/fs/bpf/egressd-tcbench
admin=127.0.0.1:9485  # flow_stats.sh has 9480-9481
server=192.0.2.10
port=5201
agent_pid=
cleanup() {
  set +e
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

start_agent() {  # start_agent TC_MODE
  # Another agent on our admin address would answer for ours.
  if curl -sf "http://$admin/readyz" >/dev/null 2>&1; then echo "$admin is taken by another agent" >&2; return 1; fi
  "$bin/egressd" --policy-dir "$policy" --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" --admin-addr "$admin" \
    --tc-mode "$1" >>"$LAB_DIR/agent.log" 2>&1 &
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
state=
with_tc() {
  [ "$state" = with ] && return 0
  [ -n "$agent_pid" ] && stop_agent
  start_agent auto
  for _ in $(seq 1 100); do attached && break; sleep 0.05; done
  attached || { echo "TC not attached: $(curl -sf "http://$admin/api/v1/status" | jq -c .tc_interfaces)" >&2; exit 1; }
  [ "$(tc_pins | wc -l)" = 2 ] || { echo "expected 2 pinned tc links, have: $(tc_pins | tr '\n' ' ')" >&2; exit 1; }
  state=with
  sleep 1  # let the agent's start-up work settle
}
without_tc() {
  [ "$state" = without ] && return 0
  [ -n "$agent_pid" ] && stop_agent
  local pin
  for pin in $(tc_pins); do
    bpftool link detach pinned "$bpffs/links/$pin"
    rm -f "$bpffs/links/$pin"
  done
  start_agent off
  state=without
  sleep 1
}

# Kernel BPF stats of the TC programs: "runs ns" per program.
prog_stats() {  # prog_stats PROGRAM
  curl -sf "http://$admin/metrics" | awk -v p="$1" '
    $1 == "egressd_bpf_program_runs_total{program=\"" p "\"}" { runs = $2 }
    $1 == "egressd_bpf_program_run_seconds_total{program=\"" p "\"}" { secs = $2 }
    END { printf "%d %.0f\n", runs, secs * 1e9 }'
}
# The iperf flow's TC byte counters: "bytes_out bytes_in".
flow_bytes() {
  curl -sf "http://$admin/api/v1/flows?workload=production/web&limit=1000" |
    jq -r --arg ip "$server" --argjson port "$port" \
      '[.flows[] | select(.destination_ip == $ip and .destination_port == $port and .protocol == "tcp")][0] // {} |
       "\(.bytes_out // 0) \(.bytes_in // 0)"'
}

declare -a bps_with_c bps_without_c bps_with_r bps_without_r
declare -a runs_from runs_to byte_checks tc_cpu_ns
without_bytes=0
iperf_bps() {  # iperf_bps JSON_FILE: what the receiver got, bits/s
  jq -r '.end.sum_received.bits_per_second' "$1"
}
measure() {  # measure c|r
  local dir=$1 out="$LAB_DIR/iperf.json" extra=()
  [ "$dir" = r ] && extra=(-R)
  local before_from before_to before_flow
  before_from=$(prog_stats egressd_tc_from_pod); before_to=$(prog_stats egressd_tc_to_pod); before_flow=$(flow_bytes)
  lab_exec production/web taskset -c "$client_cpu" iperf3 -c "$server" -p "$port" -t "$secs" -J "${extra[@]}" >"$out"
  local bps
  bps=$(iperf_bps "$out")
  if [ "$state" = with ]; then
    local after_from after_to after_flow
    after_from=$(prog_stats egressd_tc_from_pod); after_to=$(prog_stats egressd_tc_to_pod); after_flow=$(flow_bytes)
    # Runs and ns/run of each program over this one test.
    read -r rb nb <<<"$before_from"; read -r ra na <<<"$after_from"
    runs_from+=("$dir:$((ra - rb)):$(awk -v r=$((ra - rb)) -v n=$((na - nb)) 'BEGIN { printf "%.1f", r ? n / r : 0 }')")
    local from_ns=$((na - nb))
    read -r rb nb <<<"$before_to"; read -r ra na <<<"$after_to"
    runs_to+=("$dir:$((ra - rb)):$(awk -v r=$((ra - rb)) -v n=$((na - nb)) 'BEGIN { printf "%.1f", r ? n / r : 0 }')")
    tc_cpu_ns+=("$dir:$((from_ns + na - nb))")
    # Payload bytes iperf3 moved (data stream, sender's count) vs IP bytes
    # TC counted on the flow in that direction (data + control connection,
    # headers included, retransmissions too).
    local sent ob ib oa ia counted
    sent=$(jq -r '"\(.end.sum_sent.bytes):\(.end.sum_received.bytes):\(.end.sum_sent.retransmits // 0)"' "$out")
    read -r ob ib <<<"$before_flow"; read -r oa ia <<<"$after_flow"
    if [ "$dir" = c ]; then counted=$((oa - ob)); else counted=$((ia - ib)); fi
    byte_checks+=("$dir:$sent:$counted")
    if [ "$dir" = c ]; then bps_with_c+=("$bps"); else bps_with_r+=("$bps"); fi
  else
    if [ "$dir" = c ]; then bps_without_c+=("$bps"); else bps_without_r+=("$bps"); fi
    # Detached means detached: no TC program (this agent's or an earlier
    # one's, all share the pinned flows map) counted a byte of the test.
    local ob ib oa ia
    read -r ob ib <<<"$before_flow"; read -r oa ia <<<"$(flow_bytes)"
    without_bytes=$((without_bytes + oa - ob + ia - ib))
  fi
}
run_state() {  # run_state with|without
  if [ "$1" = with ]; then with_tc; else without_tc; fi
  measure c
  measure r
}

# One unmeasured warm-up in each state.
with_tc; lab_exec production/web taskset -c "$client_cpu" iperf3 -c "$server" -p "$port" -t 1 >/dev/null
for ((r = 0; r < rounds; r++)); do
  if ((r % 2 == 0)); then run_state with; run_state without; else run_state without; run_state with; fi
  echo "round $((r + 1))/$rounds done" >&2
done
stop_agent

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
gbps() { awk -v b="$1" 'BEGIN { printf "%.2f Gbit/s", b / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
uname -r | sed 's/^/kernel /'
echo "TCP throughput through $LAB-v1 (one iperf3 stream, ${secs} s per test, median of $rounds alternating rounds; client CPU $client_cpu, server CPU $server_cpu):"
wc=$(median "${bps_with_c[@]}"); oc=$(median "${bps_without_c[@]}")
wr=$(median "${bps_with_r[@]}"); or_=$(median "${bps_without_r[@]}")
printf '  workload sends    (-c):  with TC %s   without %s   ratio %s\n' "$(gbps "$wc")" "$(gbps "$oc")" "$(ratio "$wc" "$oc")"
printf '  workload receives (-R):  with TC %s   without %s   ratio %s\n' "$(gbps "$wr")" "$(gbps "$or_")" "$(ratio "$wr" "$or_")"
# The machine's load drifts (2 vCPUs shared): the ratio within each round,
# where with and without ran back to back, is the steadier figure.
round_ratios() {  # round_ratios WITH_ARRAY WITHOUT_ARRAY: one with/without ratio per line
  local -n w=$1 o=$2
  local i
  for ((i = 0; i < rounds; i++)); do ratio "${w[i]}" "${o[i]}"; echo; done
}
paired() {  # paired WITH_ARRAY WITHOUT_ARRAY: median of per-round ratios
  median $(round_ratios "$1" "$2")
}
# The median per-round ratio's 95% confidence interval, distribution-free
# (order statistics of the binomial): whether a run can tell 0.95 from 1 at all.
paired_ci() {  # paired_ci WITH_ARRAY WITHOUT_ARRAY: "[lo-hi]"
  round_ratios "$1" "$2" | sort -g | awk '
    { r[NR] = $1 }
    END { n = NR; lo = int((n - 1.96 * sqrt(n)) / 2); hi = int(1 + (n + 1.96 * sqrt(n)) / 2 + 0.999)
          if (lo < 1) lo = 1; if (hi > n) hi = n; printf "[%.3f-%.3f]", r[lo], r[hi] }'
}
echo "  median of per-round ratios (with / without, same round), [95% CI]:  -c $(paired bps_with_c bps_without_c) $(paired_ci bps_with_c bps_without_c)   -R $(paired bps_with_r bps_without_r) $(paired_ci bps_with_r bps_without_r)"
echo "  all rounds, Gbit/s (with / without):"
for ((r = 0; r < rounds; r++)); do
  awk -v a="${bps_with_c[r]}" -v b="${bps_without_c[r]}" -v c="${bps_with_r[r]}" -v d="${bps_without_r[r]}" -v r=$((r + 1)) \
    'BEGIN { printf "    round %d: -c %.2f / %.2f (%.3f)   -R %.2f / %.2f (%.3f)\n", r, a / 1e9, b / 1e9, a / b, c / 1e9, d / 1e9, c / d }'
done
echo "bytes TC counted during the tests without TC (must be 0): $without_bytes"
echo "TC programs per test with TC (kernel BPF stats; runs, median ns/run):"
for d in c r; do
  label=$([ $d = c ] && echo "-c" || echo "-R")
  fr=(); fn=(); tr_=(); tn=()
  for e in "${runs_from[@]}"; do IFS=: read -r dd runs ns <<<"$e"; [ "$dd" = $d ] && fr+=("$runs") && fn+=("$ns"); done
  for e in "${runs_to[@]}"; do IFS=: read -r dd runs ns <<<"$e"; [ "$dd" = $d ] && tr_+=("$runs") && tn+=("$ns"); done
  printf '  %s: egressd_tc_from_pod %s runs, %s ns/run;  egressd_tc_to_pod %s runs, %s ns/run\n' \
    "$label" "$(median "${fr[@]}")" "$(median "${fn[@]}")" "$(median "${tr_[@]}")" "$(median "${tn[@]}")"
done
# The noise-free figure: the CPU time both programs took in a test, as a
# share of the test's length. Even if all of it came out of the bottleneck
# CPU, throughput can drop by at most that share.
echo "TC programs' CPU time per test with TC (both programs, kernel BPF stats), as a share of the ${secs} s test:"
for d in c r; do
  label=$([ $d = c ] && echo "-c" || echo "-R")
  shares=()
  for e in "${tc_cpu_ns[@]}"; do IFS=: read -r dd ns <<<"$e"; [ "$dd" = $d ] && shares+=("$(awk -v n="$ns" -v s="$secs" 'BEGIN { printf "%.4f", n / (s * 1e9) }')"); done
  m=$(median "${shares[@]}")
  awk -v l="$label" -v m="$m" -v hi="$(printf '%s
' "${shares[@]}" | sort -g | tail -n 1)" 'BEGIN {
    printf "  %s: median %.2f%% of one CPU (max %.2f%%): program-derived throughput ratio >= %.3f\n", l, m * 100, hi * 100, 1 - hi }'
done
echo "bytes counted by TC on the flow $server:$port/tcp (IP bytes, both iperf3 connections) vs iperf3's payload bytes, per test with TC:"
for e in "${byte_checks[@]}"; do
  IFS=: read -r d sent received retrans counted <<<"$e"
  awk -v d="$d" -v s="$sent" -v rc="$received" -v rt="$retrans" -v c="$counted" 'BEGIN {
    printf "  %s: iperf3 sent %.0f B (received %.0f, %d retransmits), TC %s %.0f B, TC/sent %.4f\n",
      d == "c" ? "-c" : "-R", s, rc, rt, d == "c" ? "bytes_out" : "bytes_in", c, s ? c / s : 0 }'
done
