# exportTo limits which namespaces see a ServiceEntry; a Sidecar's egress
# hosts limit what a namespace imports, and its outboundTrafficPolicy
# replaces the mesh's for the workloads it selects.
for w in production/web production/legacy billing/api; do lab_workload "$w" >/dev/null; done
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
metadata: {name: web, namespace: production, labels: {app: web}}
spec: {cgroup: production/web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: legacy, namespace: production, labels: {app: legacy}}
spec: {cgroup: production/legacy}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: api, namespace: billing, labels: {app: api}}
spec: {cgroup: billing/api}
YAML
e2e_policy entries.yaml <<'YAML'
# Visible only in billing.
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: billing}
spec:
  hosts: [payments.example.com]
  addresses: [203.0.113.30/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  exportTo: ["."]
---
# Visible everywhere, but production's Sidecar does not import it.
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: shared, namespace: billing}
spec:
  hosts: [shared.example.com]
  addresses: [198.51.100.20]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  exportTo: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: production}
spec:
  egress:
  - hosts: ["./*"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: legacy, namespace: production}
spec:
  workloadSelector: {labels: {app: legacy}}
  outboundTrafficPolicy: {mode: ALLOW_ANY}
YAML
e2e_start_agent || return

expect_probe billing/api connect 203.0.113.30 80 ok          # exportTo "." in its own namespace
expect_probe production/web connect 203.0.113.30 80 EPERM    # not exported to production
expect_probe billing/api connect 198.51.100.20 8080 ok       # exported to all, billing has no Sidecar
expect_probe production/web connect 198.51.100.20 8080 EPERM # production's Sidecar imports only ./*
expect_probe production/web connect 192.0.2.10 80 ok
expect_probe production/legacy connect 198.51.100.20 80 ok    # its Sidecar says ALLOW_ANY
expect_probe production/legacy connect 203.0.113.30 8080 ok
out=$(egressctl policy --workload production/web)
if grep -q "REGISTRY_ONLY" <<<"$out" && grep -q "production/default" <<<"$out" && grep -q "production/partner" <<<"$out" \
   && ! grep -q "billing/shared" <<<"$out"; then
  e2e_ok "egressctl policy shows mode, Sidecar and imports"
else
  e2e_fail "egressctl policy production/web: $out"
fi
out=$(egressctl -o json explain --workload production/web --to 203.0.113.30:80)
if grep -q '"verdict": "denied"' <<<"$out" && grep -q '"reason": "not_in_registry"' <<<"$out"; then
  e2e_ok "egressctl explain says denied, not_in_registry"
else
  e2e_fail "egressctl explain: $out"
fi
