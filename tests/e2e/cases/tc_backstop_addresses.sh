# The TC backstop knows each pod's own addresses (a packet from any other is
# spoofed) and follows them: the agent reads them in the pod's namespace at
# attach and hears changes there (rtnetlink), so an address added later,
# IPv4 or IPv6, is the pod's within milliseconds, not at a timer; one
# removed is no longer. Checked with frames the pod writes (AF_PACKET) from
# each address to an allowed destination, counted at the receiver.
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
e2e_start_agent || return
bypass_attached production/web || return
expect_log 'production/web: TC backstop attached on .* its addresses: 10\.99\.1\.2 .*fd00:99:1::2.*fe80::'
mac=$(bypass_router_mac 1)
ns=$(lab_netns_of production/web)
bypass_sink v4 "$LAB-ext" udp-sink 192.0.2.10 9000 60 bypass-frame
bypass_sink v6 "$LAB-ext" udp-sink 2001:db8::10 9000 60 bypass-frame
send() {  # send SRC DST: one frame from the pod
  local got
  got=$(lab_exec production/web python3 "$FORGE" frame eth0 "$mac" "$1" 40000 "$2" 9000)
  [ "$got" = sent ] || e2e_fail "frame from $1 not sent: $got"
}
# Not the pod's yet: dropped. Its own: arrives.
send 10.99.1.7 192.0.2.10
send fd00:99:1::7 2001:db8::10
send 10.99.1.2 192.0.2.10
send fd00:99:1::2 2001:db8::10
# Added, as a CNI would (from outside the pod): the pod's at once.
for a in 10.99.1.7/24 fd00:99:1::7/64; do
  ip -n "$ns" addr add "$a" dev eth0 nodad
  if ms=$(wait_until 2000 grep -q "production/web: its addresses are now .*${a%/*}" "$E2E_LOG"); then
    e2e_ok "${a%/*} added to the pod: the backstop has it in ${ms} ms"
  else
    e2e_fail "${a%/*} added to the pod: the backstop never had it"
  fi
done
send 10.99.1.7 192.0.2.10
send fd00:99:1::7 2001:db8::10
# Removed: no longer the pod's.
for a in 10.99.1.7/24 fd00:99:1::7/64; do
  ip -n "$ns" addr del "$a" dev eth0
  wait_until 2000 bash -c "tail -n 1 <(grep 'production/web: its addresses are now' '$E2E_LOG') | grep -vq '${a%/*}'" >/dev/null ||
    e2e_fail "${a%/*} removed: the backstop still has it"
done
send 10.99.1.7 192.0.2.10
send fd00:99:1::7 2001:db8::10
expect_sink v4 2 "IPv4 frames that arrived (its own address, then 10.99.1.7 while it was the pod's)"
expect_sink v6 2 "IPv6 frames that arrived (its own address, then fd00:99:1::7 while it was the pod's)"
expect_metric '^egressd_backstop_dropped_packets_total\{source_namespace="production",source_workload="web"\} 4$'

# No process left in the pod: the agent lets its namespace go (a runtime may
# be tearing it down). A process back: its addresses are watched and read
# again, one added meanwhile included.
inode=$(stat -L -c %i "/run/netns/$ns")
# (ls's whole output first: under pipefail, grep -q ending early fails ls.)
held() { grep -q "net:\[$inode\]" <<<"$(ls -l "/proc/$E2E_AGENT_PID/fd" 2>/dev/null)"; }
held && e2e_ok "while the pod has processes, the agent holds its namespace" ||
  e2e_fail "the agent does not hold the pod's namespace"
xargs -r kill <"$LAB_CGROUP/production/web/cgroup.procs"
if wait_until 5000 bash -c "! ls -l /proc/$E2E_AGENT_PID/fd | grep 'net:\[$inode\]'" >/dev/null; then
  e2e_ok "no process left: the agent let the pod's namespace go"
else
  e2e_fail "no process left: the agent still holds the pod's namespace"
fi
ip -n "$ns" addr add 10.99.1.8/24 dev eth0
lab_exec production/web sleep 600 &
if ms=$(wait_until 5000 grep -q "production/web: its addresses are now .*10\.99\.1\.8" "$E2E_LOG"); then
  e2e_ok "a process back: the address added meanwhile is the pod's (${ms} ms)"
else
  e2e_fail "a process back: the address added meanwhile never became the pod's"
fi
held && e2e_ok "and its namespace is held again" || e2e_fail "its namespace is not held again"
