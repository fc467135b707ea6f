# kill -9 the agent while connections are made continuously: enforcement
# never stops and no verdict is ever wrong; the restarted agent adopts the
# pinned programs and maps and reconciles.
lab_workload production/web >/dev/null
e2e_policy policy.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: production/web}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
e2e_start_agent || return

# A workload process probing allowed and denied destinations in a loop.
verdicts=$LAB_DIR/verdicts
lab_exec production/web bash -c "
  while [ ! -f $LAB_DIR/stop ]; do
    echo allow \$($EGRESSD_BIN/egressd_probe connect 192.0.2.10 80)
    echo deny \$($EGRESSD_BIN/egressd_probe connect 198.51.100.20 80)
  done" > "$verdicts" &
prober=$!
sleep 0.5
kill -9 "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null; E2E_AGENT_PID=
sleep 1   # the agent is gone: the kernel keeps enforcing
e2e_start_agent || return
sleep 0.5
kill -9 "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null; E2E_AGENT_PID=
e2e_start_agent || return
sleep 0.5
touch "$LAB_DIR/stop"; wait "$prober"

total=$(wc -l < "$verdicts")
wrong=$(grep -cvE '^(allow ok|deny EPERM)$' "$verdicts")
if [ "$total" -gt 50 ] && [ "$wrong" -eq 0 ]; then
  e2e_ok "$total verdicts across two kill -9 restarts, 0 wrong"
else
  e2e_fail "$wrong wrong of $total verdicts: $(grep -vE '^(allow ok|deny EPERM)$' "$verdicts" | sort | uniq -c | head)"
fi
expect_log 'datapath adopted'
out=$(curl -s "http://$E2E_ADMIN/api/v1/status")
grep -q '"adopted": true' <<<"$out" && e2e_ok "status says adopted" || e2e_fail "status: $out"
