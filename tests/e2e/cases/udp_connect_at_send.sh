# A connected UDP socket is held at its sends (bpf/lib/udp_connect.h).
# glibc's getaddrinfo() connect()s a UDP socket to each address of a
# multi-address answer, on the caller's port, to sort them, and never sends:
# a curl to such a host must leave no UDP flow, denial or access-log line.
# A socket that does send to a denied destination still fails with EPERM at
# its send(), and that shows as a denial.
lab_workload production/web >/dev/null
lab_external_addr 203.0.113.41 203.0.113.42
lab_start_dnsmasq --address=/multi.example.com/203.0.113.41 --address=/multi.example.com/203.0.113.42 ||
  { e2e_fail "dnsmasq"; return; }
lab_start_nginx
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: multi, namespace: production}
spec:
  hosts: ["multi.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return

answers=$(lab_exec production/web getent ahostsv4 multi.example.com | awk '$2 == "STREAM" { print $1 }' | sort -u | wc -l)
[ "$answers" = 2 ] && e2e_ok "multi.example.com has 2 addresses" || e2e_fail "expected 2 addresses, got $answers"
for _ in 1 2 3; do expect_http production/web http://multi.example.com/; done
sleep 1.2  # the agent reads events on a timer
flows=$(egressctl -o json flows)
udp80=$(jq '[.flows[] | select(.protocol == "udp" and .destination_port == 80)] | length' <<<"$flows")
tcp80=$(jq '[.flows[] | select(.protocol == "tcp" and .destination_port == 80)] | length' <<<"$flows")
[ "$udp80" = 0 ] && e2e_ok "no UDP flow from getaddrinfo's sorting connects" ||
  e2e_fail "getaddrinfo left $udp80 UDP/80 flows: $(jq -c '.flows' <<<"$flows")"
[ "$tcp80" -ge 1 ] && e2e_ok "the TCP flows are there ($tcp80)" || e2e_fail "no TCP/80 flow: $(jq -c '.flows' <<<"$flows")"
if grep -q '"verdict":"denied"' "$ACCESS_LOG"; then
  e2e_fail "access log has denials: $(grep '"verdict":"denied"' "$ACCESS_LOG" | head -3)"
else
  e2e_ok "no denial in the access log"
fi
page=$(curl -sf "http://$E2E_ADMIN/metrics")
if grep -E '^egressd_connections_total\{.*verdict="denied"' <<<"$page"; then
  e2e_fail "denials counted"
else
  e2e_ok "no egressd_connections_total{verdict=\"denied\"}"
fi

# A UDP socket that sends to a denied destination: connect() passes, send() is EPERM.
expect_probe production/web udpconnect 198.51.100.20 5353 EPERM
sleep 1.2
if grep -q '"destination_ip":"198.51.100.20".*"verdict":"denied"' "$ACCESS_LOG" ||
   grep -q '"verdict":"denied".*"destination_ip":"198.51.100.20"' "$ACCESS_LOG"; then
  e2e_ok "the send's denial is in the access log"
else
  e2e_fail "no denial for 198.51.100.20 in the access log: $(tail -n 3 "$ACCESS_LOG")"
fi
expect_metric 'egressd_connections_total\{.*destination_port="5353".*protocol="udp".*verdict="denied"\} 1$'
