# A workload's cgroup removed and created again at the same path (a service
# restarting, a runtime recreating a container's cgroup) gets a new cgroup
# id. The new cgroup is enforced before its first process can connect: it is
# below a pods parent (production/, the directory of registered workloads),
# so until the agent ties the new id to the workload it is an unknown
# workload (--unknown-pods deny: reason unknown_workload); the agent follows
# with cgroup events, writes the new id and removes the old one. A restart
# loop, each time a process that connects at once, while another workload
# connects in a loop: zero unenforced connects, zero wrong verdicts.
lab_workload production/web >/dev/null
lab_workload production/api >/dev/null
e2e_registry_only production/web production/api
e2e_policy partner.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
ACCESS_LOG=$LAB_DIR/access.log
e2e_start_agent --access-log "$ACCESS_LOG" || return
probe=$EGRESSD_BIN/egressd_probe
web=$LAB_CGROUP/production/web

# The load: another workload of the same parent connecting continuously.
lab_exec production/api bash -c "
  while [ ! -f $LAB_DIR/stop ]; do
    echo allow \$($probe connect 192.0.2.10 80)
    echo deny \$($probe connect 198.51.100.20 80)
    sleep 0.02
  done" >"$LAB_DIR/load" &
load=$!

# workload_ids: the cgroup ids in the kernel's workloads map.
workload_ids() {
  bpftool -j map dump pinned "$E2E_BPFFS/workloads" | jq -r '.[].formatted.key.cgroup_id' | sort
}
restarts=30
# One shell in the workloads' network namespace (nsenter: ip netns exec
# would mount a /sys without the cgroup tree) restarts the service: rmdir,
# mkdir, and a process that joins the new cgroup and connects at once (a fork
# and an exec: faster than any agent can react), then waits until the new
# cgroup has its workload's policy (the allowed destination passes).
nsenter --net="/run/netns/$LAB-wl" bash -c '
  web=$1 probe=$2 n=$3
  run() { (echo $BASHPID > "$web/cgroup.procs" && exec "$probe" connect "$@"); }
  for i in $(seq 1 "$n"); do
    echo old $(stat -c %i "$web")
    rmdir "$web" && mkdir "$web" || { echo broken; exit 1; }
    echo first $(run 198.51.100.20 80)
    for t in $(seq 1 300); do r=$(run 192.0.2.10 80); [ "$r" = ok ] && break; sleep 0.01; done
    echo caught $t $r
    echo after $(run 198.51.100.20 80)
  done' _ "$web" "$probe" "$restarts" >"$LAB_DIR/restarts"
unenforced=$(grep -cE '^(first|after) ok$' "$LAB_DIR/restarts")
firsts=$(grep -c '^first ' "$LAB_DIR/restarts")
caught=$(grep -c '^caught [0-9]* ok$' "$LAB_DIR/restarts")
[ "$firsts" -eq "$restarts" ] && e2e_ok "$restarts restarts, each with a process connecting at once" ||
  e2e_fail "only $firsts of $restarts restarts ran: $(tail -n 2 "$LAB_DIR/restarts")"
[ "$caught" -eq "$restarts" ] && e2e_ok "each recreated cgroup got its workload's policy (tries of 10 ms: $(awk '$1 == "caught" { print $2 }' "$LAB_DIR/restarts" | sort -n | tr '\n' ' '))" ||
  e2e_fail "$((restarts - caught)) recreated cgroups never got their workload's policy"
stale=0
ids=$(workload_ids)
for old in $(awk '$1 == "old" { print $2 }' "$LAB_DIR/restarts"); do grep -qx "$old" <<<"$ids" && stale=$((stale + 1)); done
touch "$LAB_DIR/stop"
wait "$load"
[ "$unenforced" -eq 0 ] && e2e_ok "no connect from a recreated cgroup went unenforced ($(grep -c '^first EPERM$' "$LAB_DIR/restarts") first connects refused)" ||
  e2e_fail "$unenforced connects from recreated cgroups to an unregistered destination succeeded"
[ "$stale" -eq 0 ] && e2e_ok "no old cgroup id is left in the workloads map" ||
  e2e_fail "$stale old ids still in the workloads map"
ids=$(workload_ids | tr '\n' ' ')
want=$(printf '%s\n' "$(stat -c %i "$web")" "$(stat -c %i "$LAB_CGROUP/production/api")" | sort | tr '\n' ' ')
[ "$ids" = "$want" ] && e2e_ok "workloads map holds exactly the current ids ($ids)" || e2e_fail "workloads map: $ids, want $want"
unknown=$(curl -sf "http://$E2E_ADMIN/metrics" | awk '/^egressd_verdicts_total\{hook="connect4",verdict="denied",reason="unknown_workload"\}/ { print $2 }')
echo "  first connects denied as unknown_workload (before the agent wrote the new id): ${unknown:-0} of $restarts"
wrong=$(grep -cv -e '^allow ok$' -e '^deny EPERM$' "$LAB_DIR/load")
total=$(wc -l <"$LAB_DIR/load")
[ "$total" -gt 0 ] && [ "$wrong" -eq 0 ] && e2e_ok "load: $total connects, zero wrong verdicts" ||
  e2e_fail "load: $wrong wrong verdicts of $total: $(grep -v -e '^allow ok$' -e '^deny EPERM$' "$LAB_DIR/load" | sort | uniq -c | tr '\n' ' ')"
# Who else is an unknown workload: a stray cgroup below the parent. Left
# alone: the parent itself, and cgroups outside every parent.
mkdir -p "$LAB_CGROUP/production/stray" "$LAB_CGROUP/elsewhere"
expect_probe production/stray connect 198.51.100.20 80 EPERM
expect_probe production/stray connect "$LAB_RESOLVER" 53 ECONNREFUSED   # trusted DNS: always allowed
expect_probe production connect 198.51.100.20 80 ok
expect_probe elsewhere connect 198.51.100.20 80 ok
expect_metric '^egressd_verdicts_total\{hook="connect4",verdict="denied",reason="unknown_workload"\} [1-9]'
wait_until 3000 grep -q '"reason":"unknown_workload"' "$ACCESS_LOG" >/dev/null && e2e_ok "access log: unknown_workload denials" ||
  e2e_fail "no access-log line with reason unknown_workload"
# --unknown-pods allow: a stray cgroup is untouched.
e2e_stop_agent
e2e_start_agent --unknown-pods allow || return
expect_probe production/stray connect 198.51.100.20 80 ok
expect_probe production/web connect 198.51.100.20 80 EPERM
