#!/usr/bin/env bash
# kubectl egressd (deploy/kubectl-egressd), run by the real kubectl as a
# plugin against the test API server: each command finds the pod its target
# names, that pod's node, and the egressd agent on that node, and would run
# egressctl there (--dry-run prints the kubectl exec; the test server has no
# exec). Errors name what is missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for tool in kubectl curl openssl python3; do
  if ! command -v "$tool" >/dev/null; then
    if [ -n "${CI:-}" ]; then echo "FAIL: the plugin test needs $tool" >&2; exit 1; fi
    echo "SKIP: the plugin test needs $tool" >&2
    exit 77
  fi
done
. "$here/lib.sh"
work=$(mktemp -d /tmp/egressd-kubectl-plugin.XXXXXX)
trap 'kube_down; rm -rf "$work"' EXIT
kube_up "$work/api" || { echo "FAIL: the test API server did not start"; exit 1; }
export PATH=$root/deploy:$PATH
FAILED=0
check() {  # WHAT EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "  ok: $1"; else echo "  FAIL: $1"; echo "    expected: $2"; echo "    got:      $3"; FAILED=$((FAILED + 1)); fi
}

kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: production}
---
apiVersion: v1
kind: Namespace
metadata: {name: egressd-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: production}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7d9c-abcde, namespace: production, labels: {app: web, pod-template-hash: 7d9c}}
spec: {nodeName: node-b, containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: batch-1, namespace: production, labels: {app: batch}}
spec: {nodeName: node-a, containers: [{name: batch, image: batch}]}
---
apiVersion: v1
kind: Pod
metadata: {name: egressd-aaaaa, namespace: egressd-system, labels: {app.kubernetes.io/name: egressd}}
spec: {nodeName: node-a, containers: [{name: egressd, image: egressd}]}
---
apiVersion: v1
kind: Pod
metadata: {name: egressd-bbbbb, namespace: egressd-system, labels: {app.kubernetes.io/name: egressd}}
spec: {nodeName: node-b, containers: [{name: egressd, image: egressd}]}
YAML

check "plugin found by kubectl" "kubectl-egressd" "$(kubectl plugin list 2>/dev/null | grep -o 'kubectl-egressd$' | head -n 1)"
check "explain deploy/web: its pod's node's agent" \
  "kubectl exec -n egressd-system egressd-bbbbb -c egressd -- egressctl explain --workload production/web-7d9c-abcde --to api.example.com:443 " \
  "$(kubectl egressd explain -n production deploy/web --to api.example.com:443 --dry-run 2>&1)"
check "policy of a pod by name, -o json" \
  "kubectl exec -n egressd-system egressd-aaaaa -c egressd -- egressctl -o json policy --workload production/batch-1 " \
  "$(kubectl egressd policy -n production batch-1 -o json --dry-run 2>&1)"
check "status --node" "kubectl exec -n egressd-system egressd-aaaaa -c egressd -- egressctl status " \
  "$(kubectl egressd status --node node-a --dry-run 2>&1)"
check "observe -n production: one stream per node with a pod of it" \
  "node-a  kubectl exec -n egressd-system egressd-aaaaa -c egressd -- egressctl observe --namespace production --verdict denied |node-b  kubectl exec -n egressd-system egressd-bbbbb -c egressd -- egressctl observe --namespace production --verdict denied |" \
  "$(kubectl egressd observe -n production --verdict denied --dry-run 2>&1 | sort | tr '\n' '|')"
check "no agent on the node: said" \
  "kubectl egressd: no egressd agent pod on node node-c (namespace egressd-system, label app.kubernetes.io/name=egressd)" \
  "$(kubectl egressd status --node node-c --dry-run 2>&1)"
check "an unknown pod: kubectl's own error" "1" \
  "$(kubectl egressd explain -n production nope --to 1.2.3.4:80 --dry-run >/dev/null 2>&1; echo $?)"
check "a target kind it cannot use: said" \
  "kubectl egressd: target 'svc/web': a pod, or deploy/, statefulset/, daemonset/, job/ or rs/ NAME" \
  "$(kubectl egressd explain -n production svc/web --to 1.2.3.4:80 --dry-run 2>&1)"
[ "$FAILED" -eq 0 ] && echo "kubectl plugin: all checks passed"
[ "$FAILED" -eq 0 ]
