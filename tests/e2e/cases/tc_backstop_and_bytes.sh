# The TC backstop on each workload's host-side veth (workloads in their own
# network namespaces, as pods are): exact byte and packet counts per flow
# each way; raw-socket and AF_PACKET datagrams to a denied destination are
# dropped (nothing arrives) and counted in the flow, a metric and the access
# log; the same raw datagrams to an allowed destination arrive; answers to a
# connection into the workload pass; an audited workload's would-be drops
# pass and are counted; a removed workload's links go; the backstop keeps
# dropping while the agent is down, and a restarted agent adopts it. auto
# picks tcx links where the kernel has them (6.6+), clsact filters before.
E2E_TC_MODE=auto
TC_MODE=$(e2e_kernel_tc_mode)
lab_pod production/web 1 >/dev/null
lab_pod staging/app 2 >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
YAML
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging, labels: {egressd.io/audit: "true"}}
spec: {cgroup: staging/app}
YAML
e2e_policy partner.yaml <<'YAML'
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  exportTo: ["*"]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 9000, name: udp-sync, protocol: UDP}
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" --istio-metrics || return
pkt=$EGRESSD_BIN/egressd_packet

# The pods' main processes: the agent attaches once a workload has one.
lab_exec production/web sleep 600 &
lab_exec staging/app sleep 600 &
attached() {
  [ "$(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq '[.tc_interfaces[] | select(.mode == "'"$TC_MODE"'")] | length')" = 2 ]
}
if ms=$(wait_until 5000 attached); then e2e_ok "TC backstop attached ($TC_MODE) to both workloads' veths in ${ms} ms"; else
  e2e_fail "TC not attached: $(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -c .tc_interfaces)"; return; fi
iface=$(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -r '.tc_interfaces[] | select(.workload == "production/web") | .interface')
[ "$iface" = "$LAB-v1" ] && e2e_ok "production/web's host side is $iface" || e2e_fail "host side: '$iface', expected $LAB-v1"
egressctl status | grep -q "$LAB-v1" && e2e_ok "egressctl status lists $LAB-v1" || e2e_fail "egressctl status lacks the TC interface"

# flow FIELD IP PORT PROTO [WORKLOAD]: one field of one flow from /api/v1/flows.
flow() {
  egressctl -o json flows --workload "${5:-production/web}" --limit 1000 |
    jq -r --arg ip "$2" --argjson port "$3" --arg proto "$4" \
      "[.flows[] | select(.destination_ip == \$ip and .destination_port == \$port and .protocol == \$proto)][0].$1 // 0"
}
expect_flow() {  # expect_flow FIELD IP PORT PROTO EXPECTED [WORKLOAD]
  local got
  got=$(flow "$1" "$2" "$3" "$4" "${6:-}")
  [ "$got" = "$5" ] && e2e_ok "flow $2:$3/$4 $1 = $got" || e2e_fail "flow $2:$3/$4 $1: expected $5, got $got"
}

# Sinks in the "internet": what arrives, counted at the far end.
ip netns exec "$LAB-ext" "$pkt" sink 192.0.2.10 9000 4 >"$LAB_DIR/sink.allowed" 2>/dev/null &
ip netns exec "$LAB-ext" "$pkt" sink 198.51.100.20 9999 4 >"$LAB_DIR/sink.denied" 2>/dev/null &
e2e_wait_listening "$LAB-ext" udp 9000
e2e_wait_listening "$LAB-ext" udp 9999
# Sockets through the hooks: 3 datagrams of 5 bytes, 33 IP bytes each.
for _ in 1 2 3; do lab_exec production/web "$EGRESSD_BIN/egressd_probe" sendto 192.0.2.10 9000 >/dev/null; done
# Raw sockets past them: 5 x 100 payload bytes (128 IP bytes) allowed, 4 to a denied address.
lab_exec production/web "$pkt" raw 192.0.2.10 9000 5 100 >/dev/null
lab_exec production/web "$pkt" raw 198.51.100.20 9999 4 100 >/dev/null
mac=$(ip -n "$LAB-ext" link show "$LAB-v1" | awk '/link\/ether/ { print $2 }')
lab_exec production/web "$pkt" packet eth0 "$mac" 10.99.1.2 198.51.100.20 9999 3 50 >/dev/null
wait_until 6000 test -s "$LAB_DIR/sink.denied" >/dev/null
wait_until 6000 test -s "$LAB_DIR/sink.allowed" >/dev/null
[ "$(cat "$LAB_DIR/sink.allowed")" = "8 515" ] && e2e_ok "allowed: all 8 datagrams arrived (3 socket, 5 raw)" ||
  e2e_fail "allowed sink got '$(cat "$LAB_DIR/sink.allowed")', expected '8 515'"
[ "$(cat "$LAB_DIR/sink.denied")" = "0 0" ] && e2e_ok "denied: no raw or AF_PACKET datagram arrived" ||
  e2e_fail "denied sink got '$(cat "$LAB_DIR/sink.denied")', expected '0 0'"
expect_flow 'connects.allowed' 192.0.2.10 9000 udp 3
expect_flow packets_out 192.0.2.10 9000 udp 8
expect_flow bytes_out 192.0.2.10 9000 udp $((3 * 33 + 5 * 128))
expect_flow packets_dropped 198.51.100.20 9999 udp 7
expect_flow packets_out 198.51.100.20 9999 udp 0
expect_metric '^egressd_backstop_dropped_packets_total\{source_namespace="production",source_workload="web"\} 7$'
expect_metric '^egressd_flow_events_total\{event="tc_dropped"\} 7$'
if grep '"destination_ip":"198.51.100.20"' "$ACCESS_LOG" | grep '"verdict":"denied"' | grep -q '"source":"packet"'; then
  e2e_ok "access log: the backstop's denial, source packet"
