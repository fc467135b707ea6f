#!/usr/bin/env bash
# The seed story on this machine, in the guide's order: a REGISTRY_ONLY mesh;
# api.external-service.com registered and reached; hosts allowed through the
# addresses their DNS answers carry, learned in the kernel (an exact host and
# a wildcard); a host that resolves but is not registered, refused at
# connect() and explained; the registered host routed through the egress
# gateway (the gateway sees the SNI, the app's getpeername() does not
# change); a namespace in audit mode whose would-be denials become suggested
# ServiceEntries that, applied, let exactly those calls pass; the TC backstop
# against a raw socket; flows and metrics. Every step is a command and its real
# output. Installs what is missing, builds, runs, and cleans everything up
# (also on Ctrl-C). Needs root.
#   scripts/demo.sh [--step]     --step: wait for Enter between steps
#   BIN=dir scripts/demo.sh      binaries built elsewhere (no install, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pause=false
case "${1:-}" in
  --step) pause=true ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--step]" >&2; exit 2 ;;
esac
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
  if [ -n "$agent_pid" ]; then
    disown "$agent_pid" 2>/dev/null   # no "Terminated" job notice
    kill "$agent_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  "$bin/egressd" --uninstall --bpffs "$bpffs" >/dev/null 2>&1
  lab_down
  echo "==> cleaned up: programs detached, pins, namespaces and cgroups removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
