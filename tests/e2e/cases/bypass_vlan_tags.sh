# Bypass suite, issue 12 item 3: VLAN tags. A workload with NET_RAW writes
# whole Ethernet frames (AF_PACKET) with VLAN tags, VID 0, around IPv4 and
# IPv6 datagrams to a denied destination. The node's kernel strips the outer
# tag before TC runs (skb->vlan_present) and, for a VID 0 outer tag, the
# inner one after: the frame the backstop used to pass as "not IP" was
# delivered. Every tagged frame must now be dropped (malformed_packet);
# nothing arrives at the receivers. Untagged frames to an allowed
# destination still arrive (the control).
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
  endpoints: [{address: 192.0.2.10}, {address: "2001:db8::10"}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return
bypass_attached production/web || return
mac=$(bypass_router_mac 1)

# Receivers in the "internet", counting the forged datagrams.
bypass_sink denied4 "$LAB-ext" udp-sink 198.51.100.20 9999 60 bypass-frame
bypass_sink denied6 "$LAB-ext" udp-sink 2001:db8:1::20 9999 60 bypass-frame
bypass_sink allowed4 "$LAB-ext" udp-sink 192.0.2.10 9000 60 bypass-frame
bypass_sink allowed6 "$LAB-ext" udp-sink 2001:db8::10 9000 60 bypass-frame
# send SRC DST PORT TPID...: one frame from the pod, which must leave its socket.
send() {
  local got
  got=$(lab_exec production/web python3 "$FORGE" frame eth0 "$mac" "$1" 40000 "$2" "$3" "${@:4}")
  [ "$got" = sent ] || e2e_fail "frame to $2:$3 tags '${*:4}' not sent: $got"
}
for tags in "8100 8100" "88a8 8100" "8100" "9100"; do
  send 10.99.1.2 198.51.100.20 9999 $tags
  send fd00:99:1::2 2001:db8:1::20 9999 $tags
  # Tagged, even to an allowed destination: the backstop reads no tagged frame.
  send 10.99.1.2 192.0.2.10 9000 $tags
  send fd00:99:1::2 2001:db8::10 9000 $tags
done
# The control: untagged frames, the same way, to the allowed destination.
send 10.99.1.2 192.0.2.10 9000
send fd00:99:1::2 2001:db8::10 9000
expect_sink denied4 0 "denied 198.51.100.20:9999, IPv4 in 1 or 2 tags: datagrams arrived"
expect_sink denied6 0 "denied [2001:db8:1::20]:9999, IPv6 in 1 or 2 tags: datagrams arrived"
expect_sink allowed4 1 "allowed 192.0.2.10:9000: only the untagged datagram arrived"
expect_sink allowed6 1 "allowed [2001:db8::10]:9000: only the untagged datagram arrived"
wait_until 3000 grep -q '"reason":"malformed_packet"' "$ACCESS_LOG" >/dev/null &&
  e2e_ok "access log: the tagged frames' drops, reason malformed_packet" ||
  e2e_fail "no access-log line with reason malformed_packet"
expect_metric '^egressd_backstop_dropped_packets_total\{source_namespace="production",source_workload="web"\} 16$'
