# Kubernetes mode: the pods of this node are the workloads. Pods are created
# and deleted with the real kubectl against the test API server; their
# pod-level cgroups are made where the kubelet makes them, under a fake
# kubepods tree inside the lab cgroup (--cgroup-root), in both the systemd
# and the cgroupfs driver's layout, with a container cgroup below each pod
# and its processes in a lab network namespace. Checked: REGISTRY_ONLY on a
# pod (Pod first, then its cgroup; and a process that starts before its Pod
# object: unknown_workload, then the pod's policy); a Sidecar selecting pods
# by label; pods of an excluded namespace, of a Namespace labelled
# egressd.io/enforce: "false", and a hostNetwork pod; source_workload is the
# Deployment; a deleted pod, or one that ran to completion, leaves the
# workloads; egressctl workloads lists every pod's state. The times from the last of (Pod, cgroup) to enforcement are
# measured and printed.
. "$here/../kube/lib.sh"
kube_up "$LAB_DIR/kube" --keep-client-uid || { e2e_fail "the test API server did not start"; return; }
trap 'status=$?; kube_down; (exit $status); e2e_teardown' EXIT

NODE=e2e-node
ACCESS_LOG=$LAB_DIR/access.log
# The QoS directories, as a kubelet of each driver makes them at start.
for d in kubepods.slice/kubepods-besteffort.slice kubepods.slice/kubepods-burstable.slice \
  kubepods/besteffort kubepods/burstable; do
  mkdir -p "$LAB_CGROUP/$d"
done

# pod_dir LAYOUT QOS UID: a pod's cgroup relative to the lab cgroup, as
# pod_cgroups.h names it (QOS besteffort, burstable or guaranteed).
pod_dir() {
  local layout=$1 qos=$2 uid=$3
  if [ "$layout" = systemd ]; then
    if [ "$qos" = guaranteed ]; then echo "kubepods.slice/kubepods-pod${uid//-/_}.slice"
    else echo "kubepods.slice/kubepods-$qos.slice/kubepods-$qos-pod${uid//-/_}.slice"; fi
  else
    if [ "$qos" = guaranteed ]; then echo "kubepods/pod$uid"
    else echo "kubepods/$qos/pod$uid"; fi
  fi
}
# make_pod_cgroup DIR: the pod's cgroup and one container below it (where
# its processes run); prints the container's cgroup, for lab_exec.
make_pod_cgroup() {
  mkdir -p "$LAB_CGROUP/$1/cri-containerd-app.scope"
  echo "$1/cri-containerd-app.scope"
}
# apply_pod NS NAME UID [QOS [LABELS [EXTRA_SPEC [METADATA]]]]: a Pod of this
# node (BestEffort unless QOS is burstable: a cpu request).
apply_pod() {
  local ns=$1 name=$2 uid=$3 qos=${4:-besteffort} labels=${5:-"{}"} extra=${6:-} meta=${7:-}
  local resources=""
  [ "$qos" = burstable ] && resources=", resources: {requests: {cpu: 100m}}"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $ns, uid: $uid, labels: $labels $meta}
spec:
  nodeName: $NODE
  containers: [{name: app, image: app$resources}]
  $extra
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
# in_status JQ: egressctl status (JSON) satisfies the jq test.
in_status() {
  egressctl -o json status | jq -e "$1" >/dev/null
}

kubectl apply -f "$here/../kube/testdata/istio-crds.yaml" >/dev/null || { e2e_fail "CRDs"; return; }
for ns in production istio-system; do kubectl create namespace "$ns" >/dev/null; done  # kube-system is there
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {egressd.io/enforce: "false"}}
YAML
mesh_mode REGISTRY_ONLY
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: api-egress, namespace: production}
spec:
  workloadSelector: {labels: {app: api}}
  outboundTrafficPolicy: {mode: ALLOW_ANY}
  egress: [{hosts: ["./*"]}]
YAML
e2e_start_agent --kubeconfig "$KUBECONFIG" --node-name "$NODE" --access-log "$ACCESS_LOG" || return
expect_log "kube pods: watching /api/v1/pods"
[ "$(kube_count list /api/v1/pods)" -ge 1 ] && e2e_ok "pods listed" || e2e_fail "pods never listed"
grep -q "fieldSelector=spec.nodeName%3D$NODE\|fieldSelector=spec.nodeName=$NODE" <(kube_ctl log last=200) &&
  e2e_ok "pods requested with fieldSelector spec.nodeName=$NODE" || e2e_fail "no pods request with the node's field selector"