else
  e2e_fail "no access-log line for the backstop's denial: $(tail -n 3 "$ACCESS_LOG")"
fi
dump=$(bpftool map dump pinned "$E2E_BPFFS/flows")
grep -q '"packets_dropped": 7' <<<"$dump" && e2e_ok "bpftool flows shows packets_dropped 7" || e2e_fail "bpftool dump lacks packets_dropped 7"

# TCP both ways: bytes in and out counted on the connect()ed flow.
expect_http production/web http://192.0.2.10/
[ "$(flow bytes_out 192.0.2.10 80 tcp)" -gt 0 ] && [ "$(flow bytes_in 192.0.2.10 80 tcp)" -gt 0 ] &&
  [ "$(flow packets_in 192.0.2.10 80 tcp)" -gt 0 ] && e2e_ok "TCP flow counts bytes both ways" ||
  e2e_fail "TCP flow bytes out/in: $(flow bytes_out 192.0.2.10 80 tcp)/$(flow bytes_in 192.0.2.10 80 tcp)"
expect_metric '^istio_tcp_sent_bytes_total\{.*destination_service_name="partner.example.com".*\} [1-9]'
expect_metric '^istio_tcp_received_bytes_total\{.*destination_service_name="partner.example.com".*\} [1-9]'

# A connection into the workload: its answers go to an address its policy
# does not allow, and pass because the connection came in.
lab_exec production/web "$pkt" tcpecho 10.99.1.2 7000 >/dev/null &
e2e_wait_listening "$(lab_netns_of production/web)" tcp 7000
got=$(ip netns exec "$LAB-ext" "$pkt" ask 10.99.1.2 7000 tcp)
[ "$got" = reply ] && e2e_ok "answers on a TCP connection into the workload pass" || e2e_fail "inbound TCP: $got"

# Audit: the would-be drops pass and are counted.
ip netns exec "$LAB-ext" "$pkt" sink 198.51.100.20 9998 3 >"$LAB_DIR/sink.audit" 2>/dev/null &
e2e_wait_listening "$LAB-ext" udp 9998
lab_exec staging/app "$pkt" raw 198.51.100.20 9998 2 10 >/dev/null
wait_until 5000 test -s "$LAB_DIR/sink.audit" >/dev/null
[ "$(cat "$LAB_DIR/sink.audit")" = "2 20" ] && e2e_ok "audit: raw datagrams pass" ||
  e2e_fail "audit sink got '$(cat "$LAB_DIR/sink.audit")'"
expect_metric '^egressd_flow_events_total\{event="tc_audited"\} 2$'
expect_flow packets_out 198.51.100.20 9998 udp 2 staging/app

# The agent down: the pinned links keep dropping. Restarted: adopted.
e2e_stop_agent
# egressd's TC programs on a host-side veth, one direction: 1 or 0.
tc_filters() { tc -n "$LAB-ext" filter show dev "$1" "$2" | grep -c 'handle 0xe9d'; }
if [ "$TC_MODE" = tcx ]; then
  ls "$E2E_BPFFS/links/" | grep -q '^tc-' && e2e_ok "tcx links pinned while the agent is down" || e2e_fail "no pinned tc links"
else
  [ "$(tc_filters "$LAB-v1" ingress)$(tc_filters "$LAB-v1" egress)" = 11 ] &&
    e2e_ok "clsact filters stay while the agent is down" || e2e_fail "no clsact filters on $LAB-v1"
fi
ip netns exec "$LAB-ext" "$pkt" sink 198.51.100.20 9997 2 >"$LAB_DIR/sink.down" 2>/dev/null &
e2e_wait_listening "$LAB-ext" udp 9997
lab_exec production/web "$pkt" raw 198.51.100.20 9997 3 10 >/dev/null
wait_until 4000 test -s "$LAB_DIR/sink.down" >/dev/null
[ "$(cat "$LAB_DIR/sink.down")" = "0 0" ] && e2e_ok "agent down: raw datagrams still dropped" ||
  e2e_fail "agent down: sink got '$(cat "$LAB_DIR/sink.down")'"
e2e_start_agent --access-log "$ACCESS_LOG" || return
wait_until 5000 attached >/dev/null && e2e_ok "restarted agent has both attached" || e2e_fail "not attached after restart"
if [ "$TC_MODE" = tcx ]; then
  expect_log 'TC backstop adopted on'
else
  # Replaced in place (same handle), not added beside the old one.
  [ "$(tc_filters "$LAB-v1" ingress)$(tc_filters "$LAB-v1" egress)" = 11 ] &&
    e2e_ok "restart replaced the clsact filters in place" || e2e_fail "clsact filters on $LAB-v1 after restart"
fi

# A workload removed from the policy: its links and map entry go.
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
detached() { [ "$(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq '.tc_interfaces | length')" = 1 ]; }
wait_until 5000 detached >/dev/null && e2e_ok "staging/app removed: one TC interface left" || e2e_fail "staging/app still attached"
if [ "$TC_MODE" = tcx ]; then
  [ "$(ls "$E2E_BPFFS/links/" | grep -c '^tc-')" = 2 ] && e2e_ok "its two pinned links are gone" ||
    e2e_fail "pinned tc links: $(ls "$E2E_BPFFS/links/" | grep '^tc-' | tr '\n' ' ')"
else
  [ "$(tc_filters "$LAB-v2" ingress)$(tc_filters "$LAB-v2" egress)" = 00 ] && e2e_ok "its two clsact filters are gone" ||
    e2e_fail "clsact filters left on $LAB-v2"
fi
