# Shell functions for tests that drive the test Kubernetes API server:
#   . tests/kube/lib.sh
#   kube_up DIR [apiserver options...]   start it; exports KUBECONFIG, KUBECACHEDIR, KUBE_API_*
#   kubectl apply -f ...                  the real kubectl against it
#   kube_ctl pause mode=refuse            the side channel (see README.md)
#   kube_count watch /api/v1/pods         requests of one verb and path so far
#   kube_down                             stop it
KUBE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

kube_up() {
  local dir=$1
  shift
  "$KUBE_LIB_DIR/start.sh" "$dir" "$@" >/dev/null || return 1
  # shellcheck disable=SC1091
  . "$dir/env"
}

kube_down() {
  [ -n "${KUBE_API_DIR:-}" ] && "$KUBE_LIB_DIR/stop.sh" "$KUBE_API_DIR"
  unset KUBE_API_PID
}

# kube_ctl ACTION [key=value...]: one control request; prints its JSON answer.
kube_ctl() {
  local action=$1 q="" kv
  shift
  for kv in "$@"; do q+="${q:+&}$kv"; done
  curl -sf -X POST "$KUBE_API_CONTROL/$action${q:+?$q}"
}

# kube_count VERB PATH: how many requests of that verb (list, watch, get,
# create, update, patch, delete, discovery) went to PATH.
kube_count() {
  curl -sf "$KUBE_API_CONTROL/requests" | python3 -c \
    'import json,sys; print(json.load(sys.stdin).get(sys.argv[1] + " " + sys.argv[2], 0))' "$1" "$2"
}

# kube_wait_watches N [RESOURCE] [SECONDS]: waits until N watches (of that
# resource, e.g. pods or serviceentries.networking.istio.io) are open.
kube_wait_watches() {
  local want=$1 res=${2:-} secs=${3:-10} i n
  for i in $(seq 1 $((secs * 20))); do
    n=$(curl -sf "$KUBE_API_CONTROL/watches" | python3 -c \
      'import json,sys; print(sum(1 for w in json.load(sys.stdin) if not sys.argv[1] or w["resource"] == sys.argv[1]))' "$res")
    [ "${n:-0}" -ge "$want" ] && return 0
    sleep 0.05
  done
  return 1
}