# 1. A Deployment's pod (systemd layout): the Pod object first, then its
#    cgroup. Until the cgroup exists it waits; once it does, its process is
#    under REGISTRY_ONLY within a second.
WEB_UID=0a1b2c3d-0000-4000-8000-000000000001
apply_pod production web-7d4b9c8f6-x2x9z $WEB_UID besteffort "{app: web, pod-template-hash: 7d4b9c8f6}" "" \
  ", generateName: web-7d4b9c8f6-, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c8f6, uid: 0a1b2c3d-0000-4000-8000-0000000000ff, controller: true}]"
wait_until 5000 in_status '.workloads.unresolved["production/web-7d4b9c8f6-x2x9z"] | startswith("waiting for its cgroup")' >/dev/null &&
  e2e_ok "the Pod without its cgroup waits for it" || e2e_fail "production/web-7d4b9c8f6-x2x9z is not waiting for its cgroup"
start=$(date +%s%N)
web=$(make_pod_cgroup "$(pod_dir systemd besteffort $WEB_UID)")
if ms=$(wait_until 5000 probe_is "$web" connect 192.0.2.10 80 ok); then
  CGROUP_LAST_MS=$(( ($(date +%s%N) - start) / 1000000 ))
  e2e_ok "cgroup created (Pod already there) -> enforced after $CGROUP_LAST_MS ms"
  [ "$CGROUP_LAST_MS" -le $((1000 * ${E2E_TIME_SCALE:-1})) ] || e2e_fail "enforced after $CGROUP_LAST_MS ms, more than $((1000 * ${E2E_TIME_SCALE:-1})) ms"
else
  e2e_fail "web: the registered destination is not allowed 5 s after its cgroup appeared"
fi
expect_probe "$web" connect 192.0.2.10 80 ok
expect_probe "$web" connect 198.51.100.20 80 EPERM
expect_probe "$web" sendto 198.51.100.20 53 EPERM
expect_log "workload production/web-7d4b9c8f6-x2x9z not enforced yet: waiting for its cgroup"

# 2. A process that starts before its Pod object (cgroupfs layout,
#    Burstable): below a QoS directory, it is an unknown workload (denied,
#    even the destination its pod will be allowed); then the Pod arrives.
EARLY_UID=0a1b2c3d-0000-4000-8000-000000000002
early=$(make_pod_cgroup "$(pod_dir cgroupfs burstable $EARLY_UID)")
lab_exec "$early" sleep 300 &
expect_probe "$early" connect 192.0.2.10 80 EPERM
expect_probe "$early" connect 198.51.100.20 80 EPERM
expect_metric '^egressd_verdicts_total\{hook="connect4",verdict="denied",reason="unknown_workload"\} [2-9]'
start=$(date +%s%N)
apply_pod production early-0 $EARLY_UID burstable "{app: early}"
if wait_until 5000 probe_is "$early" connect 192.0.2.10 80 ok >/dev/null; then
  POD_LAST_MS=$(( ($(date +%s%N) - start) / 1000000 ))
  e2e_ok "kubectl apply of the Pod (cgroup already there) -> enforced after $POD_LAST_MS ms"
  [ "$POD_LAST_MS" -le $((1000 * ${E2E_TIME_SCALE:-1})) ] || e2e_fail "enforced after $POD_LAST_MS ms, more than $((1000 * ${E2E_TIME_SCALE:-1})) ms"
else
  e2e_fail "early-0: not enforced 5 s after its Pod was applied"
fi
expect_probe "$early" connect 198.51.100.20 80 EPERM
expect_probe "$early" connect 203.0.113.30 80 EPERM  # a new flow: its own access-log line
early_id=$(stat -c %i "$LAB_CGROUP/$(pod_dir cgroupfs burstable $EARLY_UID)")
early_reasons() {
  jq -r --arg id "cgroup:$early_id" 'select(.workload == $id or .workload == "production/early-0") |
    "\(.workload) \(.reason)"' "$ACCESS_LOG" | uniq | paste -sd' '
}
early_logged() { [[ "$(early_reasons)" == "cgroup:$early_id unknown_workload"*"production/early-0 not_in_registry"* ]]; }
if wait_until 3000 early_logged >/dev/null; then
  e2e_ok "access log: unknown_workload (its pod cgroup) before the Pod, the pod's policy after"
