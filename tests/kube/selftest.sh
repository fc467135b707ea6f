#!/usr/bin/env bash
# Self-tests of the test Kubernetes API server, driven by the real kubectl
# (and curl for what kubectl hides: raw watch streams, status codes).
#   tests/kube/selftest.sh [CHECK...]      (default: every check_* below)
# Needs kubectl, curl, openssl and python3; under CI=true a missing one fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for tool in kubectl curl openssl python3; do
  if ! command -v "$tool" >/dev/null; then
    if [ -n "${CI:-}" ]; then echo "FAIL: kube selftest needs $tool" >&2; exit 1; fi
    echo "SKIP: kube selftest needs $tool" >&2
    exit 77
  fi
done
# shellcheck source=tests/kube/lib.sh
. "$here/lib.sh"
data=$here/testdata
work=$(mktemp -d /tmp/egressd-kube-selftest.XXXXXX)
trap 'kube_down; rm -rf "$work"' EXIT

FAILED=0
fail() { echo "    FAIL: $*"; FAILED=$((FAILED + 1)); }
expect_eq() { # WHAT EXPECTED ACTUAL
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}
expect_match() { # WHAT REGEX TEXT
  [[ $3 =~ $2 ]] || fail "$1: '$3' does not match '$2'"
}
# raw METHOD PATH [curl args...]: prints the HTTP status, then the body.
raw() {
  local method=$1 path=$2
  shift 2
  curl -s --cacert "$KUBE_API_CA" -H "Authorization: Bearer $KUBE_API_TOKEN" -X "$method" \
    --max-time 10 -o "$work/body" -w "%{http_code}" "$@" "$KUBE_API_SERVER$path"
}
current_rv() { kube_ctl state | python3 -c 'import json,sys; print(json.load(sys.stdin)["resourceVersion"])'; }
jqr() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d, "len": len}))' "$@"; }
# watch_lines PATH SECONDS: a raw watch stream, one event per line (type rv).
watch_events() {
  curl -s -N --max-time "$2" --cacert "$KUBE_API_CA" -H "Authorization: Bearer $KUBE_API_TOKEN" \
    "$KUBE_API_SERVER$1" | python3 -u -c '
import json, sys
for line in sys.stdin:
    if not line.strip():
        continue
    e = json.loads(line)
    o = e["object"]
    if e["type"] == "ERROR":
        print("ERROR", o.get("code"), o.get("reason"))
    else:
        print(e["type"], o["metadata"].get("name", "-"), o["metadata"]["resourceVersion"])'
}

check_discovery() {
  local out
  out=$(kubectl api-resources 2>&1)
  expect_match "api-resources" "pods +po +v1 +true +Pod" "$out"
  expect_match "api-resources" "deployments +deploy +apps/v1 +true +Deployment" "$out"
  expect_match "api-resources" "customresourcedefinitions +crd,crds +apiextensions.k8s.io/v1 +false" "$out"
  out=$(kubectl version -o json 2>&1)
  expect_match "server version" '"minor": "32"' "$out"
  raw GET /apis -H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' >/dev/null
  expect_eq "aggregated discovery" "APIGroupDiscoveryList deployments" \
    "$(jqr "$work/body" 'd["kind"] + " " + [r["resource"] for i in d["items"] if i["metadata"]["name"] == "apps" for r in i["versions"][0]["resources"] if r["resource"] == "deployments"][0]')"
  raw GET /apis >/dev/null
  expect_eq "legacy discovery" "APIGroupList" "$(jqr "$work/body" 'd["kind"]')"
  # kubectl without aggregated discovery: one document per group version
  kube_ctl settings aggregated_discovery=0 >/dev/null
  kube_ctl requests reset=1 >/dev/null
  out=$(kubectl api-resources --cache-dir "$work/nocache" 2>&1)
  expect_match "api-resources, legacy discovery" "deployments +deploy +apps/v1" "$out"
  expect_eq "per-group discovery" "1" "$(kube_count discovery /apis/apps/v1)"
  kube_ctl settings aggregated_discovery=1 >/dev/null
}

