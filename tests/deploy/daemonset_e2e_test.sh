#!/usr/bin/env bash
# The DaemonSet as written, on this machine: the agent runs with exactly the
# rendered manifest's command, flags (its ConfigMap), NODE_NAME, capabilities
# (the bounding set, as a container runtime sets it), host mounts (a private
# mount namespace where only they lead to the "node's" bpffs and cgroup2) and
# host-namespace settings, in-cluster against the test API server (service
# account token and CA where a pod has them). It must become ready on the
# probe's address and enforce a ServiceEntry written with kubectl.
#   tests/deploy/daemonset_e2e_test.sh BIN_DIR
# The node is a fresh network namespace (hostNetwork: the agent shares it),
# so the manifest's admin port does not meet anything else on the machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export EGRESSD_BIN=${1:?usage: daemonset_e2e_test.sh BIN_DIR}
EGRESSD_BIN=$(cd "$EGRESSD_BIN" && pwd)
if [ "$(id -u)" -ne 0 ] || [ -z "$(awk '$9 == "cgroup2"' /proc/self/mountinfo)" ] || ! command -v setpriv >/dev/null; then
  msg="daemonset e2e: needs root, a cgroup v2 mount and setpriv"
  if [ -n "${CI:-}" ]; then echo "FAIL: $msg" >&2; exit 1; fi
  echo "SKIP: $msg" >&2
  exit 77
fi
exec unshare --net -- bash -c 'ip link set lo up && exec bash "$1/tests/e2e/case.sh" "$2/daemonset_case.sh"' \
  _ "$root" "$here"
