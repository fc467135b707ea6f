# Kubernetes mode: the agent watches the test API server (tests/kube), which
# the real kubectl changes. Pods are not watched yet, so the workload is a
# local Workload from --policy-dir, whose objects are added to the API's.
# Enforcement follows ServiceEntry create/update/delete and the mesh
# ConfigMap; a dropped watch resumes without a relist; a 410 relists and
# catches up on what changed meanwhile; an outage keeps enforcing.
. "$here/../kube/lib.sh"
kube_up "$LAB_DIR/kube" || { e2e_fail "the test API server did not start"; return; }
trap 'status=$?; kube_down; (exit $status); e2e_teardown' EXIT

lab_workload production/web >/dev/null
lab_external_addr 192.0.2.10 192.0.2.20 192.0.2.30
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML

SE=/apis/networking.istio.io/v1/serviceentries
# service_entry NAME ADDRESS: applies a ServiceEntry for ADDRESS:80 in production.
service_entry() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: $1, namespace: production}
spec:
  hosts: [$1.example.com]
  addresses: [$2/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: $2}]
YAML
}
mesh_mode() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: $1
YAML
}
# follows IP PORT EXPECTED WHAT: enforcement reaches EXPECTED within 10 s.
follows() {
  local ms
  if ms=$(wait_until 10000 probe_is production/web connect "$1" "$2" "$3"); then
    e2e_ok "$4: $1:$2 -> $3 after $ms ms"
  else
    e2e_fail "$4: $1:$2 is not $3 after 10 s"
  fi
}

kubectl apply -f "$here/../kube/testdata/istio-crds.yaml" >/dev/null || { e2e_fail "CRDs"; return; }
kubectl create namespace production >/dev/null && kubectl create namespace istio-system >/dev/null
mesh_mode REGISTRY_ONLY
service_entry partner 192.0.2.10
e2e_start_agent --kubeconfig "$KUBECONFIG" --node-name e2e-node || return
expect_log "kube serviceentries: watching /apis/networking.istio.io/v1/serviceentries"

expect_probe production/web connect 192.0.2.10 80 ok       # listed before the agent started
expect_probe production/web connect 192.0.2.20 80 EPERM
service_entry second 192.0.2.20                               # create
follows 192.0.2.20 80 ok "created"
service_entry second 192.0.2.30                               # update
follows 192.0.2.20 80 EPERM "updated (old address)"
follows 192.0.2.30 80 ok "updated (new address)"
kubectl delete serviceentry -n production second >/dev/null  # delete
follows 192.0.2.30 80 EPERM "deleted"
mesh_mode ALLOW_ANY                                           # the mesh ConfigMap
follows 192.0.2.30 80 ok "mesh ALLOW_ANY"
mesh_mode REGISTRY_ONLY
follows 192.0.2.30 80 EPERM "mesh REGISTRY_ONLY again"

# A rejected object names kind, namespace/name, field and reason; the rest applies.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: broken, namespace: production}
spec:
  hosts: [broken.example.com]
  addresses: [192.0.2.30/33]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
YAML
wait_until 5000 grep -q "rejected ServiceEntry production/broken: .*addresses\[0\]" "$E2E_LOG" >/dev/null ||
  e2e_fail "no rejection of production/broken naming the field"
expect_log "rejected ServiceEntry production/broken: "
expect_probe production/web connect 192.0.2.30 80 EPERM
kubectl delete serviceentry -n production broken >/dev/null

# A dropped watch resumes from its resourceVersion: no new list.
lists=$(kube_count list "$SE")
watches=$(kube_count watch "$SE")
kube_ctl drop-watches mode=reset resource=serviceentries >/dev/null
service_entry third 192.0.2.30
follows 192.0.2.30 80 ok "created after a dropped watch"
if [ "$(kube_count list "$SE")" = "$lists" ] && [ "$(kube_count watch "$SE")" -gt "$watches" ]; then
  e2e_ok "the watch resumed without a relist ($lists list(s), watches $watches -> $(kube_count watch "$SE"))"
else
  e2e_fail "after a dropped watch: lists $lists -> $(kube_count list "$SE"), watches $watches -> $(kube_count watch "$SE")"
fi

# 410: while the agent cannot watch (403), objects change and the history is
# compacted; its next watch is too old, it relists and catches up.
kube_ctl forbid verb=watch resource=serviceentries >/dev/null
kube_ctl drop-watches mode=end resource=serviceentries >/dev/null
wait_until 5000 grep -q "kube serviceentries: watch 403 (Forbidden" "$E2E_LOG" >/dev/null ||
  e2e_fail "no 403 logged for the forbidden watch"
kubectl delete serviceentry -n production third >/dev/null
service_entry fourth 192.0.2.20
kube_ctl compact >/dev/null
kube_ctl allow >/dev/null
follows 192.0.2.30 80 EPERM "deleted while not watching (410, relist)"
follows 192.0.2.20 80 ok "created while not watching (410, relist)"
[ "$(kube_count list "$SE")" -gt "$lists" ] && e2e_ok "relisted after 410" || e2e_fail "no relist after 410"
if [ "$(grep -c "kube serviceentries: watch 403 (Forbidden" "$E2E_LOG")" -eq 1 ]; then
  e2e_ok "403 logged once for its occurrence"
else
  e2e_fail "403 logged $(grep -c "kube serviceentries: watch 403 (Forbidden" "$E2E_LOG") times"
fi
expect_metric 'egressd_kube_watch_errors_total\{resource="serviceentries",reason="forbidden"\} [1-9]'
expect_metric 'egressd_kube_watch_errors_total\{resource="serviceentries",reason="gone"\} [1-9]'

# An outage: the API is unreachable; the last state stays enforced, /healthz
# and /readyz stay 200, the errors and the last sync show it; then it catches up.
kube_ctl pause mode=refuse >/dev/null
sleep 2
expect_probe production/web connect 192.0.2.20 80 ok
expect_probe production/web connect 192.0.2.30 80 EPERM
curl -sf "http://$E2E_ADMIN/healthz" >/dev/null && e2e_ok "/healthz 200 during the outage" || e2e_fail "/healthz during the outage"
curl -sf "http://$E2E_ADMIN/readyz" >/dev/null && e2e_ok "/readyz 200 during the outage" || e2e_fail "/readyz during the outage"
expect_metric 'egressd_kube_watch_errors_total\{resource="serviceentries",reason="connection"\} [1-9]'
expect_metric 'egressd_kube_last_sync_timestamp_seconds\{resource="serviceentries"\} [0-9.e+]+'
kube_ctl resume >/dev/null
kubectl delete serviceentry -n production fourth >/dev/null
follows 192.0.2.20 80 EPERM "deleted after the outage"
