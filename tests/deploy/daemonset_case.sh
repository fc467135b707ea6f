# An e2e case (tests/e2e/case.sh runs it in a fresh lab), started by
# daemonset_e2e_test.sh in a network namespace that stands in for the node.
# Pods are not tied to cgroups yet, so the workload is a local Workload from
# --policy-dir, the one flag added to the ConfigMap's (as kube_policy_watch).
root=$(cd "$here/../.." && pwd)
. "$root/tests/kube/lib.sh"
. "$root/tests/deploy/lib.sh"

node_bpffs=/sys/fs/bpf/$LAB-node         # the node's bpffs (a directory on the real one)
node_cgroup=$LAB_CGROUP                  # the node's cgroup2 root (the lab's subtree)
made=()                                  # mount points created on the machine, removed at exit
E2E_BPFFS=$node_bpffs/egressd            # e2e_teardown uninstalls the pins from here
deploy_cleanup() {
  local status=$?
  e2e_stop_agent
  "$EGRESSD_BIN/egressd" --uninstall --bpffs "$node_bpffs/egressd" >/dev/null 2>&1
  rm -rf "$node_bpffs"
  local d
  for d in "${made[@]}"; do rmdir "$d" 2>/dev/null; done
  kube_down
  (exit $status)
  e2e_teardown
}
trap deploy_cleanup EXIT
kube_up "$LAB_DIR/kube" || { e2e_fail "the test API server did not start"; return; }

objects=$(deploy_render "$root/deploy") || { e2e_fail "kubectl kustomize deploy/"; return; }
ds() { jq -sr "[.[] | select(.kind == \"DaemonSet\")][0].spec.template.spec | $1" <<<"$objects"; }
ctr() { ds ".containers[0] | $1"; }

caps=$(ctr '.securityContext.capabilities.add | map("+" + ascii_downcase) | join(",")')
[ "$(ctr '.securityContext.capabilities.drop | join(",")')" = ALL ] || e2e_fail "capabilities do not drop ALL"
[ "$(ctr '.securityContext.privileged // false')" = false ] || e2e_fail "the container is privileged"
flags_cm=$(ctr '.env[] | select(.name == "EGRESSD_FLAGS") | .valueFrom.configMapKeyRef.name')
flags=$(jq -sr --arg n "$flags_cm" '.[] | select(.kind == "ConfigMap" and .metadata.name == $n) | .data.flags' <<<"$objects")
[ -n "$flags" ] || { e2e_fail "no flags in ConfigMap $flags_cm"; return; }
mapfile -t command < <(ctr '.command[]')
[ "$(ctr '.env[] | select(.name == "NODE_NAME") | .valueFrom.fieldRef.fieldPath')" = spec.nodeName ] ||
  e2e_fail "NODE_NAME is not from spec.nodeName"
probe_host=$(ctr '.readinessProbe.httpGet.host') probe_port=$(ctr '.readinessProbe.httpGet.port')
ready_path=$(ctr '.readinessProbe.httpGet.path') live_path=$(ctr '.livenessProbe.httpGet.path')
E2E_ADMIN=$probe_host:$probe_port
# Host paths, each at its mount path; the node's own stand-ins replace the
# two paths a node has.
mounts=$(ds '.volumes[] | select(.hostPath) | .name as $v | .hostPath.path as $p | "\($p) \($v)"')
mount_script="set -e; mount --make-rprivate /"
while read -r host_path volume; do
  target=$(ctr ".volumeMounts[] | select(.name == \"$volume\") | .mountPath")
  case "$host_path" in
    /sys/fs/bpf) source=$node_bpffs ;;
    /sys/fs/cgroup) source=$node_cgroup ;;
    *) e2e_fail "host path $host_path: no stand-in for it on this machine"; return ;;
  esac
  top="/$(cut -d/ -f2 <<<"$target")"
  if [ ! -e "$top" ]; then mkdir "$top" && made+=("$top"); mount_script+="; mountpoint -q $top || mount -t tmpfs deploy-e2e $top"; fi
  mount_script+="; mkdir -p $target; mount --bind $source $target"
