# Start-up: a typo in a flag or path is an error before the kernel is
# touched (exit 2, naming the flag), a taken admin port fails before the
# attach, and a start that fails after attaching leaves the kernel as it found
# it: nothing when it attached fresh, the previous agent's state (still
# enforcing) when it had adopted one.
lab_workload production/web >/dev/null
e2e_registry_only production/web

# attached: programs on the lab cgroup; pins: files under the agent's bpffs.
attached() { bpftool cgroup show "$LAB_CGROUP" 2>/dev/null | awk 'NR > 1' | wc -l; }
pins() { find "$E2E_BPFFS" -mindepth 1 2>/dev/null | wc -l; }
# run_agent ARGS...: the agent in the foreground, output in $LAB_DIR/start.out;
# POLICY_DIR and ADMIN_ADDR replace the case's own.
run_agent() {
  timeout 20 "$EGRESSD_BIN/egressd" --policy-dir "${POLICY_DIR:-$E2E_POLICY}" --cgroup-root "$LAB_CGROUP" \
    --bpffs "$E2E_BPFFS" --admin-addr "${ADMIN_ADDR:-$E2E_ADMIN}" --dns-server "$LAB_RESOLVER" --tc-mode off "$@" \
    >"$LAB_DIR/start.out" 2>&1
}
# start_fails EXIT TEXT PINS ARGS...: exits EXIT, says TEXT, leaves PINS pins and
# as many programs as before.
start_fails() {
  local want_exit=$1 text=$2 want_pins=$3
  shift 3
  local before status
  before=$(attached)
  run_agent "$@"
  status=$?
  if [ "$status" = "$want_exit" ] && grep -qF -- "$text" "$LAB_DIR/start.out"; then
    e2e_ok "$* -> exit $status: $(grep -F -- "$text" "$LAB_DIR/start.out" | head -n 1 | cut -c1-110)"
  else
    e2e_fail "$*: expected exit $want_exit saying '$text', got exit $status: $(tail -n 3 "$LAB_DIR/start.out")"
  fi
  [ "$(attached)" = "$before" ] && [ "$(pins)" = "$want_pins" ] &&
    e2e_ok "  left $before programs on the cgroup and $want_pins pins" ||
    e2e_fail "  left $(attached) programs (before: $before) and $(pins) pins (expected $want_pins)"
}

POLICY_DIR=$LAB_DIR/no-such-dir start_fails 2 "--policy-dir $LAB_DIR/no-such-dir: No such file or directory" 0
ADMIN_ADDR=nonsense start_fails 2 "--admin-addr nonsense: expected HOST:PORT" 0
start_fails 2 "--dns-server resolver: expected IP" 0 --dns-server resolver
start_fails 2 "--cluster-cidr 10.0.0.0/33: expected" 0 --cluster-cidr 10.0.0.0/33

# A taken admin port: refused at bind, before the attach.
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
h,p=sys.argv[1].rsplit(":",1); s.bind((h,int(p))); s.listen(); print("listening", flush=True); time.sleep(30)' \
  "$E2E_ADMIN" >"$LAB_DIR/holder.out" &
holder=$!
wait_until 3000 grep -q listening "$LAB_DIR/holder.out" >/dev/null
start_fails 1 "cannot listen" 0
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# A failure after the attach (the access log on a read-only filesystem):
# fresh, everything it attached is taken back.
mkdir -p "$LAB_DIR/ro" && mount -t tmpfs -o ro tmpfs "$LAB_DIR/ro"
trap 'umount "$LAB_DIR/ro" 2>/dev/null; e2e_teardown' EXIT
start_fails 1 "detached the programs it attached" 0 --access-log "$LAB_DIR/ro/access.log"

# With a previous agent's state in place (killed, pins kept, still
# enforcing): the failed start leaves it as it was.
e2e_start_agent || return
expect_probe production/web connect 192.0.2.10 80 EPERM
kill -9 "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null; E2E_AGENT_PID=
kept=$(pins)
start_fails 1 "keep enforcing" "$kept" --access-log "$LAB_DIR/ro/access.log"
expect_probe production/web connect 192.0.2.10 80 EPERM
