# Bypass suite, issue 12 item 2: data dressed as IPv6 neighbour discovery. A
# workload with NET_RAW sends neighbour solicitations and advertisements
# (hop limit 255, valid ND) carrying data to a global address that is on
# another of the node's links: the remote host fd00:99::2. The node's route
# to it has no gateway, which the backstop used to take for "stays on the
# link"; the node forwarded it. ND must leave by the interface it came in on:
# nothing arrives. The control: the same message to the node's own address
# on the pod's link arrives, and real neighbour discovery still works (a
# datagram to an allowed IPv6 destination after the pod's neighbour cache is
# flushed).
source "$(dirname "${BASH_SOURCE[0]}")/../tools/bypass_lib.sh"
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
e2e_registry_only production/web
e2e_policy partner.yaml <<'YAML'
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  ports: [{number: 9000, name: udp-sync, protocol: UDP}]
  resolution: STATIC
  endpoints: [{address: "2001:db8::10"}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return
bypass_attached production/web || return
bypass_node_routes

# Receivers: raw ICMPv6 sockets see every ICMPv6 message, ND included.
bypass_sink remote "$LAB-wl" nd-sink 60 bypass-nd-remote
bypass_sink node "$LAB-ext" nd-sink 60 bypass-nd-node
for type in 135 136; do
  got=$(lab_exec production/web python3 "$FORGE" nd "$REMOTE_V6" bypass-nd-remote $type)
  [ "$got" = sent ] && e2e_ok "ND type $type with data to $REMOTE_V6 sent" || e2e_fail "ND type $type to $REMOTE_V6: $got"
done
got=$(lab_exec production/web python3 "$FORGE" nd fd00:99:1::1 bypass-nd-node)
[ "$got" = sent ] || e2e_fail "ND to the node: $got"
expect_sink remote 0 "ND messages with data that reached $REMOTE_V6 on another link"
expect_sink node 1 "the ND message to the node's own address on the pod's link arrived"
wait_until 3000 grep -q "\"destination_ip\":\"$REMOTE_V6\"" "$ACCESS_LOG" >/dev/null &&
  e2e_ok "access log: the drop towards $REMOTE_V6" || e2e_fail "no access-log line for $REMOTE_V6"

# Real neighbour discovery from the pod: its gateway's address resolved
# again (solicitation, advertisement), then the datagram goes.
bypass_sink allowed "$LAB-ext" udp-sink 2001:db8::10 9000 60 ""
ip -n "$(lab_netns_of production/web)" -6 neigh flush dev eth0
got=$(lab_exec production/web "$EGRESSD_BIN/egressd_probe" sendto 2001:db8::10 9000)
[ "$got" = ok ] || e2e_fail "sendto [2001:db8::10]:9000: $got"
expect_sink allowed 1 "after a neighbour flush, the datagram to allowed [2001:db8::10]:9000 arrived"
