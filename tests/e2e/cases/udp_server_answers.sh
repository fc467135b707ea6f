# A workload's UDP server answers its clients (bpf/lib/inbound.h). Under
# REGISTRY_ONLY the server's sendto() to a client looks like new egress; a
# datagram from the client to the server's unconnected socket, seen by the
# ingress hook, lets that socket answer that peer (reason inbound_reply), and
# nothing else: the peer stays out of reach from any other socket, and a
# datagram looped back inside the pod (which the workload could forge) opens
# nothing. Pings into the pod are answered the same way, at the TC backstop.
E2E_TC_MODE=auto
lab_pod production/dns 1 >/dev/null
pod_ns=$(lab_netns_of production/dns)
e2e_registry_only production/dns
e2e_start_agent || return
pkt=$EGRESSD_BIN/egressd_packet
lab_exec production/dns "$pkt" echo 10.99.1.2 5300 10 >/dev/null 2>&1 &
sleep 0.3
expect_probe production/dns sendto 203.0.113.30 4000 EPERM   # nobody wrote to it yet

got=$(ip netns exec "$LAB-ext" "$pkt" ask 10.99.1.2 5300 udp 203.0.113.30:4000)
[ "$got" = reply ] && e2e_ok "client 203.0.113.30:4000 got the server's answer" ||
  e2e_fail "client 203.0.113.30:4000: $got (the server's answer was denied?)"
expect_metric '^egressd_verdicts_total\{hook="sendmsg4",verdict="allowed",reason="inbound_reply"\} 1$'
flow=$(egressctl -o json flows --workload production/dns |
  jq -c '.flows[] | select(.destination_ip == "203.0.113.30" and .destination_port == 4000)')
[ "$(jq -r '"\(.connects.allowed) \(.last_reason)"' <<<"$flow")" = "1 inbound_reply" ] &&
  e2e_ok "flow 203.0.113.30:4000/udp: 1 allowed, inbound_reply" || e2e_fail "flow: $flow"

# Only the server's own port answers: a new socket of the same workload is
# still denied, and so is another port of the client.
expect_probe production/dns sendto 203.0.113.30 4000 EPERM
expect_probe production/dns sendto 203.0.113.30 4001 EPERM

# A datagram "from" 203.0.113.30:4100 that never left the pod (the address
# put on the pod's lo for the moment, so it comes in on lo): not a peer, no
# answer.
ip -n "$pod_ns" addr add 203.0.113.30/32 dev lo
got=$(ip netns exec "$pod_ns" "$pkt" ask 10.99.1.2 5300 udp 203.0.113.30:4100)
ip -n "$pod_ns" addr del 203.0.113.30/32 dev lo
[ "$got" = timeout ] && e2e_ok "a looped-back datagram opens no answer" || e2e_fail "looped-back datagram: $got"
expect_metric '^egressd_verdicts_total\{hook="sendmsg4",verdict="allowed",reason="inbound_reply"\} 1$'
expect_metric '^egressd_verdicts_total\{hook="sendmsg4",verdict="denied",reason="not_in_registry"\} [1-9]'

# Pings into the pod are answered: its kernel's echo replies pass the TC
# backstop because the request came in (tc_inbound, by identifier).
attached() { curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -e '.tc_interfaces[] | select(.workload == "production/dns") | .ifindex'; }
wait_until 5000 attached >/dev/null || { e2e_fail "no TC backstop on production/dns"; return; }
ip netns exec "$LAB-ext" ping -c 3 -i 0.2 -W 1 10.99.1.2 >/dev/null &&
  e2e_ok "ping into the pod is answered through the backstop" || e2e_fail "ping into the pod: no answer"
expect_metric '^egressd_flow_events_total\{event="tc_dropped"\} 0$'