else
  e2e_fail "access log for early-0: $(early_reasons)"
fi

# 3. A Sidecar's workloadSelector picks pods by label: ALLOW_ANY for app=api only.
API_UID=0a1b2c3d-0000-4000-8000-000000000003
api=$(make_pod_cgroup "$(pod_dir systemd burstable $API_UID)")
apply_pod production api-0 $API_UID burstable "{app: api}"
if ms=$(wait_until 5000 probe_is "$api" connect 198.51.100.20 80 ok); then
  e2e_ok "Sidecar api-egress (workloadSelector app=api) lets api-0 out after $ms ms"
else
  e2e_fail "api-0 is not under its Sidecar's ALLOW_ANY"
fi
expect_probe "$web" connect 198.51.100.20 80 EPERM
[ "$(egressctl -o json policy --workload production/api-0 | jq -r .sidecar)" = production/api-egress ] &&
  e2e_ok "egressctl policy: production/api-0 has Sidecar production/api-egress" ||
  e2e_fail "egressctl policy --workload production/api-0: $(egressctl -o json policy --workload production/api-0 2>&1 | head -c 300)"
egressctl -o json explain --workload production/web-7d4b9c8f6-x2x9z --to 198.51.100.20:80 | jq -e '.verdict == "denied"' >/dev/null &&
  e2e_ok "egressctl explain accepts a pod: denied" || e2e_fail "egressctl explain --workload NS/POD"

# 4. Left alone: a pod of kube-system (--exclude-namespace's default), one of
#    a Namespace labelled egressd.io/enforce: "false". Both sit below the same
#    QoS directories as enforced pods, yet are neither enforced nor unknown.
DNS_UID=0a1b2c3d-0000-4000-8000-000000000004
OLD_UID=0a1b2c3d-0000-4000-8000-000000000005
coredns=$(make_pod_cgroup "$(pod_dir systemd burstable $DNS_UID)")
old=$(make_pod_cgroup "$(pod_dir cgroupfs besteffort $OLD_UID)")
apply_pod kube-system coredns-5d78c9869d-abcde $DNS_UID burstable "{k8s-app: kube-dns}"
apply_pod legacy old-app $OLD_UID
if wait_until 5000 probe_is "$coredns" connect 198.51.100.20 80 ok >/dev/null &&
  wait_until 5000 probe_is "$old" connect 198.51.100.20 80 ok >/dev/null; then
  e2e_ok "kube-system and enforce=false pods reach an unregistered destination"
else
  e2e_fail "an excluded pod is denied"
fi
expect_probe "$coredns" sendto 198.51.100.20 53 ok
egressctl -o json explain --workload kube-system/coredns-5d78c9869d-abcde --to 198.51.100.20:80 |
  jq -e '.verdict == "allowed" and (.detail | contains("namespace kube-system is excluded"))' >/dev/null &&
  e2e_ok "egressctl explain: the kube-system pod is left alone" || e2e_fail "egressctl explain of an excluded pod"
expect_metric '^egressd_workloads\{state="excluded"\} 2'

# 5. hostNetwork: enforced through the cgroup hooks like any pod.
HOST_UID=0a1b2c3d-0000-4000-8000-000000000006
hostpod=$(make_pod_cgroup "$(pod_dir systemd besteffort $HOST_UID)")
apply_pod production node-exporter-abcde $HOST_UID besteffort "{app: node-exporter}" "hostNetwork: true"
if wait_until 5000 probe_is "$hostpod" connect 192.0.2.10 80 ok >/dev/null; then
  e2e_ok "hostNetwork pod enforced by the cgroup hooks"
else
  e2e_fail "hostNetwork pod not enforced"
fi
expect_probe "$hostpod" connect 198.51.100.20 80 EPERM

