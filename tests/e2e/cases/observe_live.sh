# egressctl observe streams flow events live, as they happen (new flows,
# denials), with filters; --since first replays what the agent holds; Ctrl-C
# ends it cleanly (exit 0).
# observe_bg OUT ARGS...: egressctl observe in the background (the binary
# itself, so that SIGINT reaches it: a backgrounded shell function ignores it).
observe_bg() {
  local out=$1
  shift
  "$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" "$@" >"$out" 2>&1 &
  observer=$!
}
lab_workload production/web >/dev/null
lab_external_addr 192.0.2.10 198.51.100.20
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: production}
spec:
  hosts: [api.example.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
e2e_start_agent || return
expect_probe production/web connect 198.51.100.20 80 EPERM     # before anyone observes
# ... and read by the agent (its access log, on stdout here) before observe starts.
wait_until 3000 grep -q '"destination_ip":"198.51.100.20","destination_port":80,' "$E2E_LOG" >/dev/null

observe_bg "$LAB_DIR/live.json" -o json observe
live=$observer
sleep 0.5
start=$(date +%s%N)
expect_probe production/web connect 198.51.100.20 81 EPERM
wait_until 3000 grep -q '"destination_port":81' "$LAB_DIR/live.json" >/dev/null
echo "  (the denial was on the stream $(( ($(date +%s%N) - start) / 1000000 )) ms after the connect)"
expect_probe production/web connect 192.0.2.10 80 ok
wait_until 3000 grep -q '"destination_ip":"192.0.2.10"' "$LAB_DIR/live.json" >/dev/null
kill -INT "$live"
wait "$live"
status=$?
[ "$status" = 0 ] && e2e_ok "Ctrl-C: exit 0" || e2e_fail "observe exited $status: $(cat "$LAB_DIR/live.json")"
got=$(jq -r '"\(.destination_ip):\(.destination_port) \(.verdict) \(.reason) \(.new_flow)"' "$LAB_DIR/live.json" | sort | tr '\n' ',')
[ "$got" = "192.0.2.10:80 allowed registry_match true,198.51.100.20:81 denied not_in_registry true," ] &&
  e2e_ok "live: exactly what happened while it ran: $got" || e2e_fail "live events: $got"

# --since replays what the agent holds, filtered; text output.
observe_bg "$LAB_DIR/since.txt" observe --since 5m --verdict denied
since=$observer
sleep 1
kill -INT "$since"
wait "$since"
lines=$(grep -c 'production/web -> 198.51.100.20:8[01]/tcp  denied (not_in_registry)' "$LAB_DIR/since.txt")
[ "$lines" = 2 ] && ! grep -q allowed "$LAB_DIR/since.txt" && e2e_ok "--since 5m --verdict denied: both denials, nothing else" ||
  e2e_fail "--since: $(cat "$LAB_DIR/since.txt")"
observe_bg "$LAB_DIR/host.json" -o json observe --since 5m --host 'api.*'
host=$observer
sleep 1
kill -INT "$host"
wait "$host"
[ "$(jq -r .host "$LAB_DIR/host.json" | sort -u | tr '\n' ' ')" = "api.example.com " ] &&
  e2e_ok "--host api.*: only the registered host's events" || e2e_fail "--host: $(cat "$LAB_DIR/host.json")"
observe_bg "$LAB_DIR/ns.json" -o json observe --since 5m --namespace staging
sleep 1
kill -INT "$observer"
wait "$observer"
[ ! -s "$LAB_DIR/ns.json" ] && e2e_ok "--namespace staging: nothing (every event is production's)" ||
  e2e_fail "--namespace staging: $(cat "$LAB_DIR/ns.json")"
if err=$(egressctl observe --since 5min 2>&1); then e2e_fail "--since 5min accepted"; else
  [[ "$err" == *"--since"* ]] && e2e_ok "a bad --since: $err" || e2e_fail "a bad --since: $err"; fi
