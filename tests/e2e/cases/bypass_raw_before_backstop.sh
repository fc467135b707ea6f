# Raw packets before the backstop exists: a workload's very first process
# opens raw sockets and sends bursts to a denied destination at once, before
# the agent can have attached the TC backstop to its interface. Nothing may
# arrive: the raw socket is refused (EPERM, reason backstop_pending) until the
# backstop is attached, and its packets are dropped after. Checked at the
# receiver. (AF_PACKET has no cgroup hook: README, semantics.)
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
e2e_registry_only production/web
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return
pkt=$EGRESSD_BIN/egressd_packet

ip netns exec "$LAB-ext" "$pkt" sink 198.51.100.20 9999 6 >"$LAB_DIR/sink.denied" 2>/dev/null &
sleep 0.3
# The first process of the workload: tries a raw burst of 20 datagrams, again
# and again for 2 s (each try a new socket), and reports each outcome.
lab_exec production/web bash -c '
  end=$((SECONDS + 2))
  while [ $SECONDS -lt $end ]; do "$0" raw 198.51.100.20 9999 20 100 2>/dev/null; done' "$pkt" >"$LAB_DIR/attempts"
refused=$(grep -c '^EPERM$' "$LAB_DIR/attempts")
sent=$(grep -c '^sent 20$' "$LAB_DIR/attempts")
echo "  tries: $refused refused (EPERM), $sent bursts sent after the backstop attached"
wait_until 8000 test -s "$LAB_DIR/sink.denied" >/dev/null
[ "$(cat "$LAB_DIR/sink.denied")" = "0 0" ] && e2e_ok "nothing arrived at the denied destination" ||
  e2e_fail "the denied destination received '$(cat "$LAB_DIR/sink.denied")' (datagrams bytes)"
[ "$sent" -gt 0 ] && e2e_ok "after the attach, raw sockets open again and the backstop drops them" ||
  e2e_fail "no burst was ever sent: the backstop never let raw sockets open"
if [ "$refused" -gt 0 ]; then
  e2e_ok "raw sockets refused before the backstop was attached ($refused tries)"
  expect_metric '^egressd_verdicts_total\{hook="sock_create",verdict="denied",reason="backstop_pending"\} '"$refused"'$'
  wait_until 3000 grep -q '"reason":"backstop_pending"' "$ACCESS_LOG" >/dev/null &&
    e2e_ok "access log: the refused raw socket, reason backstop_pending" ||
    e2e_fail "no access-log line with reason backstop_pending"
fi