check_apply_core() {
  local out
  out=$(kubectl apply -f "$data/core.yaml" 2>&1)
  expect_match "first apply" "namespace/app created" "$out"
  expect_match "first apply" "pod/web-1 created" "$out"
  expect_match "first apply" "service/web created" "$out"
  out=$(kubectl apply -f "$data/core.yaml" 2>&1)
  expect_match "second apply" "pod/web-1 unchanged" "$out"
  # three-way patches: a pod's label removed and its image changed (what a
  # pod update may change), a deployment's env var removed
  sed -e 's/image: nginx:1.25/image: nginx:1.27/' -e '/tier: front/d' -e '/name: DROPPED/,+1d' \
    "$data/core.yaml" >"$work/core2.yaml"
  out=$(kubectl apply -f "$work/core2.yaml" 2>&1)
  expect_match "changed apply" "pod/web-1 configured" "$out"
  expect_eq "image after apply" "nginx:1.27" "$(kubectl get pod -n app web-1 -o jsonpath='{.spec.containers[0].image}')"
  expect_eq "labels after apply" '{"app":"web"}' "$(kubectl get pod -n app web-1 -o jsonpath='{.metadata.labels}')"
  expect_eq "env after apply" "KEPT" \
    "$(kubectl get deploy -n app web -o jsonpath='{.spec.template.spec.containers[0].env[*].name}')"
  expect_eq "deployment generation" "2" "$(kubectl get deploy -n app web -o jsonpath='{.metadata.generation}')"
  expect_eq "qosClass" "Burstable" "$(kubectl get pod -n app web-1 -o jsonpath='{.status.qosClass}')"
  expect_eq "clusterIP" "10.96.0.2" "$(kubectl get svc -n app web -o jsonpath='{.spec.clusterIP}')"
  # (kubectl finds dryRun among the PATCH parameters of /openapi/v2)
  out=$(kubectl apply -n app -f "$data/core.yaml" 2>&1 --dry-run=server)
  expect_match "server dry run" "pod/web-1 configured \(server dry run\)" "$out"
  expect_eq "dry run changed nothing" "nginx:1.27" \
    "$(kubectl get pod -n app web-1 -o jsonpath='{.spec.containers[0].image}')"
  out=$(kubectl create configmap -n nowhere x 2>&1)
  expect_match "create in a missing namespace" 'namespaces "nowhere" not found' "$out"
  out=$(kubectl create -f "$data/core.yaml" 2>&1)
  expect_match "create twice" 'pods "web-1" already exists' "$out"
  # what the real server refuses
  out=$(kubectl create namespace Upper 2>&1)
  expect_match "namespace name" 'The Namespace "Upper" is invalid' "$out"
  out=$(kubectl patch pod -n app web-1 --type=merge -p '{"spec":{"nodeName":"node-b"}}' 2>&1)
  expect_match "pod spec is immutable" "Forbidden: pod updates may not change fields" "$out"
  out=$(kubectl set image -n app pod/web-1 web=nginx:1.28 2>&1)
  expect_match "a pod's image may change" "image updated" "$out"
  out=$(kubectl apply -f - 2>&1 <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: badlabel, namespace: app, labels: {a: "has space"}}
YAML
)
  # a client's uid is ignored, unless the test asks the server to keep it
  local uid=6f1c2a1e-0b9d-4c53-9a52-2f0d3c4b5a61
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: uid1, namespace: app, uid: %s}\n' "$uid" |
    kubectl create -f - >/dev/null
  [ "$(kubectl get configmap -n app uid1 -o jsonpath='{.metadata.uid}')" != "$uid" ] || fail "client uid kept"
  kube_ctl settings keep_client_uid=1 >/dev/null
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: uid2, namespace: app, uid: %s}\n' "$uid" |
    kubectl create -f - >/dev/null
  expect_eq "keep_client_uid" "$uid" "$(kubectl get configmap -n app uid2 -o jsonpath='{.metadata.uid}')"
  kube_ctl settings keep_client_uid=0 >/dev/null
  expect_match "label value" 'ConfigMap "badlabel" is invalid: metadata.labels' "$out"
}

check_kustomize() {
  local out
  out=$(kubectl kustomize "$data/kustomize" 2>&1)
  expect_match "kustomize renders" "name: kz-settings" "$out"
  out=$(kubectl apply -k "$data/kustomize" 2>&1)
  expect_match "apply -k" "configmap/kz-settings created" "$out"
  expect_match "apply -k" "deployment.apps/kz-web created" "$out"
  expect_eq "namespace from kustomization" "kz" \
    "$(kubectl get deploy -A -l app=kz-web -o jsonpath='{.items[0].metadata.namespace}')"
  out=$(kubectl delete -k "$data/kustomize" 2>&1)
  expect_match "delete -k" 'namespace "kz" deleted' "$out"
}

