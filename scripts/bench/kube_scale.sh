#!/usr/bin/env bash
# Kubernetes-mode scale benchmark (issue 14): the real agent against the test
# API server (tests/kube/apiserver.py) holding 10,000 ServiceEntries and 250
# pods of this node, each pod with a fake pod cgroup under a kubepods tree so
# it is enforced. Measures, in one run:
#   1. agent start to /readyz 200 (readiness is set after the first apply of
#      the listed state has synced the maps: the state is in the kernel then,
#      and a pod's datagram to a ServiceEntry address is checked to pass);
#   2. one ServiceEntry's address changed N times with `kubectl patch` (JSON
#      merge, one PATCH request) and N times, interleaved, with one curl
#      PATCH (no kubectl start-up): from just before the client starts to
#      the first datagram to the new address let out of a pod (a prober in
#      the pod's cgroup sends every 0.2 ms), p50/p99/max; the client's round
#      trip beside it (the watch event is sent within it), and the agent's
#      apply times from its log;
#   3. agent VmRSS and VmHWM after ready and after the changes.
# The objects are loaded with the server's /seed side channel (one POST of a
# JSON list), not kubectl. Needs root, kubectl, python3 and a build
# (scripts/build.sh; BIN=dir to override). Not run by CI.
#   scripts/bench/kube_scale.sh [SERVICE_ENTRIES=10000] [PODS=250] [CHANGES=200]
# KEEP_LOG=FILE keeps the agent's log; WAIT_S (default 120) bounds the wait
# for one change to be enforced.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${BIN:-$root/build/bin}
entries=${1:-10000}
pods=${2:-250}
changes=${3:-200}
wait_s=${WAIT_S:-120}
namespaces=50
node=kbench-node
[ "$(id -u)" = 0 ] || { echo "kube_scale.sh: needs root (BPF, cgroups, network namespaces)" >&2; exit 1; }
for tool in kubectl python3 curl; do
  command -v "$tool" >/dev/null || { echo "kube_scale.sh: $tool not found" >&2; exit 1; }
done
[ -x "$bin/egressd" ] || { echo "kube_scale.sh: no $bin/egressd (build first, or BIN=dir)" >&2; exit 1; }
(( entries >= 2 && changes <= 32768 )) || { echo "kube_scale.sh: needs 2+ entries, at most 32768 changes" >&2; exit 1; }
source scripts/lib/netlab.sh
source tests/kube/lib.sh

bpffs=/sys/fs/bpf/egressd-kbench
admin=127.0.0.1:9479
agent_pid=
prober_pid=
cleanup() {
  set +e
  [ -n "$prober_pid" ] && kill "$prober_pid" 2>/dev/null
  if [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null; then
    # It stops between applies, and one may take seconds at this scale.
    for _ in $(seq 1 300); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  "$bin/egressd" --uninstall --bpffs "$bpffs" >/dev/null 2>&1
  kube_down >/dev/null 2>&1
  [ -n "${KEEP_LOG:-}" ] && [ -n "${LAB_DIR:-}" ] && cp "$LAB_DIR/agent.log" "$KEEP_LOG"
  [ -n "${LAB_CGROUP:-}" ] && [ -d "$LAB_CGROUP/kubepods.slice" ] &&
    find "$LAB_CGROUP/kubepods.slice" -depth -type d -exec rmdir {} + 2>/dev/null
  lab_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now_ns() { echo $(( ${EPOCHREALTIME/./} * 1000 )); }   # CLOCK_REALTIME, as the prober's time.time_ns()
ms() { awk -v ns="$1" 'BEGIN {printf "%.1f", ns / 1e6}'; }
# pct P FILE: nearest-rank percentile of the numbers in FILE.
pct() { sort -n "$2" | awk -v p="$1" '{a[NR]=$1} END {i=int((p*NR+99)/100); if (i<1) i=1; print a[i]}'; }
mem() { awk '/^VmRSS|^VmHWM/ {printf "%s %d MiB  ", $1, $2/1024}' "/proc/$agent_pid/status"; }

lab_up egd-kbench >/dev/null
kube_up "$LAB_DIR/kube" --keep-client-uid || { echo "the test API server did not start" >&2; exit 1; }
kubectl apply -f tests/kube/testdata/istio-crds.yaml >/dev/null

# The objects, as one JSON list for /seed: namespaces, the mesh's
# REGISTRY_ONLY, ServiceEntries as scale.sh makes them (a /24 each in
# 10.0.0.0/8, ports 443, 8443 and 5353/UDP, one in ten exported only to its
# own namespace), and pods of this node spread over the namespaces, with
# uids the pod cgroups below are named after.
python3 - "$entries" "$pods" "$namespaces" "$node" > "$LAB_DIR/seed.json" <<'PY'
import json, sys
entries, pods, namespaces, node = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
        for n in ["istio-system"] + [f"ns-{i}" for i in range(namespaces)]]
objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
             "data": {"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"}})
