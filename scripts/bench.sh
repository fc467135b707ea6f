#!/usr/bin/env bash
# Every comparison of egressd's cost in one run and one table of ratios
# (docs/BENCHMARKS.md has the method and the results).
#
# One lab (scripts/lib/netlab.sh): nginx on 192.0.2.10 (HTTP 80, HTTPS 443)
# in the "internet" namespace; every variant below gets a "pod" of its own (a
# network namespace with a veth to it, and a cgroup), so all take the same
# packet path:
#   none          no hooks, no rules
#   empty         an empty cgroup connect4 program (the floor of any BPF hook)
#   egressd-N     an agent, REGISTRY_ONLY, N allowed (prefix, port) entries
#   ipset-N       iptables OUTPUT + ipset hash:net,port, the same N entries
#   nft-N         nftables, the same N entries in an interval set
#   squid-N       an egress proxy (squid, CONNECT + dstdomain) allowing N names
# for N in 1k, 10k and 100k. The destination under test is allowed in every
# rule set. Connect latency: connect_ab_bench (tests/bench/) runs batches of
# UDP connect(), UDP connect()+send() and TCP connect()+close() per variant,
# every variant once per round in random order, all workers on one CPU.
# Request latency: one HTTPS request (curl, TLS to nginx; through the proxy
# for squid-N) per variant per round, in random order. bench_table then prints
# each comparison as the median per-round ratio with its 95% CI.
#
# Needs root and a build (BIN=dir to override). Traffic stays in the lab.
#   scripts/bench.sh [--smoke] [ROUNDS] [REQUEST_ROUNDS]
# --smoke: 1k entries only and a few rounds (under a minute), for ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${BIN:-$root/build/bin}
smoke=
[ "${1:-}" = --smoke ] && { smoke=1; shift; }
if [ -n "$smoke" ]; then
  sizes=(1000); rounds=${1:-8}; request_rounds=${2:-4}
else
  sizes=(1000 10000 100000); rounds=${1:-150}; request_rounds=${2:-60}
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench: needs root (network namespaces, cgroups, BPF)" >&2
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
cpu=$(($(nproc) - 1))
for tool in ipset iptables nft squid curl clang bpftool jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done
source scripts/lib/netlab.sh

label() { case $1 in 1000) echo 1k ;; 10000) echo 10k ;; 100000) echo 100k ;; *) echo "$1" ;; esac; }

