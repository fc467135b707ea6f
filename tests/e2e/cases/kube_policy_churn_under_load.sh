# Policy changes from the Kubernetes API are make-before-break too (the watch
# source feeds the same reload and map sync as the policy directory). web
# connects in a loop to partner (allowed) and to two denied destinations
# while kubectl creates and deletes the Sidecar that selects web (web changes
# scope each time) and, every third change, 100 ServiceEntries: zero wrong
# verdicts, hung connects counted as wrong.
. "$here/../kube/lib.sh"
kube_up "$LAB_DIR/kube" || { e2e_fail "the test API server did not start"; return; }
trap 'status=$?; kube_down; (exit $status); e2e_teardown' EXIT

lab_workload production/web >/dev/null
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production, labels: {app: web}}
spec: {cgroup: production/web}
YAML
FLIPS=${E2E_KUBE_CHURN_FLIPS:-24}
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
  addresses: [192.0.2.0/24]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
YAML
cat >"$LAB_DIR/sidecar.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: production}
spec:
  workloadSelector: {labels: {app: web}}
  egress: [{hosts: ["./*"]}]
YAML
for i in $(seq 1 100); do
  printf -- '---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: bulk-%d, namespace: production}\nspec:\n  hosts: [bulk-%d.example.net]\n  addresses: [203.0.113.%d]\n  ports: [{number: %d, name: tcp, protocol: TCP}]\n  resolution: NONE\n' \
    "$i" "$i" $((i % 250 + 1)) $((10000 + i))
done >"$LAB_DIR/bulk.yaml"
e2e_start_agent --kubeconfig "$KUBECONFIG" --node-name e2e-node || return
expect_probe production/web connect 192.0.2.10 80 ok
expect_probe production/web connect 192.0.2.10 443 EPERM

generation() { curl -sf "http://$E2E_ADMIN/metrics" | awk '/^egressd_policy_generation / { print $2 }'; }
lab_exec production/web "$EGRESSD_BIN/egressd_connect_loop" --stop-file "$LAB_DIR/stop" --timeout-ms 1000 --pause-us 500 \
  allow 192.0.2.10 80 deny 192.0.2.10 443 deny 198.51.100.20 80 >"$LAB_DIR/loop" 2>&1 &
loop=$!
sleep 0.5
first=$(generation)
sidecar=0 bulk=0
for n in $(seq 1 "$FLIPS"); do
  before=$(generation)
  if [ "$sidecar" = 0 ]; then kubectl apply -f "$LAB_DIR/sidecar.yaml" >/dev/null; sidecar=1
  else kubectl delete -f "$LAB_DIR/sidecar.yaml" >/dev/null; sidecar=0; fi
  if [ $((n % 3)) = 0 ]; then
    if [ "$bulk" = 0 ]; then kubectl apply -f "$LAB_DIR/bulk.yaml" >/dev/null; bulk=1
    else kubectl delete -f "$LAB_DIR/bulk.yaml" >/dev/null; bulk=0; fi
  fi
  for t in $(seq 1 500); do
    g=$(generation)
    [ -n "$g" ] && [ "$g" != "$before" ] && break
    sleep 0.01
  done
done
sleep 1  # the last events applied
last=$(generation)
touch "$LAB_DIR/stop"
wait "$loop"
total=$(awk '$1 == "total" { print $3 }' "$LAB_DIR/loop")
wrong=$(awk '$1 == "total" { print $5 }' "$LAB_DIR/loop")
grep '^dest ' "$LAB_DIR/loop" | sed 's/^/  /'
echo "  kube churn: $FLIPS Sidecar changes ($((FLIPS / 3)) with 100 ServiceEntries), $((last - first)) policy generations; $total connects, ${wrong:-?} wrong"
[ $((last - first)) -ge "$FLIPS" ] && e2e_ok "$((last - first)) generations applied from the API" ||
  e2e_fail "only $((last - first)) generations for $FLIPS changes"
[ "${total:-0}" -gt 0 ] && [ "$wrong" = 0 ] && e2e_ok "zero wrong verdicts over $total connects" ||
  e2e_fail "$wrong wrong verdicts of $total: $(grep '^wrong' "$LAB_DIR/loop" | head -n 5 | tr '\n' ';')"