for i in range(entries):
    objs.append({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                 "metadata": {"name": f"se-{i}", "namespace": f"ns-{i % namespaces}"},
                 "spec": {"hosts": [f"svc-{i}.example.com"], "addresses": [f"10.{i // 256}.{i % 256}.0/24"],
                          "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"},
                                    {"number": 8443, "name": "tls", "protocol": "TLS"},
                                    {"number": 5353, "name": "udp-sync", "protocol": "UDP"}],
                          "exportTo": ["."] if i % 10 == 0 else ["*"]}})
for w in range(pods):
    objs.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": f"w-{w}", "namespace": f"ns-{w % namespaces}", "labels": {"app": f"w-{w}"},
                              "uid": f"00000000-0000-4000-8000-{w:012d}"},
                 "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app"}]}})
json.dump(objs, sys.stdout)
PY
start=$(now_ns)
seeded=$(curl -sf -X POST --data-binary "@$LAB_DIR/seed.json" "$KUBE_API_CONTROL/seed" | tr -d ' \n')
seed_ns=$(( $(now_ns) - start ))
# BestEffort pods, systemd driver: where the kubelet makes their cgroups,
# with one container cgroup below each (where the prober runs).
pod_cgroup() { local uid; uid=$(printf '00000000_0000_4000_8000_%012d' "$1")
  echo "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$uid.slice/cri-containerd-app.scope"; }
for ((w = 0; w < pods; w++)); do mkdir -p "$LAB_CGROUP/$(pod_cgroup "$w")"; done

start=$(now_ns)
"$bin/egressd" --kubeconfig "$KUBECONFIG" --node-name "$node" --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" \
  --admin-addr "$admin" --dns-server "$LAB_RESOLVER" --tc-mode off --log-level "${LOG_LEVEL:-debug}" \
  > "$LAB_DIR/agent.log" 2>&1 &
agent_pid=$!
until curl -sf "http://$admin/readyz" >/dev/null 2>&1; do
  kill -0 "$agent_pid" 2>/dev/null || { tail -n 30 "$LAB_DIR/agent.log"; exit 1; }
  (( $(now_ns) - start < 300000000000 )) || { echo "not ready after 300 s" >&2; tail -n 30 "$LAB_DIR/agent.log"; exit 1; }
  sleep 0.01
done
ready_ns=$(( $(now_ns) - start ))
mem_ready=$(mem)

# The prober: pod w-1 (ns-1), its container cgroup, the lab's workload netns.
target=1
coproc PROBER { lab_exec "$(pod_cgroup $target)" python3 "$root/scripts/bench/kube_scale_probe.py"; }
# shellcheck disable=SC2153  # set by coproc
prober_pid=$PROBER_PID
echo "timeout $wait_s" >&"${PROBER[1]}"
probe() { echo "$*" >&"${PROBER[1]}"; local answer; read -r -t 15 answer <&"${PROBER[0]}"; echo "$answer"; }
# se-5 lives in ns-5, exported to all: pod w-1 may reach it; 198.51.100.20 is in no entry.
listed=$(probe check 10.0.5.1 5353)
unlisted=$(probe check 198.51.100.20 5353)
applied_line=$(grep -o 'policy generation 1 applied in .*' "$LAB_DIR/agent.log" | head -n 1)
echo "== egressd kube scale benchmark: $entries ServiceEntries, $pods pods of this node in $namespaces namespaces"
echo "load into the test API server:  $(ms $seed_ns) ms ($seeded, one POST to /seed)"
echo "agent start to /readyz 200:     $(ms $ready_ns) ms (connect, list, first apply, maps synced)"
echo "  ${applied_line}"
echo "  in the kernel at ready:       pod w-1 -> 10.0.5.1:5353 (se-5) $listed, -> 198.51.100.20:5353 $unlisted"
if [ "$listed" != ok ] || [ "$unlisted" != EPERM ]; then echo "the kernel does not enforce the listed state" >&2; exit 1; fi
grep -q "applied in .* $pods workloads" <<<"$applied_line" || echo "  WARNING: not $pods workloads enforced at ready"
echo "agent memory after ready:       $mem_ready"