agents=()
empty_pin=/sys/fs/bpf/egressd-bench-empty-$$
cleanup() {
  set +e
  for p in "${agents[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for n in "${sizes[@]}"; do "$bin/egressd" --uninstall --bpffs "/sys/fs/bpf/egressd-bench-$(label "$n")-$$" >/dev/null 2>&1; done
  [ -n "${squid_pid:-}" ] && kill "$squid_pid" 2>/dev/null && wait "$squid_pid" 2>/dev/null
  [ -e "$empty_pin" ] && bpftool cgroup detach "$LAB_CGROUP/empty" connect4 pinned "$empty_pin" 2>/dev/null
  rm -f "$empty_pin"
  lab_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up egd-bn >/dev/null
target=192.0.2.10
samples=$LAB_DIR/samples
: > "$samples"

# The rule sets. Entry a (0 <= a < N/2) is 10.(a/256).(a%256).0/24 on TCP 443
# and 8443; ServiceEntry i holds ten of them (20 entries). The destination
# under test (192.0.2.10: TCP 80 and 443, UDP 9) is one more ServiceEntry.
rules_for() {  # N -> $LAB_DIR/rules-N/{egressd/*.yaml,ipset,nft,domains}
  local n=$1 dir=$LAB_DIR/rules-$1
  mkdir -p "$dir/egressd"
  awk -v n="$n" -v dir="$dir" -v target="$target" '
    function net(a) { return sprintf("10.%d.%d.0/24", int(a / 256), a % 256) }
    BEGIN {
      eg = dir "/egressd/entries.yaml"; ips = dir "/ipset"; nft = dir "/nft"; dom = dir "/domains"
      print "create allow hash:net,port family inet hashsize 65536 maxelem 262144" > ips
      print "add element inet egress allow {" > nft
      for (i = 0; i < n / 20; i++) {
        printf "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-%d, namespace: bench}\nspec:\n  hosts: [svc-%d.example.com]\n  addresses: [", i, i > eg
        for (a = i * 10; a < i * 10 + 10; a++) {
          printf "%s%s", (a > i * 10 ? ", " : ""), net(a) > eg
          printf "add allow %s,tcp:443\nadd allow %s,tcp:8443\n", net(a), net(a) > ips
          printf "  %s . tcp . 443, %s . tcp . 8443,\n", net(a), net(a) > nft
        }
        print "]\n  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443, name: tls, protocol: TLS}]\n  location: MESH_EXTERNAL\n  resolution: NONE" > eg
      }
      printf "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: bench}\nspec:\n  hosts: [api.example.com]\n  addresses: [%s/32]\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}, {number: 9, name: udp-discard, protocol: UDP}]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n  endpoints: [{address: %s}]\n", target, target > eg
      printf "add allow %s,tcp:80\nadd allow %s,tcp:443\nadd allow %s,udp:9\n", target, target, target > ips
      printf "  %s . tcp . 80, %s . tcp . 443, %s . udp . 9\n}\n", target, target, target > nft
      # The proxy allows names: N of them, and the one under test.
      for (i = 0; i < n; i++) printf "svc-%d.example.com\n", i > dom
      print "api.example.com" > dom
    }'
}

# Pods: index 1.. in the lab; each variant's cgroup and netns.
declare -A cg ns
pod_index=0
pod() {  # pod VARIANT CGROUP_PATH_BELOW_LAB
  pod_index=$((pod_index + 1))
  cg[$1]=$(lab_pod "$2" "$pod_index")
  ns[$1]=$(lab_netns_of "$2")
}
pod none plain/none
pod empty empty
variants=(none empty)

# The empty connect4 program, attached to its pod's cgroup.
clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c tests/bench/empty_connect4.bpf.c -o "$LAB_DIR/empty.o"
bpftool prog load "$LAB_DIR/empty.o" "$empty_pin" type cgroup/connect4
bpftool cgroup attach "${cg[empty]}" connect4 pinned "$empty_pin"

port=9490
for n in "${sizes[@]}"; do
  l=$(label "$n")
  rules_for "$n"
  rules=$LAB_DIR/rules-$n
  # egressd: its own agent, cgroup root and pins; the workload below them.
  v=egressd-$l
  pod "$v" "$v/bench/w"
  printf 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}\n---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: w, namespace: bench}\nspec: {cgroup: bench/w}\n' \
    > "$rules/egressd/workload.yaml"
  "$bin/egressd" --policy-dir "$rules/egressd" --cgroup-root "$LAB_CGROUP/$v" --bpffs "/sys/fs/bpf/egressd-bench-$l-$$" \
    --admin-addr "127.0.0.1:$port" --dns-server "$LAB_RESOLVER" --tc-mode off --access-log /dev/null \
    >"$LAB_DIR/$v.log" 2>&1 &
  agents+=($!)
  eval "admin_${l}=127.0.0.1:$port agent_${l}=$!"
  port=$((port + 1))
  # iptables + ipset: accept the set's (address, port) pairs, reject the rest.
  v=ipset-$l
  pod "$v" "plain/$v"
  ip netns exec "${ns[$v]}" ipset restore < "$rules/ipset"
  ip netns exec "${ns[$v]}" iptables -A OUTPUT -o lo -j ACCEPT
  ip netns exec "${ns[$v]}" iptables -A OUTPUT -m set --match-set allow dst,dst -j ACCEPT
  ip netns exec "${ns[$v]}" iptables -A OUTPUT -j REJECT
  # nftables: one interval set of (address . protocol . port).
  v=nft-$l
  pod "$v" "plain/$v"
  { printf 'table inet egress {\n  set allow { type ipv4_addr . inet_proto . inet_service; flags interval; }\n'
    printf '  chain output { type filter hook output priority 0; policy accept;\n'
    printf '    oif lo accept\n    ip daddr . meta l4proto . th dport @allow accept\n    reject\n  }\n}\n'
    cat "$rules/nft"; } > "$rules/nft.conf"
  ip netns exec "${ns[$v]}" nft -f "$rules/nft.conf"
  variants+=("egressd-$l" "ipset-$l" "nft-$l")
