# Bypass suite, issue 12 item 5: a forged DNS answer hairpinned through the
# node. A workload with NET_RAW asks the trusted resolver (off the node, on
# the remote host) for an allowed wildcard name, then writes an Ethernet
# frame (AF_PACKET) to its router: an answer "from" the resolver to its own
# address and port, with an address of its choice. The node routes it
# straight back in, a unicast from off the pod to the asking socket, which
# the ingress learning can't tell from the real answer. The backstop must
# drop it on the way out (source not the pod's: spoofed_address): the socket
# never sees it, nothing is learned, the forged address stays denied. The
# resolver's own answer is learned, as the control.
source "$(dirname "${BASH_SOURCE[0]}")/../tools/bypass_lib.sh"
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
lab_external_addr 192.0.2.41 192.0.2.42
# The resolver on the remote host. The forged name goes to an upstream that
# never answers, so the forgery doesn't have to race the real answer.
ip netns exec "$LAB-wl" dnsmasq --no-resolv --no-hosts --no-poll --bind-interfaces --user=root \
  --listen-address="$REMOTE_V4" --except-interface=lo --pid-file="$LAB_DIR/dnsmasq-remote.pid" \
  --log-facility="$LAB_DIR/dnsmasq-remote.log" --cache-size=0 --local-ttl=60 \
  --host-record=real.example.org,192.0.2.42 --server=/forged.example.org/10.99.0.77 ||
  { e2e_fail "dnsmasq on the remote host"; return; }
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: example-org, namespace: production}
spec:
  hosts: ["*.example.org"]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
# The pods' network is in the cluster CIDR, as on a node: the pod's own
# address is an allowed destination.
e2e_start_agent --access-log "$ACCESS_LOG" --dns-server "$REMOTE_V4" --cluster-cidr 10.99.1.0/24 || return
bypass_attached production/web || return
bypass_node_routes
mac=$(bypass_router_mac 1)

got=$(lab_exec production/web python3 "$FORGE" hairpin-dns eth0 "$mac" "$REMOTE_V4" forged.example.org 192.0.2.41)
[[ $got == raw:sent* ]] && e2e_ok "forged answer written to the router ($got)" || e2e_fail "forger: $got"
[[ $got == *first:forged* ]] && e2e_fail "the forged answer came back to the asking socket ($got)" ||
  e2e_ok "the forged answer never came back to the socket"
expect_probe production/web connect 192.0.2.41 80 EPERM
# (The whole answer first: under pipefail, grep -q ending early would fail
# the pipe and hide a match.)
if grep -q '"ip": "192.0.2.41"' <<<"$(egressctl -o json dns)"; then e2e_fail "192.0.2.41 learned from the forgery"; else
  e2e_ok "192.0.2.41 not learned"; fi
wait_until 3000 grep -q '"reason":"spoofed_address"' "$ACCESS_LOG" >/dev/null &&
  e2e_ok "access log: the forged frame dropped, reason spoofed_address" ||
  e2e_fail "no access-log line with reason spoofed_address"

# The control: the resolver's own answer is learned and opens the port.
lab_exec production/web dig +short +time=2 @"$REMOTE_V4" real.example.org >/dev/null
expect_probe production/web connect 192.0.2.42 80 ok