check_get_selectors() {
  kubectl apply -f "$data/pods.yaml" >/dev/null 2>&1
  expect_eq "-n" "a1 a2 a3" "$(kubectl get pods -n sel -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "field spec.nodeName" "a1 a3" \
    "$(kubectl get pods -n sel --field-selector spec.nodeName=node-a -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "field !=" "a2" \
    "$(kubectl get pods -n sel --field-selector 'spec.nodeName!=node-a' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "field metadata.name" "a2" \
    "$(kubectl get pods -A --field-selector metadata.name=a2 -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "field metadata.namespace" "a1 a2 a3" \
    "$(kubectl get pods -A --field-selector metadata.namespace=sel -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label =" "a1 a2" "$(kubectl get pods -n sel -l tier=front -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label !=" "a3" "$(kubectl get pods -n sel -l 'tier!=front' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label in" "a1 a3" \
    "$(kubectl get pods -n sel -l 'app in (x,z)' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label notin" "a2" \
    "$(kubectl get pods -n sel -l 'app notin (x,z)' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label exists" "a3" "$(kubectl get pods -n sel -l extra -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "label !exists" "a1 a2" "$(kubectl get pods -n sel -l '!extra' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "both" "a1" \
    "$(kubectl get pods -A -l tier=front --field-selector spec.nodeName=node-a -o jsonpath='{.items[*].metadata.name}')"
  local out
  out=$(kubectl get pods -A --field-selector spec.bogus=1 2>&1)
  expect_match "unknown field selector" "is not a known field selector" "$out"
  out=$(kubectl get pods -n sel a1 -o yaml)
  expect_match "-o yaml" "nodeName: node-a" "$out"
  # status subresource: the main resource ignores status, /status writes it
  raw PATCH /api/v1/namespaces/sel/pods/a1/status -H 'Content-Type: application/merge-patch+json' \
    --data '{"status":{"podIP":"10.1.0.7"}}' >/dev/null
  kubectl patch pod -n sel a1 --type=merge -p '{"status":{"podIP":"10.9.9.9"}}' >/dev/null
  expect_eq "status.podIP" "a1" \
    "$(kubectl get pods -A --field-selector status.podIP=10.1.0.7 -o jsonpath='{.items[*].metadata.name}')"
}

check_crds() {
  local out code
  out=$(kubectl get serviceentries -A 2>&1)
  expect_match "kind before its CRD" "the server doesn't have a resource type" "$out"
  kubectl create namespace mesh >/dev/null
  kubectl apply -f "$data/istio-crds.yaml" >/dev/null 2>&1 || fail "apply istio CRDs"
  kubectl wait --for condition=established --timeout=10s -f "$data/istio-crds.yaml" >/dev/null 2>&1 \
    || fail "CRDs established"
  out=$(kubectl apply -f "$data/istio.yaml" 2>&1)
  expect_match "apply istio objects" "serviceentry.networking.istio.io/ext-api created" "$out"
  expect_match "apply istio objects" "sidecar.networking.istio.io/default created" "$out"
  expect_match "apply istio objects" "gateway.networking.istio.io/egress created" "$out"
  expect_match "apply istio objects" "virtualservice.networking.istio.io/via-egress created" "$out"
  expect_match "apply istio objects" "destinationrule.networking.istio.io/egress created" "$out"
  raw GET /apis/networking.istio.io >/dev/null
  expect_eq "preferred version" "networking.istio.io/v1" "$(jqr "$work/body" 'd["preferredVersion"]["groupVersion"]')"
  for v in v1 v1beta1 v1alpha3; do
    expect_eq "served at $v" "networking.istio.io/$v" \
      "$(kubectl get "serviceentries.$v.networking.istio.io" -n mesh ext-api -o jsonpath='{.apiVersion}')"
  done
  # fields the schema does not know: an error with kubectl's default
  # fieldValidation=Strict, pruned without it
  sed 's/^spec:$/unknownTop: x\nspec:/' "$data/istio.yaml" >"$work/unknown.yaml"
  if [ "$kubectl_minor" -ge 25 ]; then   # kubectl asks for fieldValidation=Strict since 1.25
    out=$(kubectl apply -f "$work/unknown.yaml" 2>&1)
    expect_match "strict field validation" 'strict decoding error: unknown field "unknownTop"' "$out"
    out=$(kubectl apply --validate=warn -f "$work/unknown.yaml" 2>&1)
    expect_match "warn field validation" 'Warning: unknown field "unknownTop"' "$out"
  fi
  code=$(raw POST '/apis/networking.istio.io/v1/namespaces/mesh/serviceentries?fieldValidation=Strict' \
    -H 'Content-Type: application/json' \
    --data '{"apiVersion":"networking.istio.io/v1","kind":"ServiceEntry","metadata":{"name":"u"},"spec":{},"x":1}')
  expect_eq "fieldValidation=Strict" "400 BadRequest" "$code $(jqr "$work/body" 'd["reason"]')"
  kubectl apply --validate=false -f "$work/unknown.yaml" >/dev/null 2>&1
  expect_eq "pruned unknown field" "" "$(kubectl get se -n mesh ext-api -o jsonpath='{.unknownTop}')"
  expect_eq "kept spec field" "api.example.com" "$(kubectl get se -n mesh ext-api -o jsonpath='{.spec.hosts[0]}')"
  out=$(kubectl get se -n mesh 2>&1)
  expect_match "printer columns" 'ext-api +\["api.example.com"\] +MESH_EXTERNAL +DNS' "$out"
  sed 's/443/8443/' "$data/istio.yaml" >"$work/istio2.yaml"
  out=$(kubectl apply -f "$work/istio2.yaml" 2>&1)
  expect_match "update a custom resource" "serviceentry.networking.istio.io/ext-api configured" "$out"
  expect_eq "updated port" "8443" "$(kubectl get se -n mesh ext-api -o jsonpath='{.spec.ports[0].number}')"
  expect_eq "generation" "2" "$(kubectl get se -n mesh ext-api -o jsonpath='{.metadata.generation}')"
  out=$(kubectl apply -f - 2>&1 <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad, namespace: mesh}
spec: {hosts: [a.example.com], location: SOMEWHERE}
YAML
)
  expect_match "schema enum" "Unsupported value" "$out"
  watch_events "/apis/networking.istio.io/v1/sidecars?watch=1&resourceVersion=$(current_rv)" 8 >"$work/crdw.out" &
  local w=$!
  kube_wait_watches 1 sidecars.networking.istio.io || fail "no sidecar watch open"
  out=$(kubectl delete crd sidecars.networking.istio.io 2>&1)
  expect_match "delete a CRD" "deleted" "$out"
  # (kubectl's cached discovery may still name the kind: then the list is a 404)
  out=$(kubectl get sidecars -A 2>&1)
  expect_match "kind after its CRD is gone" "the server doesn't have a resource type|could not find the requested resource" "$out"
  code=$(raw GET /apis/networking.istio.io/v1)
  expect_eq "gone from discovery" "0" "$(jqr "$work/body" 'len([r for r in d["resources"] if r["name"] == "sidecars"])')"
  local waited=$SECONDS
  wait "$w"
  [ $((SECONDS - waited)) -le 3 ] || fail "the CRD's watch stayed open after the CRD was deleted"
  expect_eq "the CRD's watch: its instances deleted, then the end" "DELETED default" "$(awk '{print $1, $2}' "$work/crdw.out")"
  kubectl apply -f "$data/istio-crds.yaml" >/dev/null 2>&1
  expect_eq "instances went with the CRD" "" "$(kubectl get sidecars -A -o jsonpath='{.items[*].metadata.name}' 2>&1)"
}

check_pagination() {
  local i code rv cont names=""
  kubectl create namespace pages >/dev/null
  for i in $(seq -w 1 25); do
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%s, namespace: pages}\ndata: {i: "%s"}\n---\n' "$i" "$i"
  done >"$work/cms.yaml"
  kubectl create -f "$work/cms.yaml" >/dev/null
  code=$(raw GET '/api/v1/namespaces/pages/configmaps?limit=10')
  expect_eq "first page" "200 10 15" "$code $(jqr "$work/body" 'len(d["items"])') $(jqr "$work/body" 'd["metadata"]["remainingItemCount"]')"
  rv=$(jqr "$work/body" 'd["metadata"]["resourceVersion"]')
  cont=$(jqr "$work/body" 'd["metadata"]["continue"]')
  kubectl delete configmap -n pages cm-25 >/dev/null   # after the first page: not seen by this list
  code=$(raw GET "/api/v1/namespaces/pages/configmaps?limit=10&continue=$cont")
  expect_eq "second page" "200 10 $rv" "$code $(jqr "$work/body" 'len(d["items"])') $(jqr "$work/body" 'd["metadata"]["resourceVersion"]')"
  cont=$(jqr "$work/body" 'd["metadata"]["continue"]')
  code=$(raw GET "/api/v1/namespaces/pages/configmaps?limit=10&continue=$cont")
  expect_eq "last page (a consistent snapshot)" "200 5 cm-25 " \
    "$code $(jqr "$work/body" 'len(d["items"])') $(jqr "$work/body" 'd["items"][-1]["metadata"]["name"]') $(jqr "$work/body" 'd["metadata"].get("continue", "")')"
  names=$(kubectl get configmaps -n pages --chunk-size=7 -o name | wc -l)
  expect_eq "kubectl --chunk-size=7" "24" "$names"
  code=$(raw GET '/api/v1/namespaces/pages/configmaps?limit=10')
  cont=$(jqr "$work/body" 'd["metadata"]["continue"]')
  kubectl create configmap -n pages later >/dev/null   # the list's revision is now in the past
  kube_ctl compact >/dev/null
  code=$(raw GET "/api/v1/namespaces/pages/configmaps?limit=10&continue=$cont")
  expect_eq "expired continue" "410 Expired" "$code $(jqr "$work/body" 'd["reason"]')"
  code=$(raw GET "/api/v1/namespaces/pages/configmaps?resourceVersion=$rv&resourceVersionMatch=Exact")
  expect_eq "exact list at a compacted rv" "410" "$code"
  code=$(raw GET "/api/v1/namespaces/pages/configmaps?resourceVersion=0&limit=5")
  expect_eq "rv=0 ignores limit (watch cache)" "200 25" "$code $(jqr "$work/body" 'len(d["items"])')"
}

check_watch() {
  local out rv
  kubectl create namespace w >/dev/null
  kubectl get pods -n w -w --output-watch-events >"$work/kw.out" 2>&1 &
  local kw=$!
  kube_wait_watches 1 pods || fail "kubectl get -w opened no watch"
  kubectl run -n w p1 --image=busybox --restart=Never --overrides='{"spec":{"nodeName":"node-a"}}' >/dev/null
  kubectl label pod -n w p1 step=2 >/dev/null
  kubectl delete pod -n w p1 --wait=false >/dev/null
  sleep 0.5
  kill "$kw" 2>/dev/null
  wait "$kw" 2>/dev/null
  out=$(awk '{print $1, $2}' "$work/kw.out" | tr '\n' ' ')
  expect_eq "kubectl get -w" "EVENT NAME ADDED p1 MODIFIED p1 DELETED p1 " "$out"
  # resume from a resourceVersion: only what came after it
  kubectl create configmap -n w c1 >/dev/null
  rv=$(kubectl get configmap -n w c1 -o jsonpath='{.metadata.resourceVersion}')
  kubectl create configmap -n w c2 >/dev/null
  kubectl delete configmap -n w c1 >/dev/null
  out=$(watch_events "/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=1" 3 | awk '{print $1, $2}' | tr '\n' ' ')
  expect_eq "watch from rv" "ADDED c2 DELETED c1 " "$out"
  # no resourceVersion: the current state as ADDED events first
  out=$(watch_events "/api/v1/namespaces/w/configmaps?watch=1&timeoutSeconds=1" 3 | awk '{print $1, $2}' | tr '\n' ' ')
  expect_eq "watch without rv" "ADDED c2 " "$out"
  # a label selector: leaving the selection is DELETED, entering it ADDED
  rv=$(kubectl get configmap -n w c2 -o jsonpath='{.metadata.resourceVersion}')
  kubectl label configmap -n w c2 pick=yes >/dev/null
  kubectl label configmap -n w c2 pick- >/dev/null
  out=$(watch_events "/api/v1/namespaces/w/configmaps?watch=1&labelSelector=pick%3Dyes&resourceVersion=$rv&timeoutSeconds=1" 3 | awk '{print $1, $2}' | tr '\n' ' ')
  expect_eq "selector watch" "ADDED c2 DELETED c2 " "$out"
}

check_bookmarks_and_timeout() {
  local out start end rv
  local now
  now=$(current_rv)
  kube_ctl settings bookmark_interval=0.5 >/dev/null
  start=$(date +%s%N)
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=$now" 5 2>/dev/null | grep -c BOOKMARK)
  end=$(date +%s%N)
  [ "$out" -ge 2 ] || fail "bookmarks: $out in 2s at 0.5s intervals"
  local ms=$(( (end - start) / 1000000 ))
  { [ "$ms" -ge 1900 ] && [ "$ms" -le 4800 ]; } || fail "timeoutSeconds=2 ended the watch after ${ms} ms"
  kubectl create configmap -n default bm >/dev/null
  rv=$(kubectl get configmap -n default bm -o jsonpath='{.metadata.resourceVersion}')
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=$now" 3 | tail -n 1)
  [ "${out%% *}" = BOOKMARK ] && [ "${out##* }" -ge "$rv" ] || fail "last bookmark '$out' not at or after rv $rv"
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1&resourceVersion=$now" 3 | grep -c BOOKMARK)
  expect_eq "no bookmarks unless asked" "0" "$out"
  kube_ctl settings bookmark_interval=1 >/dev/null
}

check_gone() {
  local rv out code
  kubectl create configmap -n default gone1 >/dev/null
  rv=$(kubectl get configmap -n default gone1 -o jsonpath='{.metadata.resourceVersion}')
  kubectl create configmap -n default gone2 >/dev/null
  kube_ctl compact >/dev/null
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" 3)
  expect_eq "too old rv: ERROR event" "ERROR 410 Expired" "$out"
  kube_ctl settings too_old_watch=status >/dev/null
  code=$(raw GET "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv")
  expect_eq "too old rv: HTTP status" "410 Expired" "$code $(jqr "$work/body" 'd["reason"]')"
  kube_ctl settings too_old_watch=event >/dev/null
  # the current rv is fine after a compaction
  rv=$(current_rv)
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=1" 3)
  expect_eq "watch from the compaction point" "" "$out"
  # mid-stream: an open watch gets an ERROR event, then the stream ends
  watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" 5 >"$work/mid.out" &
  local w=$!
  kube_wait_watches 1 configmaps || fail "no watch open"
  kubectl create configmap -n default gone3 >/dev/null
  sleep 0.2
  kube_ctl compact expire_watches=1 >/dev/null
  wait "$w"
  expect_eq "410 mid-stream" "ADDED gone3 | ERROR 410 Expired" \
    "$(head -n 1 "$work/mid.out" | awk '{print $1, $2}') | $(tail -n 1 "$work/mid.out")"
  # a bounded history: falling more than --history events behind is 410
  kube_ctl settings history=5 >/dev/null
  rv=$(current_rv)
  for i in 1 2 3 4 5 6 7; do kubectl create configmap -n default "h$i" >/dev/null; done
  out=$(watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" 3)
  expect_eq "history bound" "ERROR 410 Expired" "$out"
  # a watcher that falls behind the history: ERROR 410 mid-stream
  kube_ctl settings history=3 watch_delay=3 >/dev/null
  rv=$(current_rv)
  watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" 10 >"$work/slow.out" &
  w=$!
  kube_wait_watches 1 configmaps || fail "no watch open"
  kubectl create configmap -n default slow0 >/dev/null
  # once slow0 is out the watcher sleeps 3 s; six writes at once meanwhile
  for i in $(seq 1 100); do grep -q slow0 "$work/slow.out" && break; sleep 0.05; done
  python3 -c 'import json; print(json.dumps([{"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": f"slow{i}", "namespace": "default"}} for i in range(1, 7)]))' |
    curl -sf -X POST --data-binary @- "$KUBE_API_CONTROL/seed" >/dev/null
  wait "$w"
  expect_eq "slow watcher" "ADDED slow0 | ERROR 410 Expired" \
    "$(head -n 1 "$work/slow.out" | awk '{print $1, $2}') | $(tail -n 1 "$work/slow.out")"
  kube_ctl settings history=1000 watch_delay=0 >/dev/null
}

check_auth() {
  local out code
  out=$(kubectl --token=wrong get ns 2>&1)
  expect_match "wrong token" "Unauthorized|must be logged in" "$out"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_API_CA" "$KUBE_API_SERVER/api/v1/namespaces")
  expect_eq "no token" "401" "$code"
  kube_ctl token value=rotated >/dev/null
  out=$(kubectl get ns default 2>&1)
  expect_match "old token after rotation" "Unauthorized|must be logged in" "$out"
  out=$(kubectl --token=rotated get ns default -o name 2>&1)
  expect_eq "new token" "namespace/default" "$out"
  kube_ctl token value="$KUBE_API_TOKEN" >/dev/null
  kube_ctl forbid verb=list resource=configmaps >/dev/null
  out=$(kubectl get configmaps -n default 2>&1)
  expect_match "forbidden list" 'configmaps is forbidden: User ".*" cannot list resource "configmaps" in API group "" in the namespace "default"' "$out"
  out=$(kubectl get namespaces default -o name 2>&1)
  expect_eq "other resources still allowed" "namespace/default" "$out"
  kube_ctl allow >/dev/null
  out=$(kubectl get configmaps -n default -o name 2>&1 | head -n 1)
  expect_match "allowed again" "configmap/" "$out"
}

check_tls() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KUBE_API_TOKEN" "$KUBE_API_SERVER/version")
  expect_eq "no CA: certificate not trusted" "000" "$code"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_API_CA" -H "Authorization: Bearer $KUBE_API_TOKEN" \
    "https://localhost:${KUBE_API_SERVER##*:}/version")
  expect_eq "server certificate names localhost" "200" "$code"
  expect_eq "client certificate, no token" "namespace/default" \
    "$(kubectl --kubeconfig "$KUBE_API_KUBECONFIG_CERT" get ns default -o name 2>&1)"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_API_CA" --cert "$KUBE_API_DIR/client.crt" \
    --key "$KUBE_API_DIR/client.key" "$KUBE_API_SERVER/api/v1/namespaces")
  expect_eq "curl with the client certificate" "200" "$code"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/o.key" \
    -out "$work/o.crt" -days 1 -subj /CN=intruder >/dev/null 2>&1
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_API_CA" --cert "$work/o.crt" --key "$work/o.key" \
    "$KUBE_API_SERVER/api/v1/namespaces")
  [ "$code" = 401 ] || [ "$code" = 000 ] || fail "a certificate from another CA was accepted ($code)"
}

check_dropped_watch() {
  local out
  watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$(current_rv)&timeoutSeconds=30" 10 \
    >"$work/drop.out" 2>&1 &
  local w=$!
  kube_wait_watches 1 configmaps || fail "no watch open"
  out=$(kube_ctl drop-watches)
  expect_match "drop-watches" '"dropped": 1' "$out"
  local start=$SECONDS
  wait "$w"
  [ $((SECONDS - start)) -le 3 ] || fail "the dropped watch stayed open"
  out=$(curl -sf "$KUBE_API_CONTROL/watches")
  expect_eq "no watch left" "[]" "$out"
  # ended cleanly (terminating chunk) rather than reset
  watch_events "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$(current_rv)&timeoutSeconds=30" 10 \
    >"$work/end.out" 2>&1 &
  w=$!
  kube_wait_watches 1 configmaps || fail "no watch open"
  kube_ctl drop-watches mode=end >/dev/null
  wait "$w"
  expect_eq "ended watch" "0" "$?"
}

check_pause() {
  local out start
  kube_ctl pause mode=refuse >/dev/null
  out=$(kubectl get ns default --request-timeout=2s 2>&1)
  expect_match "paused (refuse)" "refused" "$out"
  kube_ctl resume >/dev/null
  expect_eq "resumed" "namespace/default" "$(kubectl get ns default -o name 2>&1)"
  kube_ctl pause mode=hang >/dev/null
  start=$(date +%s)
  out=$(kubectl get ns default --request-timeout=1s 2>&1)
  expect_match "paused (hang)" "Timeout|timeout|deadline" "$out"
  kube_ctl resume >/dev/null
  expect_eq "resumed after hang" "namespace/default" "$(kubectl get ns default -o name 2>&1)"
}

check_delete_and_gc() {
  local out
  kubectl apply -f "$data/owned.yaml" >/dev/null 2>&1 || fail "apply owned.yaml"
  local dep rs
  dep=$(kubectl get deploy -n gc owner -o jsonpath='{.metadata.uid}')
  kubectl patch rs -n gc owner-rs --type=merge -p "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"owner\",\"uid\":\"$dep\",\"controller\":true}]}}" >/dev/null
  rs=$(kubectl get rs -n gc owner-rs -o jsonpath='{.metadata.uid}')
  kubectl patch pod -n gc owned-pod --type=merge -p "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"owner-rs\",\"uid\":\"$rs\",\"controller\":true}]}}" >/dev/null
  out=$(kubectl delete deploy -n gc owner 2>&1)
  expect_match "delete" 'deployment.apps "owner" deleted' "$out"
  expect_eq "dependents collected" "" "$(kubectl get rs,pods -n gc -l chain=yes -o name 2>&1)"
  # finalizers hold an object until removed
  kubectl create configmap -n gc fin >/dev/null
  kubectl patch configmap -n gc fin --type=merge -p '{"metadata":{"finalizers":["test/hold"]}}' >/dev/null
  kubectl delete configmap -n gc fin --wait=false >/dev/null
  expect_match "held by a finalizer" "^20[0-9][0-9]-" "$(kubectl get configmap -n gc fin -o jsonpath='{.metadata.deletionTimestamp}')"
  kubectl patch configmap -n gc fin --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
  out=$(kubectl get configmap -n gc fin 2>&1)
  expect_match "gone after the finalizer" "NotFound|not found" "$out"
  # deleting a namespace deletes what is in it
  kubectl create configmap -n gc left >/dev/null
  out=$(kubectl delete namespace gc 2>&1)
  expect_match "delete namespace" 'namespace "gc" deleted' "$out"
  expect_eq "namespace contents gone" "" "$(kubectl get configmaps -A --field-selector metadata.namespace=gc -o name)"
}

check_request_counts() {
  kube_ctl requests reset=1 >/dev/null
  kubectl get pods -n default -w >/dev/null 2>&1 &
  local kw=$!
  kube_wait_watches 1 pods || fail "no watch open"
  kill "$kw"
  wait "$kw" 2>/dev/null
  expect_eq "one list" "1" "$(kube_count list /api/v1/namespaces/default/pods)"
  expect_eq "one watch" "1" "$(kube_count watch /api/v1/namespaces/default/pods)"
}

check_server_side_apply() {
  local out code
  kubectl create namespace ssa >/dev/null
  out=$(kubectl apply --server-side -f "$data/ssa.yaml" 2>&1)
  expect_match "server-side apply create" "configmap/ssa serverside-applied" "$out"
  out=$(kubectl apply --server-side --field-manager=other -f - 2>&1 <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: ssa}
data: {a: changed}
YAML
)
  expect_match "conflict" "conflict" "$out"
  out=$(kubectl apply --server-side --field-manager=other --force-conflicts -f - 2>&1 <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: ssa}
data: {a: changed}
YAML
)
  expect_match "forced" "serverside-applied" "$out"
  expect_eq "forced value" "changed" "$(kubectl get configmap -n ssa ssa -o jsonpath='{.data.a}')"
  # the first manager drops b: removed; a now belongs to "other": kept
  kubectl apply --server-side -f - >/dev/null 2>&1 <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: ssa}
