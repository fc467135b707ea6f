# Bypass suite, issue 12 item 7: a spoofed inbound UDP peer by broadcast. A
# workload with NET_RAW broadcasts a datagram "from" an outside address to
# its own UDP server's port; the node loops a copy back to the server (on
# eth0, not lo). The server answers its "client" with sendto(): that must
# not pass as an answer (inbound_reply), so nothing reaches the outside
# receiver. A real client's datagram still opens its answer (the control).
E2E_TC_MODE=auto
lab_pod production/dns 1 >/dev/null
e2e_registry_only production/dns
e2e_start_agent || return
pkt=$EGRESSD_BIN/egressd_packet
forge=$(dirname "${BASH_SOURCE[0]}")/../tools/broadcast_forge.py

# A server bound to any address (a broadcast reaches only such sockets),
# answering every datagram to its sender.
lab_exec production/dns "$pkt" echo 0.0.0.0 5300 8 >/dev/null 2>&1 &
ip netns exec "$LAB-ext" "$pkt" sink 203.0.113.30 4000 4 >"$LAB_DIR/sink" 2>/dev/null &
sink=$!
sleep 0.3
for dst in 10.99.1.255 255.255.255.255; do
  got=$(lab_exec production/dns python3 "$forge" peer 203.0.113.30 4000 "$dst" 5300)
  [ "$got" = sent ] && e2e_ok "datagram forged to $dst sent" || e2e_fail "forger ($dst): $got"
done
wait "$sink"
read -r datagrams _ <"$LAB_DIR/sink"
[ "$datagrams" = 0 ] && e2e_ok "the spoofed peer 203.0.113.30:4000 got no answer" ||
  e2e_fail "the spoofed peer 203.0.113.30:4000 received $datagrams answers"
expect_metric '^egressd_verdicts_total\{hook="sendmsg4",verdict="denied",reason="not_in_registry"\} [1-9]'

# The control: a real client is answered.
got=$(ip netns exec "$LAB-ext" "$pkt" ask 10.99.1.2 5300 udp 203.0.113.30:4100)
[ "$got" = reply ] && e2e_ok "a real client got the server's answer" || e2e_fail "real client: $got"