done <<<"$mounts"
# Only the declared mounts lead to the node's bpffs and cgroup2: the usual
# paths are hidden, as in a container.
mount_script+="; mount -t tmpfs hidden /sys/fs/bpf; mount -t tmpfs hidden $(lab_cgroup2_root)"
# The service account, where a pod has it.
sa=/var/run/secrets/kubernetes.io/serviceaccount
[ -e /run/secrets ] || { mkdir /run/secrets && made+=(/run/secrets); }
mkdir -p "$LAB_DIR/sa" && printf %s "$KUBE_API_TOKEN" > "$LAB_DIR/sa/token" && cp "$KUBE_API_CA" "$LAB_DIR/sa/ca.crt"
mount_script+="; mount -t tmpfs sa /run/secrets; mkdir -p $sa; cp $LAB_DIR/sa/token $LAB_DIR/sa/ca.crt $sa/"
mkdir -p "$node_bpffs"

# hostNetwork: the node's network namespace (this one); hostPID: its PID namespace.
[ "$(ds '.hostNetwork')" = true ] || e2e_fail "hostNetwork is not true (this test runs the agent in the node's netns)"
[ "$(ds '.hostPID')" = true ] || e2e_fail "hostPID is not true (this test runs the agent in the node's PID namespace)"

lab_workload production/web >/dev/null
lab_external_addr 192.0.2.20   # 192.0.2.10 is one of the lab's own
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
YAML
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
kubectl apply -k "$root/deploy/crds" >/dev/null || { e2e_fail "CRDs"; return; }
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
service_entry partner 192.0.2.10

# The container's command, with this build's binary for the image's.
command=("${command[@]//\/usr\/bin\/egressd/$EGRESSD_BIN/egressd}")
echo "  agent: caps $caps; ${command[*]}; flags: $(tr '\n' ' ' <<<"$flags")--policy-dir $E2E_POLICY"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NODE_NAME=node-1 \
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="${KUBE_API_SERVER##*:}" \
  EGRESSD_FLAGS="$flags --policy-dir $E2E_POLICY" \
  unshare --mount -- bash -c "$mount_script"'; exec setpriv --inh-caps -all --bounding-set -all,'"$caps"' -- "$@"' \
  _ "${command[@]}" >>"$E2E_LOG" 2>&1 &
E2E_AGENT_PID=$!

if ms=$(wait_until 20000 curl -sf "http://$E2E_ADMIN$ready_path"); then
  e2e_ok "ready on the probe's address ($E2E_ADMIN$ready_path) after $ms ms"
else
  e2e_fail "not ready on $E2E_ADMIN$ready_path after 20 s"
  return
fi
curl -sf "http://$E2E_ADMIN$live_path" >/dev/null && e2e_ok "live on $live_path" || e2e_fail "$live_path"
expect_log "kube serviceentries: watching /apis/networking.istio.io/v1/serviceentries"
expect_log "Kubernetes API https://127.0.0.1:[0-9]+ from in-cluster"
# What it runs with: the bounding and effective sets are the manifest's.
want_caps=$(ctr '.securityContext.capabilities.add | map("cap_" + ascii_downcase) | sort | join(",")')
got_caps=$(capsh --decode="$(awk '/^CapEff/ {print $2}' "/proc/$E2E_AGENT_PID/status")" | sed 's/.*=//' | tr ',' '\n' | sort | paste -sd,)
[ "$got_caps" = "$want_caps" ] && e2e_ok "effective capabilities: $got_caps" ||
  e2e_fail "effective capabilities $got_caps, manifest $want_caps"
# The pins are in the node's bpffs, reached through the host mount.
[ -e "$node_bpffs/egressd/flows" ] && e2e_ok "pins in the node's bpffs ($node_bpffs/egressd)" ||
  e2e_fail "no pins under $node_bpffs/egressd"

expect_probe production/web connect 192.0.2.10 80 ok
expect_probe production/web connect 192.0.2.20 80 EPERM
service_entry second 192.0.2.20
if ms=$(wait_until 10000 probe_is production/web connect 192.0.2.20 80 ok); then
  e2e_ok "a ServiceEntry created with kubectl is enforced after $ms ms"
else
  e2e_fail "192.0.2.20:80 not allowed 10 s after its ServiceEntry"
fi
