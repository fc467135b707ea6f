# Two workloads whose host-side interfaces have the same ifindex in different
# network namespaces (a lab can do this; a node's host-side veths all share
# its root namespace). The backstop maps interfaces by ifindex alone, so the
# second is refused and reported pending, never judged by the first's policy,
# and the first keeps its backstop.
E2E_TC_MODE=auto
lab_pod production/web 1 >/dev/null
idx=$(ip -n "$LAB-ext" -o link show "$LAB-v1" | cut -d: -f1)
# production/api by hand: its host side lives in a namespace of its own
# (named $LAB-pod*, so lab_down removes it), with web's index.
api_ns="$LAB-pod2" api_host="$LAB-pod2host"
ip netns add "$api_ns"
ip netns add "$api_host"
ip -n "$api_host" link add "$LAB-v2" index "$idx" type veth peer name eth0 netns "$api_ns"
ip -n "$api_host" link set "$LAB-v2" up
ip -n "$api_ns" link set eth0 up
mkdir -p "$LAB_CGROUP/production/api"
echo "$api_ns" >"$LAB_DIR/pod-netns.production_api"
[ "$(ip -n "$api_host" -o link show "$LAB-v2" | cut -d: -f1)" = "$idx" ] &&
  e2e_ok "api's host side $LAB-v2 has web's ifindex $idx, in another namespace" ||
  { e2e_fail "could not give $LAB-v2 ifindex $idx"; return; }
e2e_registry_only production/web production/api
e2e_start_agent || return
lab_exec production/web sleep 600 &
tc_of() { curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -c --arg w "$1" '.tc_interfaces[] | select(.workload == $w)'; }
web_attached() { tc_of production/web | jq -e .ifindex; }
wait_until 5000 web_attached >/dev/null &&
  e2e_ok "web attached first" || { e2e_fail "web not attached: $(tc_of production/web)"; return; }
lab_exec production/api sleep 600 &
clash() { tc_of production/api | grep -q "keyed by ifindex alone"; }
wait_until 5000 clash >/dev/null && e2e_ok "api refused and pending: $(tc_of production/api | jq -r .pending)" ||
  e2e_fail "api: $(tc_of production/api)"
[ "$(tc_of production/web | jq -r .interface)" = "$LAB-v1" ] && e2e_ok "web keeps its backstop on $LAB-v1" ||
  e2e_fail "web: $(tc_of production/web)"
expect_metric '^egressd_tc_interfaces\{state="pending"\} 1$'
expect_metric '^egressd_tc_interfaces\{state="attached"\} 1$'
egressctl status | grep -q "keyed by ifindex alone" && e2e_ok "egressctl status shows why" ||
  e2e_fail "egressctl status: $(egressctl status | tail -n 5)"
