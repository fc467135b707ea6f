#!/usr/bin/env bash
# Starts the test Kubernetes API server in the background and prints the path
# of a kubeconfig (bearer token, the server's own CA) for kubectl or the agent.
#   tests/kube/start.sh DIR [apiserver.py options...]
# DIR gets the certificates, kubeconfig, kubeconfig-cert (client certificate),
# server.json (ports, control URL, pid), apiserver.log, and env: a file to
# source that sets KUBECONFIG, KUBECACHEDIR and KUBE_API_* (see lib.sh).
# Stop it with tests/kube/stop.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: start.sh DIR [apiserver options...]}
shift
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rm -f "$dir/server.json"
python3 "$here/apiserver.py" --dir "$dir" "$@" >"$dir/apiserver.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$dir/server.json" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start.sh: the API server exited at start:" >&2
    tail -n 20 "$dir/apiserver.log" >&2
    exit 1
  fi
  sleep 0.05
done
if [ ! -s "$dir/server.json" ]; then
  echo "start.sh: the API server did not start within 10s" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
python3 - "$dir" <<'PY'
import json, shlex, sys
d = sys.argv[1]
info = json.load(open(f"{d}/server.json"))
env = {"KUBECONFIG": info["kubeconfig"], "KUBECACHEDIR": f"{d}/cache",
       "KUBE_API_PID": info["pid"], "KUBE_API_SERVER": info["server"], "KUBE_API_CONTROL": info["control"],
       "KUBE_API_TOKEN": info["token"], "KUBE_API_CA": info["ca"] or "",
       "KUBE_API_KUBECONFIG_CERT": info["kubeconfig_cert"] or "", "KUBE_API_DIR": d}
with open(f"{d}/env", "w") as f:
    for k, v in env.items():
        f.write(f"export {k}={shlex.quote(str(v))}\n")
PY
echo "$dir/kubeconfig"