done

# The proxy: one squid in the "internet" namespace, one port per size, each
# port's CONNECTs allowed to its size's names (dstdomain) on 443. It resolves
# the name from its own hosts file. Clients are in the `none` pod.
sq=$LAB_DIR/squid
mkdir -p "$sq"
echo "$target api.example.com" > "$sq/hosts"
{
  echo "pid_filename $sq/squid.pid"
  echo "cache_log $sq/cache.log"
  echo "access_log none"
  echo "cache deny all"
  echo "cache_mem 8 MB"
  echo "coredump_dir $sq"
  echo "hosts_file $sq/hosts"
  echo "dns_nameservers 127.0.0.1"
  echo "shutdown_lifetime 0 seconds"
  echo "acl SSL_ports port 443"
  echo "acl CONNECT method CONNECT"
  sp=3128
  for n in "${sizes[@]}"; do
    l=$(label "$n")
    echo "http_port $sp name=p$l"
    echo "acl port_$l myportname p$l"
    echo "acl names_$l dstdomain \"$LAB_DIR/rules-$n/domains\""
    echo "http_access allow CONNECT SSL_ports port_$l names_$l"
    eval "squid_port_${l}=$sp"
    sp=$((sp + 1))
  done
  echo "http_access deny all"
} > "$sq/squid.conf"
chmod a+x "$LAB_DIR"   # squid drops to its own user
chmod -R a+rwX "$sq" "$LAB_DIR"/rules-*
ip netns exec "$LAB-ext" squid -N -f "$sq/squid.conf" >"$sq/stdout" 2>&1 &
squid_pid=$!

# Ready: every agent has applied its policy, squid listens.
for n in "${sizes[@]}"; do
  l=$(label "$n"); a=$(eval echo "\$admin_$l")
  for _ in $(seq 1200); do curl -sf "http://$a/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$a/readyz" >/dev/null || { echo "agent $l not ready: $(tail -n 5 "$LAB_DIR/egressd-$l.log")" >&2; exit 1; }
  entries=$(curl -sf "http://$a/metrics" | awk '$1 == "egressd_bpf_map_entries{map=\"dest_prefixes\"}" { print $2 }')
  echo "== ${SECONDS}s: egressd-$l ready: $entries prefixes in dest_prefixes, RSS $(( $(ps -o rss= -p "$(eval echo "\$agent_$l")") / 1024 )) MiB" >&2
done
for _ in $(seq 100); do ip netns exec "$LAB-ext" bash -c "exec 3<>/dev/tcp/127.0.0.1/3128" 2>/dev/null && break; sleep 0.1; done

# Every variant's worker in its cgroup and netns: all allowed, and the
# enforcers enforce (a denied destination is refused by each).
run_in() { local v=$1; shift; (echo $BASHPID > "${cg[$v]}/cgroup.procs" && exec ip netns exec "${ns[$v]}" "$@"); }
for v in "${variants[@]}"; do
  [ "$(run_in "$v" "$bin/egressd_probe" connect "$target" 80)" = ok ] || { echo "bench: $v cannot reach $target:80" >&2; exit 1; }
  case $v in none | empty) continue ;; esac
  [ "$(run_in "$v" "$bin/egressd_probe" connect 198.51.100.20 80)" != ok ] || { echo "bench: $v lets 198.51.100.20 through" >&2; exit 1; }
done

# BENCH_HOLD=1: keep the lab up for profiling (perf, bpftool) until killed.
if [ -n "${BENCH_HOLD:-}" ]; then
  for v in "${variants[@]}"; do echo "$v cgroup=${cg[$v]} netns=${ns[$v]}"; done > "$LAB_DIR/variants"
  echo "lab held: $LAB_DIR/variants; kill $$ to end" >&2
  sleep infinity & wait $!
fi
echo "== ${SECONDS}s: connect latency, $(( ${#variants[@]} + 2 )) variants, $rounds rounds" >&2
# What kernel BPF run-time stats cost (the agent turned them on node-wide
# before --bpf-run-stats): the same workloads, their batches with the stats on.
mid=$(label "${sizes[$(( ${#sizes[@]} / 2 ))]}")
args=(--variant "empty+stats=${cg[empty]}@${ns[empty]}" --stats-on empty+stats
  --variant "egressd-$mid+stats=${cg[egressd-$mid]}@${ns[egressd-$mid]}" --stats-on "egressd-$mid+stats")
