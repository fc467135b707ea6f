# Learned IPs belong to the scope that asked, and only if that scope's policy
# allows the name; an answer a workload forges to itself teaches nothing.
for w in production/web billing/api; do lab_workload "$w" >/dev/null; done
lab_external_addr 192.0.2.21 192.0.2.22 192.0.2.27
lab_start_dnsmasq --local-ttl=60 \
  --host-record=scoped.example.org,192.0.2.21 \
  --host-record=prod-only.example.org,192.0.2.22 || { e2e_fail "dnsmasq"; return; }
e2e_policy mesh.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
YAML
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: api, namespace: billing}
spec: {cgroup: billing/api}
YAML
e2e_policy entries.yaml <<'YAML'
# production sees both names on port 80 ...
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: scoped, namespace: production}
spec:
  hosts: [scoped.example.org, prod-only.example.org, forged.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  exportTo: ["."]
---
# ... billing sees one of them, on port 8080 only.
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: scoped, namespace: billing}
spec:
  hosts: [scoped.example.org]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  exportTo: ["."]
YAML
e2e_start_agent || return

expect_http production/web http://scoped.example.org/
expect_http billing/api http://scoped.example.org:8080/                   # its own entry, its own port
expect_probe billing/api connect 192.0.2.21 80 EPERM                      # production's port is not billing's
lab_exec billing/api dig +short prod-only.example.org >/dev/null          # billing resolves production's name...
expect_probe billing/api connect 192.0.2.22 80 EPERM                      # ...and gets nothing
expect_http production/web http://prod-only.example.org/
out=$(egressctl -o json dns)
if [ "$(grep -c '"ip": "192.0.2.22"' <<<"$out")" = 1 ] && grep -q '"scope": "billing|"' <<<"$out"; then
  e2e_ok "192.0.2.22 learned for production only"
else
  e2e_fail "egressctl dns: $out"
fi

# A forged answer (raw socket, resolver's source address, looped back).
got=$(lab_exec production/web python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/dns_forge.py" "$LAB_RESOLVER" forged.example.org 192.0.2.27)
echo "  (forger: $got)"
expect_probe production/web connect 192.0.2.27 80 EPERM
if egressctl -o json dns | grep -q '"ip": "192.0.2.27"'; then e2e_fail "forged IP learned"; else e2e_ok "forged IP not learned"; fi
expect_metric '^egressd_dns_events_total\{event="spoofed"\} [1-9]'
