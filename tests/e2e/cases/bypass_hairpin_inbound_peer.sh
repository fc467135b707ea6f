# Bypass suite, issue 12 item 8: a spoofed "inbound peer" hairpinned through
# the node. A workload with NET_RAW writes a frame (AF_PACKET) to its router:
# a UDP datagram "from" the remote host 10.99.0.2:4000 (a denied destination)
# to its own UDP server. The node routes it straight back in; it used to make
# the remote host a peer the workload may answer (tc_inbound at the backstop,
# inbound_udp at the socket hooks). Then the server answers it (sendto) and a
# raw socket sends to it from the server's port. The backstop must drop the
# forged frame on the way out (spoofed_address): nothing reaches the remote
# host. A real client is answered (the control).
source "$(dirname "${BASH_SOURCE[0]}")/../tools/bypass_lib.sh"
E2E_TC_MODE=auto
lab_pod production/dns 1 >/dev/null
e2e_registry_only production/dns
ACCESS_LOG=$LAB_DIR/access.log
# The pods' network is in the cluster CIDR, as on a node: the pod's own
# address is an allowed destination.
e2e_start_agent --access-log "$ACCESS_LOG" --cluster-cidr 10.99.1.0/24 || return
pkt=$EGRESSD_BIN/egressd_packet
# The server is the workload's main process: it answers every datagram to
# its sender, for 30 s.
lab_exec production/dns "$pkt" echo 0.0.0.0 5300 30 >/dev/null 2>&1 &
bypass_attached production/dns || return
bypass_node_routes
mac=$(bypass_router_mac 1)

bypass_sink remote "$LAB-wl" udp-sink "$REMOTE_V4" 4000 60 bypass
for _ in 1 2 3; do
  got=$(lab_exec production/dns python3 "$FORGE" frame eth0 "$mac" "$REMOTE_V4" 4000 10.99.1.2 5300)
  [ "$got" = sent ] || e2e_fail "forged frame not sent: $got"
done
sleep 0.3
got=$(lab_exec production/dns python3 "$FORGE" rawudp 5300 "$REMOTE_V4" 4000 3)
[ "$got" = "sent 3" ] && e2e_ok "raw datagrams from :5300 to the spoofed peer sent" || e2e_fail "raw send: $got"
expect_sink remote 0 "datagrams (answers or raw) that reached the spoofed peer $REMOTE_V4:4000"
wait_until 3000 grep -q '"reason":"spoofed_address"' "$ACCESS_LOG" >/dev/null &&
  e2e_ok "access log: the forged frame dropped, reason spoofed_address" ||
  e2e_fail "no access-log line with reason spoofed_address"

# The control: a real client is answered.
got=$(ip netns exec "$LAB-ext" "$pkt" ask 10.99.1.2 5300 udp 203.0.113.30:4100)
[ "$got" = reply ] && e2e_ok "a real client got the server's answer" || e2e_fail "real client: $got"
