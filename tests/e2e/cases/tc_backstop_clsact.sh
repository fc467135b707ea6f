# The TC backstop where tcx is missing (forced with --tc-mode clsact): the
# same drop and count through a clsact filter, shown by `tc filter`, and
# removed with its workload.
E2E_TC_MODE=clsact
lab_pod production/web 1 >/dev/null
e2e_policy policy.yaml <<'YAML'
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
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  ports: [{number: 9000, name: udp-sync, protocol: UDP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
YAML
e2e_start_agent || return
pkt=$EGRESSD_BIN/egressd_packet
lab_exec production/web sleep 600 &
attached() { [ "$(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -r '.tc_interfaces[0].mode')" = clsact ]; }
wait_until 5000 attached >/dev/null && e2e_ok "attached as a clsact filter" ||
  { e2e_fail "not attached: $(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -c .tc_interfaces)"; return; }
tc -n "$LAB-ext" filter show dev "$LAB-v1" ingress | grep -q "handle 0xe9d .*egressd_tc_from" &&
  e2e_ok "tc filter show lists egressd's filter (handle 0xe9d) on $LAB-v1 ingress" || e2e_fail "no clsact filter on $LAB-v1"
ip netns exec "$LAB-ext" "$pkt" sink 198.51.100.20 9999 2 >"$LAB_DIR/sink.denied" 2>/dev/null &
ip netns exec "$LAB-ext" "$pkt" sink 192.0.2.10 9000 2 >"$LAB_DIR/sink.allowed" 2>/dev/null &
sleep 0.3
lab_exec production/web "$pkt" raw 198.51.100.20 9999 4 10 >/dev/null
lab_exec production/web "$pkt" raw 192.0.2.10 9000 3 10 >/dev/null
wait_until 4000 test -s "$LAB_DIR/sink.denied" >/dev/null
wait_until 4000 test -s "$LAB_DIR/sink.allowed" >/dev/null
[ "$(cat "$LAB_DIR/sink.denied")" = "0 0" ] && e2e_ok "denied raw datagrams dropped" || e2e_fail "denied sink: $(cat "$LAB_DIR/sink.denied")"
[ "$(cat "$LAB_DIR/sink.allowed")" = "3 30" ] && e2e_ok "allowed raw datagrams arrive" || e2e_fail "allowed sink: $(cat "$LAB_DIR/sink.allowed")"
expect_metric '^egressd_backstop_dropped_packets_total\{source_namespace="production",source_workload="web"\} 4$'
e2e_policy policy.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
YAML
gone() { ! tc -n "$LAB-ext" filter show dev "$LAB-v1" ingress | grep -q "handle 0xe9d"; }
wait_until 5000 gone >/dev/null && e2e_ok "workload removed: its clsact filter is gone" || e2e_fail "clsact filter still there"
