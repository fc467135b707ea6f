# Shared by the packet-level cases of the bypass suite (bypass_*.sh, issue
# 12): a pod whose TC backstop is attached, and a node (the lab's "internet"
# namespace) that routes between its links as a Kubernetes node does. The
# "remote host" behind it is the lab's <lab>-wl namespace (10.99.0.2,
# fd00:99::2), reached through another of the node's links than the pod's.
FORGE=$(dirname "${BASH_SOURCE[0]}")/packet_forge.py
REMOTE_V4=10.99.0.2
REMOTE_V6=fd00:99::2

# bypass_node_routes: forwarding on, reverse-path filter off (loose or off on
# many nodes): the node forwards what the pod sends it, so only the backstop
# stands in the way.
bypass_node_routes() {
  ip netns exec "$LAB-ext" sh -c 'sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
    for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done'
}

# bypass_attached WORKLOAD: its main process started, waits for its backstop.
bypass_attached() {
  lab_exec "$1" sleep 600 &
  local w=$1
  _attached() {
    curl -sf "http://$E2E_ADMIN/api/v1/status" |
      jq -e --arg w "$w" '[.tc_interfaces[] | select(.workload == $w and (.mode // "") != "")] | length == 1' >/dev/null
  }
  if ms=$(wait_until 5000 _attached); then e2e_ok "$w: TC backstop attached in ${ms} ms"; else
    e2e_fail "$w: TC backstop not attached: $(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -c .tc_interfaces)"
    return 1
  fi
}

# bypass_router_mac INDEX: the MAC of pod INDEX's next hop (the node's side).
bypass_router_mac() {
  ip -n "$LAB-ext" link show "$LAB-v$1" | awk '/link\/ether/ { print $2 }'
}

# bypass_sink NAME NETNS packet_forge.py-SINK-ARGS...: a receiver that counts
# until expect_sink stops it (60 s at most); returns once it listens.
declare -gA BYPASS_SINKS=()
bypass_sink() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" python3 "$FORGE" "$@" >"$LAB_DIR/sink.$name" 2>"$LAB_DIR/sink.$name.err" &
  BYPASS_SINKS[$name]=$!
  wait_until 10000 grep -q listening "$LAB_DIR/sink.$name.err" >/dev/null ||
    e2e_fail "receiver $name ($*) not listening: $(cat "$LAB_DIR/sink.$name.err")"
}

# expect_sink NAME EXPECTED WHAT: what receiver NAME counted, once what was
# sent has had time to arrive.
expect_sink() {
  sleep 0.5
  kill -TERM "${BYPASS_SINKS[$1]}" 2>/dev/null
  wait "${BYPASS_SINKS[$1]}" 2>/dev/null
  local got
  got=$(cat "$LAB_DIR/sink.$1")
  [ "$got" = "$2" ] && e2e_ok "$3: $got" || e2e_fail "$3: expected $2, got '$got'"
}
