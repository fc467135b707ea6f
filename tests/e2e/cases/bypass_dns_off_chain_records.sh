# A trusted resolver that lies: each answer for a registered name also carries
# records for other owner names (an A for another name, a CNAME owned by
# another name and its target's A). Only the question's own address (its
# CNAME chain) is learned; the others stay denied. Checked with real
# connects after a real lookup.
lab_workload production/web >/dev/null
lab_external_addr 192.0.2.41 192.0.2.42 192.0.2.43
mkdir -p "/etc/netns/$LAB-wl"
printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$LAB_RESOLVER" > "/etc/netns/$LAB-wl/resolv.conf"
ip netns exec "$LAB-ext" python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/lying_resolver.py" \
  "$LAB_RESOLVER" 192.0.2.41 192.0.2.42 192.0.2.43 >"$LAB_DIR/resolver.out" 2>&1 &
resolver=$!
trap 'kill $resolver 2>/dev/null; e2e_teardown' EXIT
wait_until 3000 grep -q ready "$LAB_DIR/resolver.out" || { e2e_fail "the lying resolver did not start"; return; }
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: production}
spec:
  hosts: [api.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
YAML
e2e_start_agent || return

got=$(lab_exec production/web dig +short +time=2 api.example.org A | sort | tr '\n' ' ')
echo "  (the answer's addresses: $got)"
[[ "$got" == *192.0.2.42* ]] && e2e_ok "the answer carried the foreign records" ||
  e2e_fail "the lying resolver's answer lacks its foreign records: $got"
expect_probe production/web connect 192.0.2.41 80 ok             # the question's own address
expect_probe production/web connect 192.0.2.42 80 EPERM          # an A for another owner
expect_probe production/web connect 192.0.2.43 80 EPERM          # a chain that does not start at the question
out=$(egressctl -o json dns)
if grep -q '"ip": "192.0.2.41"' <<<"$out" && ! grep -Eq '"ip": "192.0.2.4[23]"' <<<"$out"; then
  e2e_ok "only the question's address was learned"
else
  e2e_fail "egressctl dns: $out"
fi
