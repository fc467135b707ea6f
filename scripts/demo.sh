#!/usr/bin/env bash
# The seed story on this machine: a workload in a REGISTRY_ONLY mesh reaches
# the registered api.external-service.com and is refused an unregistered
# host, in the kernel, at connect(); a raw socket that skips connect() is
# dropped by the TC backstop on the workload's interface. Installs what is
# missing, builds, runs, and cleans everything up (also on Ctrl-C). Needs
# root. BIN=dir uses binaries built elsewhere (no install, no build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it loads BPF programs and creates network namespaces)" >&2; exit 1; }

if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  ./scripts/install-deps.sh
  echo "==> building"
  ./scripts/build.sh >/dev/null
  bin=$root/build/bin
fi

source scripts/lib/netlab.sh
bpffs=/sys/fs/bpf/egressd-demo
admin=127.0.0.1:9477
agent_pid=
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  "$bin/egressd" --uninstall --bpffs "$bpffs" >/dev/null 2>&1
  lab_down
  echo "==> cleaned up: programs detached, pins, namespaces and cgroups removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }

step "a lab on this machine: a pod-like workload with its own netns + an 'internet' netns on documentation addresses"
lab_up egressd-demo
lab_pod production/web 1 >/dev/null
echo "workload production/web = cgroup $LAB_CGROUP/production/web, netns $LAB-pod1 (eth0 10.99.1.2 <-> $LAB-v1)"
echo "api.external-service.com = 192.0.2.10 (HTTPS), unregistered.example.net = 198.51.100.20"

step "starting egressd on deploy/examples/local (mesh REGISTRY_ONLY + the seed's ServiceEntry)"
show "egressd --policy-dir deploy/examples/local --cgroup-root $LAB_CGROUP --bpffs $bpffs"
"$bin/egressd" --policy-dir deploy/examples/local --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" \
  --admin-addr "$admin" --dns-server "$LAB_RESOLVER" > "$LAB_DIR/egressd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do curl -sf "http://$admin/readyz" >/dev/null && break; sleep 0.05; done
curl -sf "http://$admin/readyz" >/dev/null || { cat "$LAB_DIR/egressd.log"; exit 1; }
sed 's/^/  agent | /' "$LAB_DIR/egressd.log"

step "the pod's main process starts: the agent finds its host-side veth and attaches the TC backstop"
show "sleep 3600 &   (in production/web)"
lab_exec production/web sleep 3600 &
disown
tc_attached() { curl -sf "http://$admin/api/v1/status" | jq -e '.tc_interfaces[]? | select(.workload == "production/web" and .mode != null and .mode != "")' >/dev/null; }
for _ in $(seq 1 100); do tc_attached && break; sleep 0.05; done
show "curl http://$admin/api/v1/status | jq -c '.tc_interfaces[]'"
curl -sf "http://$admin/api/v1/status" | jq -c '.tc_interfaces[]'
tc_attached || { echo "the TC backstop did not attach"; tail -n 5 "$LAB_DIR/egressd.log"; exit 1; }

step "what production/web may reach"
show "egressctl policy --workload production/web"
"$bin/egressctl" --admin-addr "$admin" policy --workload production/web

step "allowed: the registered external API"
show "curl https://api.external-service.com/   (from production/web)"
lab_exec production/web curl -sS -m 3 -k --resolve api.external-service.com:443:192.0.2.10 \
  https://api.external-service.com/ || true

step "denied: a host that is not in the registry"
show "curl http://unregistered.example.net/   (from production/web)"
lab_exec production/web curl -sS -m 3 --resolve unregistered.example.net:80:198.51.100.20 \
  http://unregistered.example.net/ || true
show "egressd_probe connect 198.51.100.20 80   (what connect() returned to the app)"
lab_exec production/web "$bin/egressd_probe" connect 198.51.100.20 80 || true
show "egressctl explain --workload production/web --to 198.51.100.20:80"
"$bin/egressctl" --admin-addr "$admin" explain --workload production/web --to 198.51.100.20:80

step "the backstop: a raw socket never calls connect(); TC on $LAB-v1 drops its datagrams to the denied host"
ip netns exec "$LAB-ext" "$bin/egressd_packet" sink 198.51.100.20 9999 2 > "$LAB_DIR/sink" 2>/dev/null &
sink_pid=$!
sleep 0.3
show "egressd_packet raw 198.51.100.20 9999 3 100   (3 UDP datagrams from a raw socket in production/web)"
lab_exec production/web "$bin/egressd_packet" raw 198.51.100.20 9999 3 100 || true
wait "$sink_pid" || true
echo "arrived at 198.51.100.20:9999 (datagrams bytes): $(cat "$LAB_DIR/sink")"
show "egressctl flows --workload production/web   (bytes of the allowed HTTPS call, the dropped packets)"
"$bin/egressctl" --admin-addr "$admin" flows --workload production/web

step "the same process outside the workload is not touched"
show "curl http://198.51.100.20/   (from a process in no workload)"
lab_exec - curl -sS -m 3 http://198.51.100.20/ || true

step "metrics"
show "curl http://$admin/metrics | grep -E 'verdicts|backstop|tc_interfaces'"
curl -s "http://$admin/metrics" | grep -E '^egressd_(verdicts_total|policy_generation|rejected_objects|backstop_dropped_packets_total|tc_interfaces)' || true
echo
