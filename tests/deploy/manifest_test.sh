#!/usr/bin/env bash
# Renders deploy/ with the real kubectl (kustomize) and checks the properties
# the DaemonSet's safety rests on: no privileged container, exactly the
# capabilities the agent needs, only the host's bpffs and cgroup2 mounts,
# probes on the admin address, NODE_NAME from the downward API, a rollout
# that replaces one node's agent at a time, and read-only RBAC.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v kubectl >/dev/null && command -v jq >/dev/null || { echo "kubectl and jq are required" >&2; exit 1; }

failures=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1" >&2; failures=$((failures + 1)); }
# check WHAT JQ_FILTER EXPECTED: the filter's compact output over all objects.
check() {
  local got
  got=$(jq -sc "$2" <<<"$objects" 2>&1)
  if [ "$got" = "$3" ]; then ok "$1"; else bad "$1: expected $3, got $got"; fi
}

. "$root/tests/deploy/lib.sh"
objects=$(deploy_render "$root/deploy") && [ -n "$objects" ] || { echo "FAIL: kubectl kustomize deploy/" >&2; exit 1; }

check "kinds" '[.[] | .kind] | sort' \
  '["ClusterRole","ClusterRoleBinding","ConfigMap","DaemonSet","Namespace","ServiceAccount"]'
check "everything namespaced is in egressd-system" \
  '[.[] | select(.kind != "Namespace" and .kind != "ClusterRole" and .kind != "ClusterRoleBinding") | .metadata.namespace] | unique' \
  '["egressd-system"]'

ds='.[] | select(.kind == "DaemonSet")'
pod="$ds | .spec.template.spec"
ctr="$pod | .containers[0]"
check "one container" "[$pod | (.containers | length), (.initContainers // [] | length)]" '[1,0]'
check "not privileged anywhere" "[$pod | .containers[] | .securityContext.privileged // false]" '[false]'
check "capabilities: drop ALL" "[$ctr | .securityContext.capabilities.drop]" '[["ALL"]]'
check "capabilities: exactly these" "[$ctr | .securityContext.capabilities.add | sort]" \
  '[["BPF","NET_ADMIN","PERFMON","SYS_ADMIN","SYS_PTRACE"]]'
check "read-only root filesystem" "[$ctr | .securityContext.readOnlyRootFilesystem]" '[true]'
check "host namespaces: network and PID, not IPC" "[$pod | .hostNetwork, .hostPID, (.hostIPC // false)]" '[true,true,false]'
check "cluster DNS with hostNetwork" "[$pod | .dnsPolicy]" '["ClusterFirstWithHostNet"]'
check "host paths: bpffs and cgroup2 only" \
  "[$pod | .volumes[] | select(.hostPath) | [.name, .hostPath.path, .hostPath.type]]" \
  '[["bpffs","/sys/fs/bpf","Directory"],["cgroup","/sys/fs/cgroup","Directory"]]'
check "no other volumes" "[$pod | .volumes | length]" '[2]'
check "mounts" "[$ctr | .volumeMounts[] | [.name, .mountPath, (.readOnly // false), (.mountPropagation // \"None\")]]" \
  '[["bpffs","/host/sys/fs/bpf",false,"HostToContainer"],["cgroup","/host/sys/fs/cgroup",false,"None"]]'
check "NODE_NAME from the downward API" \
  "[$ctr | .env[] | select(.name == \"NODE_NAME\") | .valueFrom.fieldRef.fieldPath]" '["spec.nodeName"]'
check "POD_NAMESPACE, POD_NAME and POD_UID from the downward API (the agent's own pod is left alone)" \
  "[$ctr | .env[] | select(.name == \"POD_NAMESPACE\" or .name == \"POD_NAME\" or .name == \"POD_UID\") | .valueFrom.fieldRef.fieldPath]" \
  '["metadata.namespace","metadata.name","metadata.uid"]'
check "liveness on /healthz" "[$ctr | .livenessProbe.httpGet | .host, .port, .path]" '["127.0.0.1",9477,"/healthz"]'
check "readiness on /readyz" "[$ctr | .readinessProbe.httpGet | .host, .port, .path]" '["127.0.0.1",9477,"/readyz"]'
check "system-node-critical" "[$pod | .priorityClassName]" '["system-node-critical"]'
check "tolerates every taint" "[$pod | .tolerations]" '[[{"operator":"Exists"}]]'
check "requests and limits" \
  "[$ctr | .resources | (.requests | has(\"cpu\") and has(\"memory\")), (.limits | has(\"cpu\") and has(\"memory\"))]" '[true,true]'
check "rolling update, one node at a time, no surge" \
  "[$ds | .spec.updateStrategy | .type, .rollingUpdate.maxUnavailable, .rollingUpdate.maxSurge]" '["RollingUpdate",1,0]'
check "service account" "[$pod | .serviceAccountName]" '["egressd"]'

# The admin address the probes use is the one in the flags, and the host
# paths are where the flags point.
flags=$(jq -sr '.[] | select(.kind == "ConfigMap") | .data.flags' <<<"$objects")
check "the ConfigMap's name is the one the DaemonSet reads" \
  "[($ctr | .env[] | select(.name == \"EGRESSD_FLAGS\") | .valueFrom.configMapKeyRef.name)] == [.[] | select(.kind == \"ConfigMap\") | .metadata.name]" 'true'
for want in --in-cluster --admin-addr=127.0.0.1:9477 --bpffs=/host/sys/fs/bpf/egressd --cgroup-root=/host/sys/fs/cgroup; do
  if grep -qxF -- "$want" <<<"$flags"; then ok "flag $want"; else bad "flag $want missing from the ConfigMap"; fi
done

# RBAC: read-only, bound to the agent's service account.
check "ClusterRole verbs are read-only" '[.[] | select(.kind == "ClusterRole") | .rules[].verbs[]] | unique' '["get","list","watch"]'
check "ClusterRole resources" \
  '[.[] | select(.kind == "ClusterRole") | .rules[] | select(.resources) | .apiGroups[0] as $g | .resources[] | "\($g)/\(.)"] | sort' \
  '["/configmaps","/namespaces","/pods","/services","networking.istio.io/destinationrules","networking.istio.io/gateways","networking.istio.io/serviceentries","networking.istio.io/sidecars","networking.istio.io/virtualservices"]'
check "configmaps: the mesh config only" \
  '[.[] | select(.kind == "ClusterRole") | .rules[] | select(.resources == ["configmaps"]) | .resourceNames]' '[["istio"]]'
check "binding" '[.[] | select(.kind == "ClusterRoleBinding") | .roleRef.name, (.subjects[] | .kind, .name, .namespace)]' \
  '["egressd","ServiceAccount","egressd","egressd-system"]'

# The optional CRD component renders on its own.
if [ -f "$root/deploy/crds/kustomization.yaml" ]; then
  crds=$(deploy_render "$root/deploy/crds")
  got=$(jq -sc '[.[] | select(.kind == "CustomResourceDefinition") | .metadata.name] | sort' <<<"$crds")
  want='["destinationrules.networking.istio.io","gateways.networking.istio.io","serviceentries.networking.istio.io","sidecars.networking.istio.io","virtualservices.networking.istio.io"]'
  [ "$got" = "$want" ] && ok "crds/ renders the five CRDs" || bad "crds/: expected $want, got $got"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
