# ServiceEntry hosts are allowed through the IPs in the workload's own DNS
# answers, learned in the kernel: exact names, wildcards at any depth (never
# the apex), CNAME chains, IPv6; only for the entry's ports; a name never
# resolved, or resolved but not in the registry, stays denied.
lab_workload production/web >/dev/null
lab_external_addr 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 192.0.2.16 192.0.2.17 2001:db8::11
lab_start_dnsmasq --local-ttl=60 \
  --host-record=exact.example.org,192.0.2.11 \
  --host-record=example.com,192.0.2.12 \
  --host-record=a.b.example.com,192.0.2.13 \
  --host-record=edge.cdn.example.net,192.0.2.14 --cname=www.cname.example.net,edge.cdn.example.net \
  --host-record=never.example.org,192.0.2.15 \
  --host-record=other.example.net,192.0.2.16 \
  --host-record=v6.example.org,2001:db8::11 \
  --host-record=tcp.example.org,192.0.2.17 || { e2e_fail "dnsmasq"; return; }
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named, namespace: production}
spec:
  hosts: [Exact.Example.org., "*.example.com", www.cname.example.net, v6.example.org, never.example.org,
          tcp.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
YAML
e2e_start_agent || return

expect_http production/web http://exact.example.org/                   # exact host, trailing dot and case ignored
expect_probe production/web connect 192.0.2.11 8080 EPERM              # learned, but not the entry's port
expect_http production/web http://a.b.example.com/                      # wildcard, two labels deep
lab_exec production/web dig +short example.com >/dev/null               # apex of the wildcard: resolved...
expect_probe production/web connect 192.0.2.12 80 EPERM                 # ...but never allowed
expect_http production/web http://www.cname.example.net/                # A at the end of a CNAME chain
expect_http production/web "http://v6.example.org/"                     # AAAA
expect_probe production/web connect 2001:db8::11 80 ok
expect_probe production/web connect 192.0.2.15 80 EPERM                 # in the registry, never resolved
lab_exec production/web dig +short other.example.net >/dev/null         # resolved, not in the registry
expect_probe production/web connect 192.0.2.16 80 EPERM

# DNS over TCP: the kernel punts it, the agent learns it (not race-free).
lab_exec production/web dig +tcp +short tcp.example.org >/dev/null
if ms=$(wait_until 2000 probe_is production/web connect 192.0.2.17 80 ok); then
  e2e_ok "DNS over TCP learned by the agent after ${ms} ms"
else
  e2e_fail "DNS over TCP answer not learned"
fi

out=$(egressctl dns)
if grep -q "exact.example.org" <<<"$out" && grep -q "192.0.2.11" <<<"$out" && grep -q "2001:db8::11" <<<"$out" \
   && grep -q "production" <<<"$out" && ! grep -q "192.0.2.12" <<<"$out" && ! grep -q "192.0.2.16" <<<"$out"; then
  e2e_ok "egressctl dns lists the learned IPs with their names"
else
  e2e_fail "egressctl dns: $out"
fi
out=$(egressctl -o json dns)
if grep -q '"ttl_seconds"' <<<"$out" && grep -q '"hits"' <<<"$out"; then e2e_ok "egressctl -o json dns"; else e2e_fail "egressctl -o json dns: $out"; fi
expect_metric '^egressd_dns_learned_ips [1-9]'
expect_metric '^egressd_dns_events_total\{event="name_not_allowed"\} [1-9]'
expect_metric '^egressd_verdicts_total\{.*reason="dns_learned".*\} [1-9]'

# explain agrees with the kernel: a learned IP is allowed through its host
# (named, with the TTL left), an IP never learned is denied; a host lists the
# IPs learned for it.
out=$(egressctl -o json explain --workload production/web --to 192.0.2.11:80)
if [ "$(jq -r .verdict <<<"$out")" = allowed ] && [ "$(jq -r .reason <<<"$out")" = dns_learned ] &&
   [ "$(jq -r .service_entry <<<"$out")" = production/named ] && [ "$(jq -r '.learned.hosts[0]' <<<"$out")" = exact.example.org ] &&
   jq -r .detail <<<"$out" | grep -q 'learned from a DNS answer for exact.example.org, expires in [0-9]*s'; then
  e2e_ok "explain: learned IP allowed ($(jq -r .detail <<<"$out"))"
else
  e2e_fail "explain learned IP: $out"
fi
out=$(egressctl -o json explain --workload production/web --to 192.0.2.15:80)
[ "$(jq -r .verdict <<<"$out")" = denied ] && [ "$(jq -r .learned <<<"$out")" = null ] &&
  e2e_ok "explain: unlearned IP denied" || e2e_fail "explain unlearned IP: $out"
out=$(egressctl -o json explain --workload production/web --to 192.0.2.11:8080)
[ "$(jq -r .verdict <<<"$out")" = denied ] && e2e_ok "explain: learned IP, other port denied" || e2e_fail "explain other port: $out"
out=$(egressctl -o json explain --workload production/web --to exact.example.org:80)
[ "$(jq -r '[.learned_ips[].ip] | join(",")' <<<"$out")" = 192.0.2.11 ] && [ "$(jq -r .verdict <<<"$out")" = allowed ] &&
  e2e_ok "explain HOST:PORT lists the learned IPs" || e2e_fail "explain host: $out"
out=$(egressctl explain --workload production/web --to a.b.example.com:80)
grep -q '192.0.2.13' <<<"$out" && e2e_ok "explain wildcard host (table): $(tr '\n' ' ' <<<"$out")" || e2e_fail "explain wildcard host: $out"
