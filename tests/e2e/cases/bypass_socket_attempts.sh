# Bypass suite, issue 12: the socket-level attempts that were already
# stopped, kept stopped. From a pod with NET_RAW, each form of reaching a
# denied destination through the socket API: TCP Fast Open (data in the
# SYN), sendmmsg, sendmsg with IP_PKTINFO, a v4-mapped IPv6 socket, the
# NAT64/SIIT form 64:ff9b::/96 of a denied IPv4 address, MPTCP,
# SO_BINDTODEVICE with bind() first, connect and sendmsg submitted through
# io_uring, and plain TCP/UDP from a child cgroup of the workload. Each must
# get EPERM, and nothing may arrive at the receivers; the same forms to the
# allowed destination arrive (the control).
source "$(dirname "${BASH_SOURCE[0]}")/../tools/bypass_lib.sh"
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
# The NAT64 forms of 198.51.100.20 and 192.0.2.10, as a NAT64 gateway would
# take them: here the "internet" holds them, with receivers.
lab_external_addr 64:ff9b::c633:6414 64:ff9b::c000:20a
e2e_registry_only production/web
e2e_policy partner.yaml <<'YAML'
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  ports: [{number: 9000, name: udp-sync, protocol: UDP}, {number: 9001, name: tcp-sync, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
YAML
e2e_start_agent || return
bypass_attached production/web || return
attempts=$(dirname "${BASH_SOURCE[0]}")/../tools/socket_attempts.py
mkdir -p "$LAB_CGROUP/production/web/child"
ns=$(lab_netns_of production/web)
# attempt CGROUP EXPECTED FORM IP PORT [ARG]: one attempt from a process of CGROUP.
attempt() {
  local cgroup=$1 expected=$2 got
  shift 2
  got=$( (echo $BASHPID >"$LAB_CGROUP/$cgroup/cgroup.procs" && exec ip netns exec "$ns" python3 "$attempts" "$@") )
  [ "$got" = "$expected" ] && e2e_ok "$cgroup $* -> $got" || e2e_fail "$cgroup $*: expected $expected, got $got"
}

sink() {  # sink NAME udp|tcp IP PORT
  if [ "$2" = udp ]; then
    bypass_sink "$1" "$LAB-ext" udp-sink "$3" "$4" 60 bypass-socket
  else
    bypass_sink "$1" "$LAB-ext" tcp-sink "$3" "$4" 60
  fi
}
sink denied_udp udp 198.51.100.20 9999
sink denied_tcp tcp 198.51.100.20 9998
sink denied_nat64 udp 64:ff9b::c633:6414 9999
sink allowed_nat64 udp 64:ff9b::c000:20a 9000
sink allowed_udp udp 192.0.2.10 9000
sink allowed_tcp tcp 192.0.2.10 9001

w=production/web
for form in udp sendmmsg "pktinfo:10.99.1.2" v4mapped "bindtodevice:eth0" uring-sendmsg; do
  arg=
  [[ $form == *:* ]] && arg=${form#*:}
  attempt $w EPERM "${form%%:*}" 198.51.100.20 9999 $arg
  attempt $w ok "${form%%:*}" 192.0.2.10 9000 $arg
done
for form in tcp tfo mptcp uring-connect; do
  attempt $w EPERM $form 198.51.100.20 9998
  attempt $w ok $form 192.0.2.10 9001
done
# NAT64: the registry holds the IPv4 address; its 64:ff9b:: form is another
# destination, denied like any unregistered one (the allowed one's too).
attempt $w EPERM nat64 198.51.100.20 9999
attempt $w EPERM nat64 192.0.2.10 9000
# A child cgroup of the workload is the workload.
attempt $w/child EPERM udp 198.51.100.20 9999
attempt $w/child EPERM tcp 198.51.100.20 9998
attempt $w/child ok udp 192.0.2.10 9000
attempt $w/child ok tcp 192.0.2.10 9001

expect_sink denied_udp 0 "datagrams that reached denied 198.51.100.20:9999"
expect_sink denied_tcp 0 "connections that reached denied 198.51.100.20:9998"
expect_sink denied_nat64 0 "datagrams that reached [64:ff9b::c633:6414]:9999"
expect_sink allowed_nat64 0 "datagrams that reached [64:ff9b::c000:20a]:9000"
# udp, sendmmsg (2), pktinfo, v4mapped, bindtodevice, io_uring, the child's.
expect_sink allowed_udp 8 "datagrams that reached allowed 192.0.2.10:9000"
# tcp, tfo, mptcp, io_uring, the child's.
expect_sink allowed_tcp 5 "connections that reached allowed 192.0.2.10:9001"
