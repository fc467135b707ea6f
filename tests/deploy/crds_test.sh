#!/usr/bin/env bash
# deploy/crds/ against a Kubernetes API (the test server in tests/kube), with
# the real kubectl: the CRDs apply and are served at v1, v1beta1 and v1alpha3;
# a ServiceEntry written at each version reads back at every version with its
# spec intact (one stored version, no conversion); the structural schema
# rejects a bad enum. Then the whole install (kubectl apply -k deploy/)
# applies to the same API.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/kube/lib.sh
. "$root/tests/kube/lib.sh"
work=$(mktemp -d /tmp/egressd-deploy-crds.XXXXXX)
trap 'kube_down; rm -rf "$work"' EXIT
kube_up "$work/kube" || { echo "FAIL: the test API server did not start" >&2; exit 1; }

failures=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1" >&2; failures=$((failures + 1)); }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected $2, got $3"; fi; }

if kubectl apply -k "$root/deploy/crds" >"$work/out" 2>&1; then ok "kubectl apply -k deploy/crds"; else bad "apply -k deploy/crds: $(cat "$work/out")"; fi
expect_eq "networking.istio.io versions served" "networking.istio.io/v1 networking.istio.io/v1alpha3 networking.istio.io/v1beta1" \
  "$(kubectl api-versions | grep '^networking.istio.io/' | sort | tr '\n' ' ' | sed 's/ $//')"
for kind in serviceentries sidecars gateways virtualservices destinationrules; do
  got=$(kubectl get crd "$kind.networking.istio.io" -o json |
    jq -c '[.spec.versions[] | [.name, .served, .storage, .schema.openAPIV3Schema.properties.spec.type]]')
  expect_eq "$kind: versions, served, storage, spec schema" \
    '[["v1",true,true,"object"],["v1beta1",true,false,"object"],["v1alpha3",true,false,"object"]]' "$got"
done

kubectl create namespace production >/dev/null || bad "create namespace production"
for v in v1 v1beta1 v1alpha3; do
  if kubectl apply -f - >"$work/out" 2>&1 <<YAML
apiVersion: networking.istio.io/$v
kind: ServiceEntry
metadata: {name: partner-$v, namespace: production}
spec:
  hosts: [partner-$v.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 443, name: https, protocol: TLS}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 192.0.2.10, labels: {tier: $v}}]
YAML
  then ok "ServiceEntry applied at $v"; else bad "ServiceEntry at $v: $(cat "$work/out")"; fi
  for read in v1 v1beta1 v1alpha3; do
    got=$(kubectl get "serviceentries.$read.networking.istio.io" -n production "partner-$v" -o json |
      jq -c '[.apiVersion, .spec.hosts, .spec.ports[0].number, .spec.resolution, .spec.endpoints[0].labels.tier]')
    expect_eq "written at $v, read at $read" \
      "[\"networking.istio.io/$read\",[\"partner-$v.example.com\"],443,\"STATIC\",\"$v\"]" "$got"
  done
done
expect_eq "kubectl get se (short name) lists the three" "3" \
  "$(kubectl get se -n production -o name | grep -c 'partner-')"

# The schema is enforced: a location outside the enum is refused.
if kubectl apply -f - >"$work/out" 2>&1 <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad-location, namespace: production}
spec: {hosts: [bad.example.com], location: SOMEWHERE}
YAML
then bad "a ServiceEntry with location SOMEWHERE was accepted"
else grep -q 'location' "$work/out" && ok "bad enum refused: $(head -c 160 "$work/out")" || bad "refused without naming the field: $(cat "$work/out")"
fi

# The install itself applies to the API (names, namespaces, kinds).
if kubectl apply -k "$root/deploy" >"$work/out" 2>&1; then ok "kubectl apply -k deploy/"; else bad "apply -k deploy/: $(cat "$work/out")"; fi
expect_eq "the DaemonSet exists in egressd-system" "daemonset.apps/egressd" \
  "$(kubectl get daemonset -n egressd-system -o name 2>&1)"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