for v in "${variants[@]}"; do args+=(--variant "$v=${cg[$v]}@${ns[$v]}"); done
taskset -c "$cpu" "$bin/connect_ab_bench" "${args[@]}" --reference none --rounds "$rounds" --warmup 3 \
  --udp "$target:9" --udp-send --tcp "$target:80" --samples "$samples" > "$LAB_DIR/connect.txt"

# Where the time goes, per program: the kernel's BPF run-time stats, held on
# by connect_ab_bench for this phase only (they cost every program a clock
# read, so the phase above runs without them), egressd's programs at every
# size and the empty program, UDP connect() and TCP connect+close.
prog_rounds=$(( rounds / 3 > 5 ? rounds / 3 : 5 ))
echo "== ${SECONDS}s: program run time, $prog_rounds rounds" >&2
prog_ids() {  # ADMIN -> ids of connect4,sock_create,sock_release,dns_egress,dns_ingress
  curl -sf "http://$1/api/v1/status" | jq -r '[.programs[] | {(.name): .id}] | add |
    [.egressd_connect4, .egressd_sock_create, .egressd_sock_release, .egressd_dns_egress, .egressd_dns_ingress] | join(",")'
}
args=(--variant "empty=${cg[empty]}@${ns[empty]}" --progs "empty=$(bpftool prog show pinned "$empty_pin" -j | jq .id)")
for n in "${sizes[@]}"; do
  l=$(label "$n")
  args+=(--variant "egressd-$l=${cg[egressd-$l]}@${ns[egressd-$l]}" --progs "egressd-$l=$(prog_ids "$(eval echo "\$admin_$l")")")
done
taskset -c "$cpu" "$bin/connect_ab_bench" "${args[@]}" --reference empty --rounds "$prog_rounds" --warmup 2 \
  --prog-names connect4,sock_create,sock_release,dns_egress,dns_ingress \
  --udp "$target:9" --tcp "$target:80" --samples "$samples.progs" > "$LAB_DIR/programs.txt"
sed 's/^\(udp\|tcp\) /\1-prog /' "$samples.progs" >> "$samples"