# 6. Telemetry names the Deployment, not the pod (bounded cardinality).
expect_metric 'egressd_connections_total\{source_namespace="production",source_workload="web",destination_host="partner.example.com",destination_port="80",protocol="tcp",verdict="allowed"\} [1-9]'
expect_metric 'egressd_connections_total\{source_namespace="production",source_workload="web",.*verdict="denied"\} [1-9]'
if grep -q 'source_workload="web-7d4b9c8f6' <(curl -sf "http://$E2E_ADMIN/metrics"); then
  e2e_fail "a metric is labelled with the pod's name"
else
  e2e_ok "no metric labelled with the pod's own name"
fi
grep -q '"name":"web-7d4b9c8f6-x2x9z".*"source_workload":"web"' "$ACCESS_LOG" &&
  e2e_ok "access log: the pod, and source_workload web" || e2e_fail "access log lacks source_workload web"

# egressctl workloads: every pod of the node with its state, uid, cgroup,
# scope, mode, audit and TC backstop (or why none).
WAIT_UID=0a1b2c3d-0000-4000-8000-000000000007
apply_pod production pending-0 $WAIT_UID
wait_until 5000 in_status '.workloads.unresolved["production/pending-0"]' >/dev/null
row() { egressctl -o json workloads | jq -c --arg w "$1" '.workloads[] | select(.workload == $w)'; }
check_row() {  # check_row NS/POD JQ_TEST WHAT
  if row "$1" | jq -e "$2" >/dev/null; then e2e_ok "egressctl workloads: $3"; else e2e_fail "egressctl workloads: $3: $(row "$1")"; fi
}
check_row production/web-7d4b9c8f6-x2x9z \
  ".state == \"enforced\" and .uid == \"$WEB_UID\" and .cgroup == \"$LAB_CGROUP/$(pod_dir systemd besteffort $WEB_UID)\" and .scope == \"production|\" and .mode == \"REGISTRY_ONLY\" and .audit == false and .source_workload == \"web\" and .tc.none == \"--tc-mode off\"" \
  "web: enforced, uid, its pod cgroup, scope, REGISTRY_ONLY, no audit, TC off"
check_row production/api-0 '.state == "enforced" and .mode == "ALLOW_ANY" and .sidecar == "production/api-egress"' \
  "api-0: its Sidecar's ALLOW_ANY"
check_row kube-system/coredns-5d78c9869d-abcde '.state == "excluded" and (.reason | contains("--exclude-namespace")) and .mode == null' \
  "coredns: excluded, why"
check_row legacy/old-app '.state == "excluded" and (.reason | contains("egressd.io/enforce"))' "old-app: excluded by its Namespace's label"
check_row production/node-exporter-abcde '.state == "enforced" and .host_network and (.tc.none | startswith("hostNetwork"))' \
  "hostNetwork pod: enforced, no TC backstop, and why"
check_row production/pending-0 '.state == "waiting for its cgroup" and .cgroup == null' "pending-0: waiting for its cgroup"
STRAY_UID=0a1b2c3d-0000-4000-8000-0000000000aa
make_pod_cgroup "$(pod_dir systemd burstable $STRAY_UID)" >/dev/null
if egressctl -o json workloads | jq -e --arg u $STRAY_UID '.workloads[] | select(.uid == $u) |
    .state == "unknown cgroup" and .workload == null and (.mode | contains("--unknown-pods deny"))' >/dev/null; then
  e2e_ok "egressctl workloads: a pod cgroup no Pod names is an unknown cgroup, denied"
else
  e2e_fail "egressctl workloads: no unknown cgroup row for $STRAY_UID"
fi
table=$(egressctl workloads)
if grep -q "^WORKLOAD *UID *STATE" <<<"$table" && grep -q "production/web-7d4b9c8f6-x2x9z .*enforced .*REGISTRY_ONLY" <<<"$table" &&
  grep -q "kube-system/coredns-5d78c9869d-abcde .*excluded: namespace kube-system is excluded" <<<"$table"; then
  e2e_ok "egressctl workloads: the table"
else
  e2e_fail "egressctl workloads table: $table"
fi
egressctl -o json flows --workload production/web-7d4b9c8f6-x2x9z | jq -e '.flows | length > 0 and all(.workload == "production/web-7d4b9c8f6-x2x9z")' >/dev/null &&
  e2e_ok "egressctl flows --workload accepts a pod" || e2e_fail "egressctl flows --workload NS/POD"

