# Kubernetes mode, the ways in: a client certificate (kubeconfig with the
# certificate and the CA as files); Istio's CRDs installed after the agent
# started (discovery asks again); a token file the agent reads again when the
# server starts answering 401 and the file changes. The workload is a local
# Workload from --policy-dir (pods are not watched yet).
. "$here/../kube/lib.sh"
kube_up "$LAB_DIR/kube" || { e2e_fail "the test API server did not start"; return; }
trap 'status=$?; kube_down; (exit $status); e2e_teardown' EXIT

lab_workload production/web >/dev/null
lab_external_addr 192.0.2.10
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
kubectl create namespace production >/dev/null && kubectl create namespace istio-system >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
YAML

# No Istio CRDs yet: every networking.istio.io kind is an empty set, and the agent is ready.
e2e_start_agent --kubeconfig "$KUBE_API_KUBECONFIG_CERT" --node-name e2e-node || return
expect_log "kube serviceentries: ServiceEntry.networking.istio.io is not served"
expect_probe production/web connect 192.0.2.10 80 EPERM
kubectl apply -f "$here/../kube/testdata/istio-crds.yaml" >/dev/null || { e2e_fail "CRDs"; return; }
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
YAML
# Discovery is asked again every 30 s.
if ms=$(wait_until 40000 probe_is production/web connect 192.0.2.10 80 ok); then
  e2e_ok "Istio installed after the agent started: enforced after $ms ms"
else
  e2e_fail "the ServiceEntry of CRDs installed later is not enforced after 40 s"
fi
expect_log "kube serviceentries: watching /apis/networking.istio.io/v1/serviceentries"
e2e_stop_agent

# A bearer token from a file, the CA as a file.
cp "$KUBE_API_DIR/token" "$LAB_DIR/agent-token"
cat > "$LAB_DIR/agent-kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: agent
contexts: [{name: agent, context: {cluster: test, user: agent}}]
clusters: [{name: test, cluster: {server: "$KUBE_API_SERVER", certificate-authority: "$KUBE_API_CA"}}]
users: [{name: agent, user: {tokenFile: agent-token}}]
YAML
e2e_start_agent --kubeconfig "$LAB_DIR/agent-kubeconfig" --node-name e2e-node || return
expect_probe production/web connect 192.0.2.10 80 ok

# The server rotates the token: the agent's next requests get 401, logged
# once, and backed off; enforcement stays. Once the file holds the new token,
# the agent reads it again and catches up.
kube_ctl token value=rotated-token >/dev/null
kube_ctl drop-watches mode=reset resource=serviceentries >/dev/null
wait_until 5000 grep -q "kube serviceentries: watch 401 (Unauthorized" "$E2E_LOG" >/dev/null ||
  e2e_fail "no 401 logged for the rotated token"
sleep 3
n=$(grep -c "kube serviceentries: .* 401 (Unauthorized" "$E2E_LOG")
[ "$n" -eq 1 ] && e2e_ok "401 logged once (while it lasted)" || e2e_fail "401 logged $n times"
expect_metric 'egressd_kube_watch_errors_total\{resource="serviceentries",reason="unauthorized"\} [1-9]'
expect_probe production/web connect 192.0.2.10 80 ok
echo rotated-token > "$LAB_DIR/agent-token.new" && mv "$LAB_DIR/agent-token.new" "$LAB_DIR/agent-token"
kube_ctl token add="$KUBE_API_TOKEN" >/dev/null   # kubectl's own token, accepted again
kubectl delete serviceentry -n production partner >/dev/null
if ms=$(wait_until 40000 probe_is production/web connect 192.0.2.10 80 EPERM); then
  e2e_ok "with the rotated token read again, a delete is enforced after $ms ms"
else
  e2e_fail "the delete after the token rotation is not enforced after 40 s"
fi
