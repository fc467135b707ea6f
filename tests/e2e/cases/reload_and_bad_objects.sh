# Live reload on a file change; a bad object next to good ones is rejected
# with file, line and reason while the good ones apply; an object that turns
# invalid keeps its previous valid version; an unparsable file loses nothing.
lab_workload production/web >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad-cidr, namespace: production}
spec:
  hosts: [bad.example.com]
  addresses: [10.0.0.0/33]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: good, namespace: production}
spec:
  hosts: [good.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
e2e_start_agent || return
expect_probe production/web connect 192.0.2.10 80 ok
expect_log 'rejected .*ServiceEntry production/bad-cidr .*entries\.yaml:6.*10\.0\.0\.0/33'
expect_metric '^egressd_rejected_objects\{kind="ServiceEntry"\} 1$'
out=$(egressctl status)
grep -q "bad-cidr" <<<"$out" && e2e_ok "egressctl status lists the rejected object" || e2e_fail "status: $out"

# Live reload: a new ServiceEntry is enforced without restarting.
expect_probe production/web connect 198.51.100.20 80 EPERM
e2e_policy added.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: added, namespace: production}
spec:
  hosts: [added.example.com]
  addresses: [198.51.100.20]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
if ms=$(wait_until 3000 probe_is production/web connect 198.51.100.20 80 ok); then
  e2e_ok "new ServiceEntry enforced ${ms} ms after the file was written (probe included)"
else
  e2e_fail "new ServiceEntry not enforced within 3 s"
fi

# The good entry turns invalid: its previous version stays in force.
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: good, namespace: production}
spec:
  hosts: ["*"]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
wait_until 3000 grep -q "ServiceEntry production/good" "$E2E_LOG" >/dev/null || e2e_fail "no rejection logged for good"
expect_probe production/web connect 192.0.2.10 80 ok

# A file that is not YAML at all: nothing valid is lost.
echo "this: is: not: yaml: [" | e2e_policy added.yaml
wait_until 3000 grep -q "added.yaml" "$E2E_LOG" >/dev/null || e2e_fail "unparsable file not reported"
sleep 0.2
expect_probe production/web connect 198.51.100.20 80 ok

# Deleting a file removes what it allowed.
rm "$E2E_POLICY/added.yaml"
if wait_until 3000 probe_is production/web connect 198.51.100.20 80 EPERM >/dev/null; then
  e2e_ok "deleted ServiceEntry no longer allows"
else
  e2e_fail "deleted ServiceEntry still allows"
fi
