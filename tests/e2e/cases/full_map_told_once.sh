# A map that overflows is told plainly and once, and what is left out is
# chosen by a rule (older objects keep their place), whole objects at a time.
# One ServiceEntry with 70,000 addresses needs more prefixes than
# dest_prefixes holds (65,536); an older one (a file earlier in path order)
# holds 192.0.2.10. Before the rule, the sync wrote until the trie was full:
# ~4,500 failed writes, one per address, and a registered address could be
# among them. Now the big entry is left out whole before the sync, named in
# the log (one line per apply), in `egressctl status` and in a metric;
# /readyz says not ready; no map write fails; the older entry is in force.
lab_workload production/web >/dev/null
e2e_registry_only production/web
e2e_policy a-small.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: small, namespace: production}
spec:
  hosts: [small.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  addresses: [192.0.2.10/32]
YAML
python3 - "$E2E_POLICY/big.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
            "metadata: {name: big, namespace: production}\nspec:\n  hosts: [big.example.com]\n"
            "  ports: [{number: 80, name: http, protocol: HTTP}]\n  addresses:\n")
    for i in range(70000):  # 10.128.0.0 upwards, one /32 each
        f.write("  - 10.%d.%d.%d/32\n" % (128 + (i >> 16), (i >> 8) & 255, i & 255))
PY
e2e_start_agent || return
wait_until 60000 grep -q "policy generation 1 applied" "$E2E_LOG" >/dev/null || { e2e_fail "no apply: $(tail -n 3 "$E2E_LOG")"; return; }
lines=$(grep -c "not enforced: no room in the maps" "$E2E_LOG")
[ "$lines" = 1 ] && e2e_ok "one log line: $(grep -o "1 object(s) not enforced.*" "$E2E_LOG" | cut -c1-160)" ||
  e2e_fail "$lines not-enforced log lines"
expect_log "ServiceEntry production/big \(dest_prefixes, capacity 65536\)"
[ "$(grep -c "map sync: " "$E2E_LOG")" = 0 ] && e2e_ok "no map write failed" ||
  e2e_fail "map sync errors: $(grep "map sync: " "$E2E_LOG" | head -n 1 | cut -c1-200)"
expect_metric '^egressd_objects_not_enforced\{kind="ServiceEntry",map="dest_prefixes"\} 1$'
expect_metric '^egressd_map_sync_errors 0$'
status=$("$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" -o json status)
[ "$(jq -c '.not_enforced' <<<"$status")" = '[{"capacity":65536,"effect":"not in force: what only it allows is denied","kind":"ServiceEntry","map":"dest_prefixes","name":"production/big"}]' ] &&
  e2e_ok "egressctl -o json status names it" || e2e_fail "status: $(jq -c '.not_enforced' <<<"$status")"
"$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" status | grep -Eq "^ServiceEntry +production/big +dest_prefixes +65536" &&
  e2e_ok "egressctl status names it" || e2e_fail "egressctl status: $("$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" status | tail -n 3)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$E2E_ADMIN/readyz")
[ "$code" = 503 ] && e2e_ok "/readyz 503: $(curl -s "http://$E2E_ADMIN/readyz")" || e2e_fail "/readyz $code"
expect_probe production/web connect 192.0.2.10 80 ok           # the older entry: in force
expect_probe production/web connect 10.128.0.1 80 EPERM        # the entry left out
expect_probe production/web connect 198.51.100.20 80 EPERM     # unregistered: still denied
# Room again (the big entry gone): ready, nothing left out.
rm "$E2E_POLICY/big.yaml"
wait_until 20000 curl -sf "http://$E2E_ADMIN/readyz" >/dev/null && e2e_ok "ready once it fits" || e2e_fail "not ready after the big entry left"
expect_metric '^egressd_objects_not_enforced\{kind="ServiceEntry",map="dest_prefixes"\} 0$'
kill -0 "$E2E_AGENT_PID" && e2e_ok "the agent is still up" || e2e_fail "the agent exited"
