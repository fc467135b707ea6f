# Audit per namespace (file mode): a core v1 Namespace labelled
# egressd.io/audit: "true" puts its workloads in audit (would-be denials are
# allowed and recorded as audit), a Workload's own "false" opts out, other
# namespaces are untouched; egressctl policy says where audit came from; a bad
# label value is rejected with file:line:field and the previous version stays.
lab_workload staging/app >/dev/null
lab_workload staging/batch >/dev/null
lab_workload production/web >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
YAML
e2e_policy namespaces.yaml <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: staging
  labels: {egressd.io/audit: "true"}
YAML
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging}
spec: {cgroup: staging/app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: batch, namespace: staging, labels: {egressd.io/audit: "false"}}
spec: {cgroup: staging/batch}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
e2e_start_agent || return

expect_probe staging/app connect 198.51.100.20 80 ok          # namespace audit: allowed
expect_probe staging/batch connect 198.51.100.20 80 EPERM     # the workload opts out
expect_probe production/web connect 198.51.100.20 80 EPERM    # another namespace: enforced
expect_metric '^egressd_connections_total\{source_namespace="staging",source_workload="app",destination_host="PassthroughCluster",destination_port="80",protocol="tcp",verdict="audit"\} 1$'
expect_metric '^egressd_connections_total\{source_namespace="staging",source_workload="batch",destination_host="BlackHoleCluster",destination_port="80",protocol="tcp",verdict="denied"\} 1$'
n=$(egressctl -o json flows --workload staging/app --verdict audit | jq '[.flows[] | select(.destination_ip == "198.51.100.20" and .connects.audit == 1)] | length')
[ "$n" = 1 ] && e2e_ok "flows: the would-be denial recorded as audit" || e2e_fail "flows audit: $n"

out=$(egressctl -o json policy --workload staging/app)
if [ "$(jq -r .audit <<<"$out")" = true ] && jq -r .audit_source <<<"$out" | grep -q '^Namespace staging label egressd.io/audit: "true" (.*namespaces.yaml:1)$'; then
  e2e_ok "policy: audit from the Namespace ($(jq -r .audit_source <<<"$out"))"
else
  e2e_fail "policy staging/app: $out"
fi
out=$(egressctl policy --workload staging/batch)
grep -q '^audit: *off (Workload staging/batch label egressd.io/audit: "false"' <<<"$out" && e2e_ok "policy: the workload's opt-out" ||
  e2e_fail "policy staging/batch: $out"
[ "$(egressctl -o json policy --workload production/web | jq -r '.audit, .audit_source' | tr '\n' ' ')" = "false null " ] &&
  e2e_ok "policy: production untouched" || e2e_fail "policy production/web"
[ "$(egressctl -o json explain --workload staging/app --to 198.51.100.20:80 | jq -r .verdict)" = audit ] &&
  e2e_ok "explain says audit" || e2e_fail "explain staging/app"

# A bad value: rejected with file, line and field; the previous version (audit on) stays.
gen=$(curl -s "http://$E2E_ADMIN/metrics" | awk '/^egressd_policy_generation /{print $2}')
e2e_policy namespaces.yaml <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: staging
  labels:
    egressd.io/audit: "yes"
YAML
wait_until 5000 sh -c "curl -s http://$E2E_ADMIN/metrics | grep -q '^egressd_policy_generation $((gen + 1))'" >/dev/null
out=$(egressctl -o json status | jq -c '.rejected[] | select(.kind == "Namespace")')
if grep -q '"source":"[^"]*namespaces.yaml:6"' <<<"$out" && grep -q 'metadata.labels.egressd.io/audit \\"yes\\" is not \\"true\\" or \\"false\\"' <<<"$out" &&
   grep -q 'stays in force' <<<"$out"; then
  e2e_ok "bad label value rejected: $out"
else
  e2e_fail "bad label value: $out"
fi
expect_metric '^egressd_rejected_objects\{kind="Namespace"\} 1$'
expect_probe staging/app connect 198.51.100.20 80 ok          # previous valid version in force

# Removed: the namespace's workloads are enforced again.
rm -f "$E2E_POLICY/namespaces.yaml"
if wait_until 5000 probe_is staging/app connect 198.51.100.20 80 EPERM >/dev/null; then
  e2e_ok "Namespace removed: staging/app enforced"
else
  e2e_fail "staging/app still allowed after the Namespace was removed"
fi
