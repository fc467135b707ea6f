# Observability after real flows: exact connection counters per workload and
# destination, the flows map through bpftool (named fields), the JSON access
# log, egressctl flows/suggest/explain/status, audit mode (per-workload label)
# allows and records, and suggest's YAML, applied, allows what audit saw.
lab_workload production/web >/dev/null
lab_workload staging/app >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
YAML
e2e_policy policy.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging, labels: {egressd.io/audit: "true"}}
spec: {cgroup: staging/app}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner-api, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.0/24]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
  - address: 192.0.2.10
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" --istio-metrics --bpf-run-stats || return

for _ in 1 2 3; do expect_http production/web http://192.0.2.10/; done
for _ in 1 2; do expect_probe production/web connect 198.51.100.20 80 EPERM; done
for _ in 1 2; do expect_probe staging/app connect 198.51.100.20 80 ok; done   # audit: allowed

labels='source_namespace="production",source_workload="web"'
expect_metric "^egressd_connections_total\{$labels,destination_host=\"partner.example.com\",destination_port=\"80\",protocol=\"tcp\",verdict=\"allowed\"\} 3$"
expect_metric "^egressd_connections_total\{$labels,destination_host=\"BlackHoleCluster\",destination_port=\"80\",protocol=\"tcp\",verdict=\"denied\"\} 2$"
expect_metric '^egressd_connections_total\{source_namespace="staging",source_workload="app",destination_host="PassthroughCluster",destination_port="80",protocol="tcp",verdict="audit"\} 2$'
expect_metric '^istio_tcp_connections_opened_total\{reporter="source",source_workload="web",source_workload_namespace="production",destination_service_name="partner.example.com",destination_port="80"\} 3$'
expect_metric '^istio_tcp_connections_closed_total\{reporter="source",source_workload="web",source_workload_namespace="production",destination_service_name="partner.example.com",destination_port="80"\} 3$'
expect_metric '^egressd_bpf_program_runs_total\{program="egressd_connect4"\} [1-9]'
expect_metric '^egressd_bpf_map_capacity\{map="flows"\} 65536$'
expect_metric '^egressd_flows_evictions_estimate 0$'

# bpftool reads the pinned map with its BTF: named fields.
dump=$(bpftool map dump pinned "$E2E_BPFFS/flows")
for field in cgroup_id addr port protocol connects_allowed connects_denied connects_audited bytes_out packets_in last_seen_ns; do
  if grep -q "\"$field\"" <<<"$dump"; then e2e_ok "bpftool flows has $field"; else e2e_fail "bpftool flows lacks $field"; fi
done

# The access log: one line per new flow, denials rate limited per flow.
wait_until 2000 grep -q '"verdict":"audit"' "$ACCESS_LOG" >/dev/null
if grep '"destination_ip":"198.51.100.20"' "$ACCESS_LOG" | grep '"workload":"production/web"' |
  grep '"verdict":"denied"' | grep -q '"reason":"not_in_registry"'; then
  e2e_ok "access log has the denial"
else
  e2e_fail "access log lacks the denial: $(cat "$ACCESS_LOG")"
fi
if grep '"destination_ip":"192.0.2.10"' "$ACCESS_LOG" | grep '"host":"partner.example.com"' |
  grep '"service_entry":"production/partner-api"' | grep -q '"new_flow":true'; then
  e2e_ok "access log names the host and ServiceEntry of a new flow"
else
  e2e_fail "access log lacks the allowed new flow: $(cat "$ACCESS_LOG")"
fi
lines=$(grep -c '"destination_ip":"198.51.100.20".*"workload":"production/web"\|"workload":"production/web".*"destination_ip":"198.51.100.20"' "$ACCESS_LOG")
[ "$lines" = 1 ] && e2e_ok "repeated denials within a second: one line" || e2e_fail "expected 1 denial line, got $lines"

# egressctl
out=$(egressctl flows --workload production/web)
if grep -Eq '^production/web +192\.0\.2\.10:80 +tcp +partner\.example\.com +3 +0' <<<"$out"; then
  e2e_ok "egressctl flows table"; else e2e_fail "egressctl flows: $out"; fi
n=$(egressctl -o json flows --verdict denied | jq '[.flows[] | select(.connects.denied == 2)] | length')
[ "$n" = 1 ] && e2e_ok "egressctl flows --verdict denied -o json" || e2e_fail "flows --verdict denied: $n"
n=$(egressctl -o json flows --limit 1 | jq '.flows | length')
[ "$n" = 1 ] && e2e_ok "egressctl flows --limit 1" || e2e_fail "flows --limit: $n"
out=$(egressctl explain --workload staging/app --to 198.51.100.20:80)
grep -q audit <<<"$out" && e2e_ok "explain says audit" || e2e_fail "explain: $out"
out=$(egressctl status)
grep -q 'egressd_sock_release' <<<"$out" && grep -q '^flows ' <<<"$out" && e2e_ok "status lists programs and flows map" ||
  e2e_fail "status: $out"

# suggest: YAML for what audit saw denied; applied, it allows the flow.
yaml=$(egressctl suggest)
grep -q '198.51.100.20/32' <<<"$yaml" && grep -q 'namespace: staging' <<<"$yaml" && e2e_ok "suggest: $(tr '\n' ' ' <<<"$yaml")" ||
  e2e_fail "suggest: $yaml"
[ "$(egressctl -o json suggest | jq '.service_entries | length')" = 1 ] && e2e_ok "suggest -o json" || e2e_fail "suggest json"
gen=$(curl -s "http://$E2E_ADMIN/metrics" | awk '/^egressd_policy_generation /{print $2}')
e2e_policy suggested.yaml <<<"$yaml"
wait_until 5000 sh -c "curl -s http://$E2E_ADMIN/metrics | grep -q '^egressd_policy_generation $((gen + 1))'" >/dev/null
out=$(egressctl explain --workload staging/app --to 198.51.100.20:80)
grep -q 'allowed' <<<"$out" && grep -q 'egressd-suggested' <<<"$out" && e2e_ok "suggested entry allows" || e2e_fail "after suggest: $out"
expect_probe staging/app connect 198.51.100.20 80 ok
expect_metric '^egressd_connections_total\{source_namespace="staging",source_workload="app",destination_host="198-51-100-20.suggested.egressd.local",destination_port="80",protocol="tcp",verdict="allowed"\} 1$'

# Unreachable agent: a clear error, non-zero exit.
if out=$("$EGRESSD_BIN/egressctl" --admin-addr 127.0.0.1:1 flows 2>&1); then e2e_fail "egressctl succeeded without agent"
else grep -qi 'agent' <<<"$out" && e2e_ok "unreachable agent: $out" || e2e_fail "unreachable: $out"; fi
