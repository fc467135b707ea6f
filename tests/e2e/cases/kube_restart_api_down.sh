# Kubernetes mode: the agent restarted while the API server is unreachable
# keeps the policy it adopted from the pinned maps (it applies nothing until
# every resource was listed), says it is alive but not ready, and applies the
# API's state once it answers again. The workload is a local Workload.
. "$here/../kube/lib.sh"
kube_up "$LAB_DIR/kube" || { e2e_fail "the test API server did not start"; return; }
trap 'status=$?; kube_down; (exit $status); e2e_teardown' EXIT

lab_workload production/web >/dev/null
lab_external_addr 192.0.2.10 192.0.2.20
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
kubectl apply -f "$here/../kube/testdata/istio-crds.yaml" >/dev/null || { e2e_fail "CRDs"; return; }
kubectl create namespace production >/dev/null && kubectl create namespace istio-system >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
YAML
e2e_start_agent --kubeconfig "$KUBECONFIG" --node-name e2e-node || return
expect_probe production/web connect 192.0.2.10 80 ok
expect_probe production/web connect 192.0.2.20 80 EPERM
e2e_stop_agent

kube_ctl pause mode=refuse >/dev/null
"$EGRESSD_BIN/egressd" --kubeconfig "$KUBECONFIG" --node-name e2e-node --policy-dir "$E2E_POLICY" --cgroup-root "$LAB_CGROUP" \
  --bpffs "$E2E_BPFFS" --admin-addr "$E2E_ADMIN" --dns-server "$LAB_RESOLVER" --log-level debug --tc-mode off \
  >>"$E2E_LOG" 2>&1 &
E2E_AGENT_PID=$!
wait_until 5000 curl -sf "http://$E2E_ADMIN/healthz" >/dev/null || e2e_fail "/healthz not up"
# Past the agent's 10 s wait for the first lists, in its run loop.
sleep 12
kill -0 "$E2E_AGENT_PID" 2>/dev/null && e2e_ok "the agent runs with the API down" || e2e_fail "the agent exited"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$E2E_ADMIN/readyz")
[ "$code" = 503 ] && e2e_ok "/readyz 503 before the first list" || e2e_fail "/readyz $code before the first list"
curl -sf "http://$E2E_ADMIN/healthz" >/dev/null && e2e_ok "/healthz 200" || e2e_fail "/healthz"
expect_probe production/web connect 192.0.2.10 80 ok      # the adopted policy, not an empty one
expect_probe production/web connect 192.0.2.20 80 EPERM
expect_log "the Kubernetes API is not listed yet"

kube_ctl resume >/dev/null
if ms=$(wait_until 40000 curl -sf "http://$E2E_ADMIN/readyz"); then
  e2e_ok "ready $ms ms after the API came back"
else
  e2e_fail "not ready 40 s after the API came back"
fi
kubectl delete serviceentry -n production partner >/dev/null
if ms=$(wait_until 10000 probe_is production/web connect 192.0.2.10 80 EPERM); then
  e2e_ok "a delete after the outage is enforced after $ms ms"
else
  e2e_fail "the delete after the outage is not enforced"
fi