# 7. Gone: a deleted pod, and one whose phase became Succeeded, leave the
#    workloads and the maps; their cgroups (still there) are unknown again.
kubectl delete pod -n production api-0 --wait=false >/dev/null
kubectl patch pod -n production early-0 --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null
if wait_until 5000 probe_is "$api" connect 198.51.100.20 80 EPERM >/dev/null &&
  wait_until 5000 probe_is "$early" connect 192.0.2.10 80 EPERM >/dev/null; then
  e2e_ok "deleted and Succeeded pods: their cgroups are unknown workloads again"
else
  e2e_fail "a deleted or completed pod keeps its policy"
fi
egressctl policy --workload production/api-0 >/dev/null 2>&1 && e2e_fail "egressctl still knows production/api-0" ||
  e2e_ok "egressctl policy: production/api-0 is gone"
in_status '.workloads.enforced == 2' && e2e_ok "2 pods enforced (web, node-exporter)" ||
  e2e_fail "enforced: $(egressctl -o json status | jq -c .workloads)"
n=$(bpftool -j map dump pinned "$E2E_BPFFS/workloads" | jq length)
[ "$n" -eq 2 ] && e2e_ok "the workloads map holds 2 entries" || e2e_fail "the workloads map holds $n entries"
if [ -z "$(row production/api-0)" ] && egressctl -o json workloads | jq -e --arg u $API_UID \
    '[.workloads[] | select(.uid == $u)] | length == 1 and .[0].state == "unknown cgroup"' >/dev/null; then
  e2e_ok "egressctl workloads: production/api-0 is gone, its cgroup (still there) an unknown cgroup"
else
  e2e_fail "egressctl workloads after the delete: $(egressctl -o json workloads | jq -c '.workloads[] | select(.uid == "'$API_UID'")')"
fi

# 8. Timing, a few rounds of each order, new pods each time: from the start
#    of `kubectl apply` (and from its return) with the cgroup already there,
#    and from the mkdir with the Pod already there, to the first allowed
#    connect (wait_until polls every 5 ms, each poll a fork and a connect).
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
pod_last=() pod_last_after=() cgroup_last=()
for i in 1 2 3 4 5; do
  uid=0a1b2c3d-0000-4000-8001-00000000000$i
  c=$(make_pod_cgroup "$(pod_dir systemd burstable $uid)")
  t0=$(date +%s%N)
  apply_pod production timing-a$i $uid burstable
  t1=$(date +%s%N)
  if wait_until 5000 probe_is "$c" connect 192.0.2.10 80 ok >/dev/null; then
    pod_last+=("$(ms_since "$t0")") pod_last_after+=("$(ms_since "$t1")")
  else
    e2e_fail "timing-a$i: not enforced 5 s after its Pod"
  fi
  uid=0a1b2c3d-0000-4000-8002-00000000000$i
  apply_pod production timing-b$i $uid
  wait_until 5000 in_status ".workloads.unresolved[\"production/timing-b$i\"]" >/dev/null
  t0=$(date +%s%N)
  c=$(make_pod_cgroup "$(pod_dir cgroupfs besteffort $uid)")
  if wait_until 5000 probe_is "$c" connect 192.0.2.10 80 ok >/dev/null; then
    cgroup_last+=("$(ms_since "$t0")")
  else
    e2e_fail "timing-b$i: not enforced 5 s after its cgroup"
  fi
done
sorted() { printf '%s\n' "$@" | sort -n | paste -sd' '; }
echo "  timing (ms, 5 rounds, sorted): Pod applied, cgroup already there -> enforced:" \
  "from kubectl start $(sorted "${pod_last[@]}"); from kubectl's return $(sorted "${pod_last_after[@]}")"
echo "  timing (ms, 5 rounds, sorted): cgroup created, Pod already there -> enforced: $(sorted "${cgroup_last[@]}")"
for ms in "${pod_last[@]}" "${cgroup_last[@]}"; do
  [ "$ms" -le $((1000 * ${E2E_TIME_SCALE:-1})) ] || e2e_fail "a pod enforced after $ms ms, more than $((1000 * ${E2E_TIME_SCALE:-1})) ms"
done