# Request latency: one HTTPS GET per variant per round, order shuffled;
# curl's own timings (no process start): TLS established, and the whole
# request. Direct variants reach 192.0.2.10 by --resolve; squid-N by CONNECT.
echo "== ${SECONDS}s: request latency, $request_rounds rounds" >&2
req_variants=(none)
for n in "${sizes[@]}"; do l=$(label "$n"); req_variants+=("egressd-$l" "ipset-$l" "nft-$l" "squid-$l"); done
request() {  # VARIANT -> "appconnect total" in seconds
  local v=$1 via=(--resolve "api.example.com:443:$target") pod=$1
  case $v in squid-*) pod=none; via=(-x "http://$(ip -n "${ns[none]}" route show default | awk '{print $3}'):$(eval echo "\$squid_port_${v#squid-}")") ;; esac
  run_in "$pod" curl -sf -o /dev/null --cacert "$LAB_DIR/nginx/tls.crt" "${via[@]}" \
    -w '%{time_appconnect} %{time_total}\n' https://api.example.com/
}
for v in "${req_variants[@]}"; do
  request "$v" >/dev/null || { echo "bench: $v: the HTTPS request failed; squid: $(tail -n 5 "$sq/cache.log")" >&2; exit 1; }
done
for ((r = 0; r < request_rounds; r++)); do
  for v in $(printf '%s\n' "${req_variants[@]}" | shuf); do
    read -r tls total < <(request "$v")
    awk -v v="$v" -v r="$r" -v t="$tls" -v x="$total" \
      'BEGIN { printf "https tls %s %d %.0f\nhttps request %s %d %.0f\n", v, r, t * 1e9, v, r, x * 1e9 }' >> "$samples"
  done
done

specs=()
big=$(label "${sizes[-1]}"); small=$(label "${sizes[0]}")
specs+=("added|UDP connect(): ns added, egressd-$mid / empty connect4 program|udp|connect|egressd-$mid|empty|none")
specs+=("ratio|UDP connect(): egressd-$mid / no hooks|udp|connect|egressd-$mid|none")
specs+=("ratio|TCP connect+close: egressd-$mid / no hooks|tcp|cycle|egressd-$mid|none")
specs+=("ratio|TCP connect+close: empty connect4 / no hooks|tcp|cycle|empty|none")
specs+=("added|TCP connect+close: ns added, egressd-$mid / empty connect4 program|tcp|cycle|egressd-$mid|empty|none")
specs+=("ratio|UDP connect+send: egressd-$mid / no hooks|udp-send|cycle|egressd-$mid|none")
specs+=("ratio|UDP connect() (no packet): egressd-$mid / iptables+ipset|udp|connect|egressd-$mid|ipset-$mid")
specs+=("ratio|BPF run-time stats on: UDP connect+close, egressd-$mid with / without|udp|cycle|egressd-$mid+stats|egressd-$mid")
specs+=("ratio|BPF run-time stats on: UDP connect+close, empty program with / without|udp|cycle|empty+stats|empty")
specs+=("ratio|BPF run-time stats on: TCP connect+close, egressd-$mid with / without|tcp|cycle|egressd-$mid+stats|egressd-$mid")
for n in "${sizes[@]}"; do
  l=$(label "$n")
  specs+=("ratio|TCP connect+close at $l: egressd / iptables+ipset|tcp|cycle|egressd-$l|ipset-$l")
  specs+=("ratio|TCP connect+close at $l: egressd / nftables|tcp|cycle|egressd-$l|nft-$l")
  specs+=("ratio|UDP connect+send at $l: egressd / iptables+ipset|udp-send|cycle|egressd-$l|ipset-$l")
  specs+=("ratio|UDP connect+send at $l: egressd / nftables|udp-send|cycle|egressd-$l|nft-$l")
  specs+=("ratio|HTTPS request at $l: egressd / iptables+ipset|https|request|egressd-$l|ipset-$l")
  specs+=("ratio|HTTPS request at $l: egressd / nftables|https|request|egressd-$l|nft-$l")
  specs+=("ratio|HTTPS request at $l: egressd / squid proxy|https|request|egressd-$l|squid-$l")
  specs+=("ratio|TLS established at $l: egressd / squid proxy|https|tls|egressd-$l|squid-$l")
done
specs+=("ratio|connect4 ns/run (UDP connect): egressd-$mid / the empty program|udp-prog|connect4|egressd-$mid|empty")
for n in "${sizes[@]}"; do
  l=$(label "$n")
  [ "$l" = "$small" ] && continue
  for p in connect4 sock_release; do
    specs+=("ratio|$p ns/run, UDP connect+close, egressd-$l / egressd-$small|udp-prog|$p|egressd-$l|egressd-$small")
  done
  for p in connect4 dns_egress dns_ingress sock_release; do
    specs+=("ratio|$p ns/run, TCP connect+close, egressd-$l / egressd-$small|tcp-prog|$p|egressd-$l|egressd-$small")
  done
done
if [ "$big" != "$small" ]; then
  for t in egressd ipset nft; do
    specs+=("ratio|TCP connect+close, $t: $big / $small entries|tcp|cycle|$t-$big|$t-$small")
    specs+=("ratio|UDP connect+send, $t: $big / $small entries|udp-send|cycle|$t-$big|$t-$small")
  done
  specs+=("ratio|HTTPS request, squid: $big / $small names|https|request|squid-$big|squid-$small")
fi

echo
echo "egressd benchmarks, $(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?), kernel $(uname -r),"
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg);"
echo "connect: $rounds rounds, every variant once per round in random order (workers on CPU $cpu); requests: $request_rounds rounds"
echo "(A and B: medians over rounds; the ratio is the median of the per-round A/B ratios)"
echo
"$bin/bench_table" "$samples" "${specs[@]}"
if [ -n "${BENCH_KEEP:-}" ]; then
  cp "$samples" "$BENCH_KEEP.samples"
  cp "$LAB_DIR/connect.txt" "$BENCH_KEEP.connect.txt"
  cp "$LAB_DIR/programs.txt" "$BENCH_KEEP.programs.txt"
fi
