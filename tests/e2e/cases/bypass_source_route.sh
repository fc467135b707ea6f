# Bypass suite, issue 12 ("also observed"): IPv4 source routing. The remote
# host 10.99.0.2 (behind another of the node's links) is denied; 192.0.2.10:9000
# is allowed. Two real attempts from the pod, each counted on the remote
# host's interface (AF_PACKET: what arrived, whatever its stack then does):
#  - a raw IPv4 datagram to 192.0.2.10 with a loose source route on to the
#    remote host: the node (accept_source_route=1) would forward it there;
#  - a UDP socket with IP_OPTIONS (no privilege needed) sending "to"
#    192.0.2.10 with the remote host as the route's first address: sendmsg
#    decides on 192.0.2.10, the packet leaves for 10.99.0.2; also from a
#    workload that has no backstop.
# Both are refused at the socket (cgroup_skb egress: EPERM); the backstop
# drops such packets too (kernel test rows), should one get past.
# The control: the same datagram without options arrives at 192.0.2.10.
source "$(dirname "${BASH_SOURCE[0]}")/../tools/bypass_lib.sh"
SNIFF=$(dirname "${BASH_SOURCE[0]}")/../tools/frame_sniff.py
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
lab_workload production/shared >/dev/null   # in the shared <lab>-wl: no backstop can exist
e2e_registry_only production/web production/shared
e2e_policy partner.yaml <<'YAML'
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 9000, name: udp-sync, protocol: UDP}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return
bypass_attached production/web || return
bypass_node_routes
ip netns exec "$LAB-ext" sh -c 'for f in /proc/sys/net/ipv4/conf/*/accept_source_route; do echo 1 > "$f"; done'

# sniff NAME NETNS IFACE: counts frames marked "bypass-srr" arriving there.
declare -A SNIFFERS=()
sniff() {
  ip netns exec "$2" python3 "$SNIFF" "$3" 60 bypass-srr >"$LAB_DIR/sniff.$1" 2>"$LAB_DIR/sniff.$1.err" &
  SNIFFERS[$1]=$!
  wait_until 5000 grep -q listening "$LAB_DIR/sniff.$1.err" >/dev/null || e2e_fail "sniffer $1 not listening"
}
expect_sniffed() {  # NAME EXPECTED WHAT
  sleep 0.5
  kill -TERM "${SNIFFERS[$1]}"
  wait "${SNIFFERS[$1]}"
  [ "$(cat "$LAB_DIR/sniff.$1")" = "$2" ] && e2e_ok "$3: $2" || e2e_fail "$3: expected $2, got $(cat "$LAB_DIR/sniff.$1")"
}
# raw_lsrr WORKLOAD: a hand-built IPv4/UDP datagram to 192.0.2.10:9000 with LSRR [10.99.0.2].
raw_lsrr() {
  lab_exec "$1" python3 -c '
import socket, struct
src = socket.inet_aton(socket.gethostbyname(socket.gethostname()) if False else "10.99.1.2")
opt = bytes([1, 0x83, 7, 4, 10, 99, 0, 2])
payload = b"bypass-srr"
udp = struct.pack("!HHHH", 40000, 9000, 8 + len(payload), 0) + payload
hdr = struct.pack("!BBHHHBBH4s4s", 0x47, 0, 28 + len(udp), 1, 0, 64, 17, 0, src, socket.inet_aton("192.0.2.10")) + opt
csum = sum(struct.unpack("!14H", hdr))
csum = (csum & 0xffff) + (csum >> 16)
hdr = hdr[:10] + struct.pack("!H", ~csum & 0xffff) + hdr[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
try:
    s.sendto(hdr + udp, ("192.0.2.10", 0))
    print("sent")
except OSError as e:
    print(e.strerror)'
}
# socket_lsrr WORKLOAD FIRST_HOP: a UDP socket, IP_OPTIONS routing via
# FIRST_HOP, sendto 192.0.2.10:9000 ("none": no options).
socket_lsrr() {
  lab_exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] != "none":
    s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1, 0x83, 7, 4]) + socket.inet_aton(sys.argv[1]))
try:
    s.sendto(b"bypass-srr", ("192.0.2.10", 9000))
    print("sent")
except OSError as e:
    print(e.strerror)' "$2"
}

sniff raw "$LAB-wl" "$LAB-p"
got=$(raw_lsrr production/web)
[ "$got" = "Operation not permitted" ] && e2e_ok "raw datagram to allowed 192.0.2.10 routed on to 10.99.0.2: refused at the socket ($got)" ||
  e2e_fail "raw source-routed datagram: $got"
expect_sniffed raw 0 "raw source-routed frames that reached 10.99.0.2"

# A socket's IP_OPTIONS: from the pod (backstop) to the remote host, and from
# a workload without a backstop (the shared namespace) to the pod's address.
sniff pod-socket "$LAB-wl" "$LAB-p"
got=$(socket_lsrr production/web 10.99.0.2)
[ "$got" = "Operation not permitted" ] && e2e_ok "production/web: IP_OPTIONS source route refused at the socket ($got)" ||
  e2e_fail "production/web: IP_OPTIONS source route: $got"
expect_sniffed pod-socket 0 "production/web: frames that reached 10.99.0.2"
sniff shared-socket "$(lab_netns_of production/web)" eth0
got=$(socket_lsrr production/shared 10.99.1.2)
[ "$got" = "Operation not permitted" ] && e2e_ok "production/shared (no backstop): IP_OPTIONS source route refused ($got)" ||
  e2e_fail "production/shared: IP_OPTIONS source route: $got"
expect_sniffed shared-socket 0 "production/shared: frames that reached 10.99.1.2"

bypass_sink control "$LAB-ext" udp-sink 192.0.2.10 9000 60 bypass-srr
got=$(socket_lsrr production/web none)
[ "$got" = sent ] || e2e_fail "control: $got"
expect_sink control 1 "the same datagram without options arrived at allowed 192.0.2.10:9000"