step() {
  if $pause; then read -r -p $'\n(Enter for the next step) ' _ </dev/tty || true; fi
  printf '\n\033[1m==> %s\033[0m\n' "$*"
}
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }
egressctl() { "$bin/egressctl" --admin-addr "$admin" "$@"; }
# run WORKLOAD CMD...: shows the command, runs it as a process of WORKLOAD.
run() {
  local workload=$1
  shift
  show "$*   (in $workload)"
  lab_exec "$workload" "$@" || true
}
# policy FILE: writes a policy file the way an editor or a ConfigMap update
# does (atomically) and waits until the agent has applied it.
policy() {
  local gen
  gen=$(curl -s "http://$admin/metrics" | awk '/^egressd_policy_generation /{print $2}')
  show "cat > policy/$1 <<EOF ... (the agent re-applies on change)"
  cat > "$policy_dir/.$1.tmp" && mv "$policy_dir/.$1.tmp" "$policy_dir/$1"
  for _ in $(seq 1 100); do
    [ "$(curl -s "http://$admin/metrics" | awk '/^egressd_policy_generation /{print $2}')" -gt "$gen" ] && return 0
    sleep 0.05
  done
  echo "the agent did not apply $1: $(tail -n 3 "$LAB_DIR/egressd.log")" >&2
  return 1
}

step "a lab on this machine: pod-like workloads, an 'internet' and its DNS resolver on documentation addresses"
lab_up egressd-demo
lab_pod production/web 1 >/dev/null
lab_workload staging/app >/dev/null
GW=10.99.0.3
lab_external_addr 198.51.100.30 198.51.100.31 198.51.100.66
lab_start_dnsmasq --local-ttl=60 --host-record=api.external-service.com,192.0.2.10 \
  --host-record=www.example.org,198.51.100.30 --host-record=img.cdn.example.org,198.51.100.31 \
  --host-record=unregistered.example.net,198.51.100.20 --host-record=evil.example.com,198.51.100.66
echo "production/web: a pod (netns $LAB-pod1, eth0 10.99.1.2); staging/app: a workload in $LAB-wl"
echo "resolver $LAB_RESOLVER (dnsmasq): api.external-service.com 192.0.2.10, www.example.org 198.51.100.30,"
echo "  img.cdn.example.org 198.51.100.31, unregistered.example.net 198.51.100.20, evil.example.com 198.51.100.66"

step "egressd on the seed's policy (deploy/examples/local): mesh REGISTRY_ONLY + the ServiceEntry for api.external-service.com"
policy_dir=$LAB_DIR/policy
mkdir -p "$policy_dir"
cp deploy/examples/local/*.yaml "$policy_dir/"
show "egressd --policy-dir policy/ --cgroup-root $LAB_CGROUP --bpffs $bpffs --dns-server $LAB_RESOLVER"
"$bin/egressd" --policy-dir "$policy_dir" --cgroup-root "$LAB_CGROUP" --bpffs "$bpffs" \
  --admin-addr "$admin" --dns-server "$LAB_RESOLVER" --access-log "$LAB_DIR/access.log" > "$LAB_DIR/egressd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do curl -sf "http://$admin/readyz" >/dev/null && break; sleep 0.05; done
curl -sf "http://$admin/readyz" >/dev/null || { cat "$LAB_DIR/egressd.log"; exit 1; }
sed 's/^/  agent | /' "$LAB_DIR/egressd.log"
lab_exec production/web sleep 3600 2>/dev/null &   # the pod's main process: the agent attaches its TC backstop
disown
tc_attached() { curl -sf "http://$admin/api/v1/status" | jq -e '.tc_interfaces[]? | select(.workload == "production/web" and .mode != null and .mode != "")' >/dev/null; }
for _ in $(seq 1 100); do tc_attached && break; sleep 0.05; done
tc_attached || { echo "the TC backstop did not attach"; tail -n 5 "$LAB_DIR/egressd.log"; exit 1; }
show "egressctl policy --workload production/web"
egressctl policy --workload production/web

step "allowed: the registered external API, by its name"
run production/web curl -sS -m 3 -k https://api.external-service.com/

step "hostnames: a ServiceEntry with no addresses; the kernel learns the IPs from the DNS answer before the app reads it"
policy hostnames.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: docs, namespace: production}
spec:
  hosts: [www.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cdn, namespace: production}
spec:
  hosts: ["*.cdn.example.org"]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: NONE
YAML
run production/web curl -sS -m 3 http://www.example.org/
run production/web curl -sS -m 3 http://img.cdn.example.org/       # the wildcard
show "egressctl dns   (what the kernel learned, per scope)"
egressctl dns

step "denied: a host that resolves but is not in the registry; connect() gets EPERM"
run production/web curl -sS -m 3 http://unregistered.example.net/
run production/web "$bin/egressd_probe" connect 198.51.100.20 80
show "egressctl explain --workload production/web --to 198.51.100.20:80"
egressctl explain --workload production/web --to 198.51.100.20:80

step "the egress gateway: a VirtualService sends api.external-service.com:443 through it; egressd rewrites connect()"
lab_start_gateway "$GW"
policy gateway.yaml <<YAML
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: $GW
  ports: [{name: https, port: 443}]
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: egressgateway, namespace: istio-system, labels: {istio: egressgateway}}
spec: {cgroup: istio-system/egressgateway}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [api.external-service.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-through-egress-gateway, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [api.external-service.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]
YAML
run production/web curl -sS -m 3 -k https://api.external-service.com/
show "tail -n 1 gateway/stream.log   (the gateway saw the app's SNI)"
for _ in $(seq 1 40); do [ -s "$LAB_DIR/gw/stream.log" ] && break; sleep 0.05; done   # written at session end
tail -n 1 "$LAB_DIR/gw/stream.log"
show "tail -n 1 external-server/access.log   (the external server saw the gateway, $GW)"
tail -n 1 "$LAB_DIR/nginx/access.log" | cut -d' ' -f1-7
run production/web "$bin/egressd_probe" peername 192.0.2.10 443   # getpeername(): the address the app asked for
show "egressctl explain --workload production/web --to 192.0.2.10:443"
egressctl explain --workload production/web --to 192.0.2.10:443

step "audit mode: staging is labelled egressd.io/audit: \"true\"; would-be denials pass and are recorded"
policy staging.yaml <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: staging, labels: {egressd.io/audit: "true"}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging}
spec: {cgroup: staging/app}
YAML
run staging/app curl -sS -m 3 http://evil.example.com/
show "egressctl flows --workload staging/app --verdict audit"
egressctl flows --workload staging/app --verdict audit
show "egressctl suggest   (the name the workload looked up, not an address)"
egressctl suggest | tee "$LAB_DIR/suggested.yaml"

step "the suggestion applied and audit turned off: the audited call passes, anything else is refused"
policy suggested.yaml < "$LAB_DIR/suggested.yaml"
policy staging.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging}
spec: {cgroup: staging/app}
YAML
run staging/app curl -sS -m 3 http://evil.example.com/
run staging/app "$bin/egressd_probe" connect 198.51.100.20 80

step "the backstop: a raw socket never calls connect(); TC on $LAB-v1 drops its datagrams to the denied host"
ip netns exec "$LAB-ext" "$bin/egressd_packet" sink 198.51.100.20 9999 2 > "$LAB_DIR/sink" 2>/dev/null &
sink_pid=$!
sleep 0.3
run production/web "$bin/egressd_packet" raw 198.51.100.20 9999 3 100   # 3 UDP datagrams from a raw socket
wait "$sink_pid" || true
echo "arrived at 198.51.100.20:9999 (datagrams bytes): $(cat "$LAB_DIR/sink")"

step "flows, the access log and metrics"
show "egressctl flows --workload production/web"
egressctl flows --workload production/web
show "tail -n 2 access.log"
tail -n 2 "$LAB_DIR/access.log"
show "curl http://$admin/metrics | grep -E 'connections_total|dns_events|backstop|gateway'"
curl -s "http://$admin/metrics" |
  grep -E '^egressd_(connections_total\{source_namespace="(production|staging)"|dns_events_total\{event="(answers_learned|agent_observed)"|backstop_dropped_packets_total|gateway_redirects)' || true
echo
echo "demo finished in $(( $(date +%s) - started )) s"
