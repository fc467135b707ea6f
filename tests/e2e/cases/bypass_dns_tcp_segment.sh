# Bypass suite, issue 12 item 6: a forged DNS-over-TCP segment. A workload
# with NET_RAW opens a TCP connection to the trusted resolver and, with an
# AF_PACKET frame through the node's router (hairpin), injects a segment
# "from" the resolver into it: an answer for an allowed wildcard name with
# its own IP, at a sequence number it can't know, before any query. The
# agent's TCP learner must learn only answers to queries the workload sent
# on a connection it opened, in the stream's sequence: the forged IP stays
# denied. A real DNS-over-TCP lookup (dig +tcp) is learned, as the control.
# The router here is the lab's ext namespace, which owns the resolver's
# address, so it is told to forward a packet with a local source
# (accept_local) as a node whose resolver is elsewhere would; the TC
# backstop is off, as this case is about the learner, not the backstop's
# own source-address check.
lab_pod production/web 1 >/dev/null
lab_external_addr 192.0.2.41 192.0.2.42
lab_start_dnsmasq --local-ttl=60 --host-record=real.example.org,192.0.2.42 || { e2e_fail "dnsmasq"; return; }
ip netns exec "$LAB-ext" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.accept_local=1 \
  "net.ipv4.conf.$LAB-v1.accept_local=1" net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$LAB-v1.rp_filter=0"
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: example-org, namespace: production}
spec:
  hosts: ["*.example.org"]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
e2e_start_agent || return
learned() { egressctl -o json dns | grep -q "\"ip\": \"$1\""; }
gw_mac=$(ip -n "$LAB-ext" -br link show "$LAB-v1" | awk '{print $3}')

got=$(lab_exec production/web python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/tcp_dns_forge.py" \
  "$LAB_RESOLVER" forged.example.org 192.0.2.41 "$gw_mac")
[ "$got" = "frame:sent answer:yes" ] && e2e_ok "forged segment sent, connection answered ($got)" ||
  e2e_fail "forger: $got"
sleep 0.5  # the agent reads the ring buffer every 200 ms
expect_probe production/web connect 192.0.2.41 80 EPERM
if learned 192.0.2.41; then
  e2e_fail "192.0.2.41 learned from a forged TCP segment"
else
  e2e_ok "192.0.2.41 (forged TCP segment) not learned"
fi
# Random: ahead of the stream (out of sequence) or behind it (taken for a retransmission).
expect_metric '^egressd_dns_events_total\{event="agent_tcp_(out_of_sequence|retransmit)"\} [1-9]'

# The control: a real lookup over TCP is learned.
lab_exec production/web dig +tcp +short @"$LAB_RESOLVER" real.example.org >/dev/null
wait_until 2000 learned 192.0.2.42 >/dev/null || e2e_fail "192.0.2.42 not learned from a real TCP answer"
expect_probe production/web connect 192.0.2.42 80 ok
