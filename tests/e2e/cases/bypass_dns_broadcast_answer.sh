# Bypass suite, issue 12 item 4: a forged DNS answer by broadcast. A workload
# with NET_RAW asks the trusted resolver for an allowed wildcard name, then
# broadcasts (or multicasts) an answer "from" the resolver with its own IP
# for the name. The node loops a copy back to the asking socket: on eth0,
# not lo, and with no socket on the way out (so no egress spoof check). The
# ingress hook must learn nothing from it: the forged IP stays denied. The
# resolver's own answer (dig) is learned, as the control.
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
lab_external_addr 192.0.2.31 192.0.2.32 192.0.2.33 192.0.2.34
# The forged names are forwarded to an upstream that never answers (no such
# host on the link), as a slow name would be: the forgery doesn't have to
# race the resolver's answer on a loaded machine.
lab_start_dnsmasq --local-ttl=60 --host-record=real.example.org,192.0.2.34 \
  --server=/forged1.example.org/forged2.example.org/forged3.example.org/10.99.0.77 || { e2e_fail "dnsmasq"; return; }
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
forge=$(dirname "${BASH_SOURCE[0]}")/../tools/broadcast_forge.py

i=0
for dst in 10.99.1.255 255.255.255.255 224.0.0.1; do
  i=$((i + 1))
  ip=192.0.2.3$i
  got=$(lab_exec production/web python3 "$forge" dns "$LAB_RESOLVER" "forged$i.example.org" "$ip" "$dst")
  # The forgery must really reach the socket, or the case proves nothing.
  [[ $got == *first:forged* ]] && e2e_ok "answer forged to $dst reached the socket ($got)" ||
    e2e_fail "answer forged to $dst did not reach the socket: $got"
  expect_probe production/web connect "$ip" 80 EPERM
  if egressctl -o json dns | grep -q "\"ip\": \"$ip\""; then
    e2e_fail "$ip learned from an answer forged to $dst"
  else
    e2e_ok "$ip (forged to $dst) not learned"
  fi
done

# The control: the resolver's own answer is learned and opens the port.
lab_exec production/web dig +short @"$LAB_RESOLVER" real.example.org >/dev/null
expect_probe production/web connect 192.0.2.34 80 ok
expect_metric '^egressd_dns_events_total\{event="untrusted"\} [3-9]'
