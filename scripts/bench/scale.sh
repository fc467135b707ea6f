#!/usr/bin/env bash
# Scale benchmark for the issue-2 sizing target: 10,000 ServiceEntries and 250
# workloads on one node. Measures, in one run: initial apply time, reload time
# for a one-file change (until the kernel enforces it), map fill, agent memory,
# and connect() cost with the programs (allowed and denied) vs without them,
# interleaved. Needs root and a build (scripts/build.sh; BIN=dir to override).
#   scripts/bench/scale.sh [SERVICE_ENTRIES=10000] [WORKLOADS=250] [NAMESPACES=50]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${BIN:-$root/build/bin}
entries=${1:-10000}
workloads=${2:-250}
namespaces=${3:-50}
source scripts/lib/netlab.sh

bpffs=/sys/fs/bpf/egressd-bench
admin=127.0.0.1:9478
agent_pid=
nohook=
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  "$bin/egressd" --uninstall --bpffs "$bpffs" >/dev/null 2>&1
  [ -n "$nohook" ] && rmdir "$nohook" 2>/dev/null
  [ -n "${KEEP_LOG:-}" ] && cp "$LAB_DIR/agent.log" "$KEEP_LOG"
  lab_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up egd-bench >/dev/null
policy=$LAB_DIR/policy
mkdir -p "$policy"
printf 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}\n' > "$policy/mesh.yaml"

# ServiceEntries: one /24 each in 10.0.0.0/8, ports 443, 8443 and 5353/UDP, one in ten
# exported only to its own namespace; 100 per file, as teams would split them.
for ((f = 0; f < (entries + 99) / 100; f++)); do
  for ((i = f * 100; i < (f + 1) * 100 && i < entries; i++)); do
    export_to='["*"]'
    (( i % 10 == 0 )) && export_to='["."]'
    printf -- '---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-%d, namespace: ns-%d}\nspec:\n  hosts: [svc-%d.example.com]\n  addresses: [10.%d.%d.0/24]\n  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443, name: tls, protocol: TLS}, {number: 5353, name: udp-sync, protocol: UDP}]\n  exportTo: %s\n' \
      "$i" $((i % namespaces)) "$i" $((i / 256)) $((i % 256)) "$export_to"
  done > "$policy/entries-$f.yaml"
done
for ((w = 0; w < workloads; w++)); do
  lab_workload "ns-$((w % namespaces))/w-$w" >/dev/null
  printf -- '---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: w-%d, namespace: ns-%d}\nspec: {cgroup: ns-%d/w-%d}\n' \
    "$w" $((w % namespaces)) $((w % namespaces)) "$w"
done > "$policy/workloads.yaml"

start=$(date +%s%N)
"$bin/egressd" --policy-dir "$policy" --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" --admin-addr "$admin" \
  --dns-server "$LAB_RESOLVER" --log-level "${LOG_LEVEL:-info}" > "$LAB_DIR/agent.log" 2>&1 &
agent_pid=$!
until curl -sf "http://$admin/readyz" >/dev/null; do
  kill -0 "$agent_pid" 2>/dev/null || { cat "$LAB_DIR/agent.log"; exit 1; }
  sleep 0.05
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))

echo "== egressd scale benchmark: $entries ServiceEntries, $workloads workloads in $namespaces namespaces"
echo "start to /readyz:        ${ready_ms} ms (attach + parse + compile + first sync)"
grep -o 'generation 1 applied in [0-9.]* ms.*' "$LAB_DIR/agent.log" | sed 's/^/first apply:             /'
echo "agent RSS:               $(( $(ps -o rss= -p "$agent_pid") / 1024 )) MiB"
"$bin/egressctl" --admin-addr "$admin" status | sed -n '/^MAP/,/^$/p' | sed 's/^/  /'

# Reload: one file changes (a new /24); time until a workload's connect() is allowed.
target_ns=ns-1; target=w-1
probe() { [ "$(lab_exec "$target_ns/$target" "$bin/egressd_probe" udpconnect 172.16.9.1 5353)" = ok ]; }
probe && { echo "unexpected: 172.16.9.1 allowed before the change"; exit 1; }
start=$(date +%s%N)
sed -i 's|10\.0\.1\.0/24|172.16.9.0/24|' "$policy/entries-0.yaml"   # se-1 lives in ns-1, exported to all
until probe; do sleep 0.002; done
echo "reload to enforcement:   $(( ($(date +%s%N) - start) / 1000000 )) ms (one file of 100 entries rewritten; probe included)"
# The maps are written before the log line: wait for it.
for _ in $(seq 1 100); do grep -q 'generation 2 applied' "$LAB_DIR/agent.log" && break; sleep 0.05; done
grep -o 'generation 2 applied in [0-9.]* ms.*' "$LAB_DIR/agent.log" | sed 's/^/second apply:            /'

# connect() cost, interleaved rounds: in a workload (hooks run) vs in a cgroup
# outside --cgroup-root (no hooks), same netns, same destinations.
nohook=$(lab_cgroup2_root)/egd-bench-nohook
mkdir -p "$nohook"
run_in() { (echo $BASHPID > "$1/cgroup.procs" && exec ip netns exec "$LAB-wl" "$bin/connect_bench" "$2" 5353 "$3"); }
rounds=5; n=200000
declare -a allowed denied plain
for ((r = 0; r < rounds; r++)); do
  plain+=("$(run_in "$nohook" 10.0.7.1 $n | awk '{print $1}')")
  allowed+=("$(run_in "$LAB_CGROUP/$target_ns/$target" 10.0.7.1 $n | awk '{print $1}')")
  denied+=("$(run_in "$LAB_CGROUP/$target_ns/$target" 192.168.77.1 $n | awk '{print $1}')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}"); a=$(median "${allowed[@]}"); d=$(median "${denied[@]}")
echo "connect() (UDP, no packet sent), median of $rounds interleaved rounds x $n calls:"
echo "  without programs:      $p ns"
echo "  workload, allowed:     $a ns   (x$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.2f", a/p}'), +$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.0f", a-p}') ns)"
echo "  workload, denied:      $d ns   (x$(awk -v a="$d" -v p="$p" 'BEGIN {printf "%.2f", a/p}'))"
