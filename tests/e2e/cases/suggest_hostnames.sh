# egressctl suggest names what an audited workload asked for: a destination
# whose address came in a DNS answer the workload got is suggested by its
# hostname (resolution DNS), grouped by host and port; an address no name
# explains gets an address entry. Applied (and audit turned off), the
# suggestions make exactly the audited calls pass.
lab_workload staging/app >/dev/null
lab_external_addr 192.0.2.66 198.51.100.66 198.51.100.67 203.0.113.9 198.51.100.99
lab_start_dnsmasq --local-ttl=60 --host-record=evil.example.com,192.0.2.66 \
  --host-record=multi.example.com,198.51.100.66 --host-record=multi.example.com,198.51.100.67 ||
  { e2e_fail "dnsmasq"; return; }
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
YAML
audit_label() {
  e2e_policy workloads.yaml <<YAML
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging, labels: {egressd.io/audit: "$1"}}
spec: {cgroup: staging/app}
YAML
}
audit_label true
e2e_start_agent || return

expect_http staging/app http://evil.example.com/            # audited: allowed, recorded
expect_http staging/app http://multi.example.com/
expect_probe staging/app connect 203.0.113.9 80 ok          # no name: an address
expect_probe staging/app connect 192.0.2.66 8080 ok       # the name's other port, audited too

yaml=$(egressctl suggest)
echo "$yaml" | sed 's/^/    /'
json=$(egressctl -o json suggest)
hosts=$(jq -r '[.service_entries[].destination] | sort | join(" ")' <<<"$json")
[ "$hosts" = "203.0.113.9 evil.example.com multi.example.com" ] && e2e_ok "suggested: $hosts" ||
  e2e_fail "suggested destinations: $hosts"
ports=$(jq -r '.service_entries[] | select(.destination == "evil.example.com") | [.ports[].number] | sort | join(",")' <<<"$json")
[ "$ports" = "80,8080" ] && e2e_ok "evil.example.com grouped with its ports $ports" || e2e_fail "evil.example.com ports: $ports"
grep -q 'resolution: DNS' <<<"$yaml" && ! grep -q '192-0-2-66.suggested' <<<"$yaml" &&
  e2e_ok "hostnames with resolution DNS, no invented host for a named address" || e2e_fail "suggest YAML: $yaml"
grep -q '203.0.113.9/32' <<<"$yaml" && e2e_ok "an address entry for the unnamed destination" ||
  e2e_fail "no address entry: $yaml"

# Applied, with audit off: exactly the audited calls pass.
gen=$(curl -s "http://$E2E_ADMIN/metrics" | awk '/^egressd_policy_generation /{print $2}')
e2e_policy suggested.yaml <<<"$yaml"
audit_label false
wait_until 5000 sh -c "curl -s http://$E2E_ADMIN/metrics | awk '/^egressd_policy_generation /{exit !(\$2 > $gen)}'" >/dev/null
wait_until 5000 sh -c "! curl -s http://$E2E_ADMIN/api/v1/policy?workload=staging/app | grep -q '\"audit\": *true'" >/dev/null
expect_probe staging/app connect 198.51.100.99 80 EPERM     # never audited: still denied
expect_http staging/app http://evil.example.com/            # resolved again, learned, allowed
expect_http staging/app http://multi.example.com/
expect_probe staging/app connect 203.0.113.9 80 ok
expect_probe staging/app connect 192.0.2.66 8080 ok
expect_probe staging/app connect 192.0.2.66 443 EPERM       # a port it never used