# The changes: se-1 (ns-1, exported to all) gets a new /24 each time,
# alternately with kubectl patch and with curl's one PATCH request (no
# kubectl start-up: the nearer bound of the watch event's time).
gen_before=$(grep -c 'policy generation [0-9]* applied' "$LAB_DIR/agent.log")
series="kubectl.e2e kubectl.rtt kubectl.after curl.e2e curl.rtt curl.after"
for s in $series; do : > "$LAB_DIR/$s"; done
patch_with() {
  local body="{\"spec\":{\"addresses\":[\"$2.0/24\"]}}"
  if [ "$1" = kubectl ]; then
    kubectl patch serviceentry se-1 -n ns-1 --type=merge -p "$body" >/dev/null
  else
    curl -sf -o /dev/null -X PATCH --cacert "$KUBE_API_CA" -H "Authorization: Bearer $KUBE_API_TOKEN" \
      -H 'Content-Type: application/merge-patch+json' --data "$body" \
      "$KUBE_API_SERVER/apis/networking.istio.io/v1/namespaces/ns-1/serviceentries/se-1"
  fi
}
failed=0
for ((k = 0; k < 2 * changes; k++)); do
  tool=kubectl; (( k % 2 )) && tool=curl
  net="172.$((16 + k / 256)).$((k % 256))"
  armed=$(probe wait "$net.1" 5353)
  [ "$armed" = armed ] || { echo "change $k: $net.1 not denied before the change ($armed)" >&2; exit 1; }
  t0=$(now_ns)
  patch_with "$tool" "$net"
  t1=$(now_ns)
  read -r -t $((wait_s + 5)) t2 <&"${PROBER[0]}" || t2=timeout
  if [[ "$t2" =~ ^[0-9]+$ ]]; then
    echo $((t2 - t0)) >> "$LAB_DIR/$tool.e2e"; echo $((t1 - t0)) >> "$LAB_DIR/$tool.rtt"
    echo $((t2 - t1)) >> "$LAB_DIR/$tool.after"
  else
    failed=$((failed + 1)); echo "change $k ($tool): $net.1 not let out ($t2)" >&2
  fi
done
sleep 0.5   # the last apply's log line
mem_changes=$(mem)
grep 'policy generation [0-9]* applied' "$LAB_DIR/agent.log" | tail -n +$((gen_before + 1)) |
  grep -o 'applied in [0-9.]*' | awk '{printf "%.0f\n", $3 * 1e6}' > "$LAB_DIR/apply.ns"
row() { printf '  %-38s p50 %7s ms  p99 %7s ms  max %7s ms\n' "$1" "$(ms "$(pct 50 "$2")")" "$(ms "$(pct 99 "$2")")" "$(ms "$(pct 100 "$2")")"; }
echo "one ServiceEntry changed, $((2 * changes - failed)) of $((2 * changes)) changes enforced (at $entries entries; $changes each way):"
row "kubectl patch start -> enforced:" "$LAB_DIR/kubectl.e2e"
row "kubectl patch round trip:" "$LAB_DIR/kubectl.rtt"
row "kubectl returned -> enforced:" "$LAB_DIR/kubectl.after"
row "curl PATCH start -> enforced:" "$LAB_DIR/curl.e2e"
row "curl PATCH round trip:" "$LAB_DIR/curl.rtt"
row "curl returned -> enforced:" "$LAB_DIR/curl.after"
row "agent apply ($(wc -l < "$LAB_DIR/apply.ns") generations, its log):" "$LAB_DIR/apply.ns"
verdict() { (( failed == 0 && $(pct 99 "$1") <= 50000000 )) && echo met || echo "NOT met"; }
echo "  goal p99 <= 50 ms: from kubectl's start $(verdict "$LAB_DIR/kubectl.e2e"), from curl's start $(verdict "$LAB_DIR/curl.e2e")"
if [ "${LOG_LEVEL:-debug}" = debug ]; then
  echo "  agent apply phases, median of the changes:"
  grep -o 'apply phases: .*' "$LAB_DIR/agent.log" | tail -n "$((2 * changes))" | python3 -c '
import re, statistics, sys
rows = [dict((k, float(v)) for v, k in [(m[1], m[0]) for m in re.findall(r"(parse|store\+workloads|compile|sync) ([0-9.]+) ms", l)]) for l in sys.stdin]
rows = [r for r in rows if r]
if rows:
    print("   ", ", ".join(f"{k} {statistics.median(r[k] for r in rows if k in r):.1f} ms" for k in rows[0]))'
fi
echo "agent memory after the changes: $mem_changes"
(( failed == 0 ))