data: {c: "3"}
YAML
  expect_eq "fields after re-apply" '{"a":"changed","c":"3"}' "$(kubectl get configmap -n ssa ssa -o jsonpath='{.data}')"
  # an update's fields belong to its manager: a server-side apply of another
  # value conflicts with it, an equal value is shared
  kubectl apply -f - >/dev/null 2>&1 <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: csa, namespace: ssa}
data: {a: "1", b: "2"}
YAML
  kubectl label configmap -n ssa csa owner=label >/dev/null
  raw GET /api/v1/namespaces/ssa/configmaps/csa >/dev/null
  expect_eq "managers" "['kubectl-client-side-apply:Update', 'kubectl-label:Update']" \
    "$(jqr "$work/body" '[e["manager"] + ":" + e["operation"] for e in d["metadata"]["managedFields"]]')"
  out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: csa, namespace: ssa}\ndata: {a: "9"}\n' |
    kubectl apply --server-side -f - 2>&1)
  expect_match "conflict with an update" 'conflict with "kubectl-client-side-apply" using v1: .data.a' "$out"
  out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: csa, namespace: ssa}\ndata: {a: "1"}\n' |
    kubectl apply --server-side -f - 2>&1)
  expect_match "an equal value is shared" "serverside-applied" "$out"
}

kubectl_minor=$(kubectl version --client -o json 2>/dev/null | python3 -c \
  'import json,re,sys; print(re.sub(r"\D", "", json.load(sys.stdin)["clientVersion"]["minor"]))')
checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(discovery apply_core kustomize get_selectors crds pagination watch
  bookmarks_and_timeout gone auth tls dropped_watch pause delete_and_gc request_counts server_side_apply)
kube_up "$work/server" || { echo "FAIL: the API server did not start"; exit 1; }
passed=0 failed=0
for c in "${checks[@]}"; do
  before=$FAILED
  start=$(date +%s%N)
  "check_$c"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$FAILED" -eq "$before" ]; then
    printf 'PASS %-26s %5d ms\n' "$c" "$ms"; passed=$((passed + 1))
  else
    printf 'FAIL %-26s %5d ms\n' "$c" "$ms"; failed=$((failed + 1))
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "--- apiserver.log:"; tail -n 30 "$KUBE_API_DIR/apiserver.log"
fi
echo "kube: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
