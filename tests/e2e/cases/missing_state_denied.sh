# A workload the agent cannot write is denied, never left with free egress
# (docs/LIMITS.md, --fail-mode). 300 Workloads, one namespace each, need 300
# scopes; the scopes map holds 256. The workloads whose scope gets no slot
# have no `workloads` entry, and their cgroups sit right below --cgroup-root,
# where no pods parent covers them: before, they were untouched (connect to
# an unregistered address: not EPERM). Now their own pods_parents entry makes
# the kernel decide them with no scope: EPERM, reason unknown_scope, counted;
# the 44 left out are named (older first: file order keeps w000..w255).
docs=""
for i in $(seq -w 0 299); do
  lab_workload "w$i" >/dev/null
  docs+="---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: w$i, namespace: ns$i}
spec: {cgroup: w$i}
"
done
e2e_policy workloads.yaml <<<"$docs"
e2e_mesh_registry_only
e2e_start_agent || return
wait_until 20000 grep -q "policy generation 1 applied" "$E2E_LOG" >/dev/null || { e2e_fail "no apply"; return; }
expect_log "44 object\(s\) not enforced: no room in the maps.*Workload ns256/w256 \(scopes, capacity 256\)"
# Scope ids go in key order: ns000..ns255 get one, ns256..ns299 none.
expect_probe w000 connect 198.51.100.20 80 EPERM   # written: REGISTRY_ONLY
expect_probe w299 connect 198.51.100.20 80 EPERM   # no scope slot: denied, not free
expect_probe w256 sendto 198.51.100.20 53 EPERM
expect_metric '^egressd_verdicts_total\{hook="connect4",verdict="denied",reason="unknown_scope"\} [1-9]'
# The denial is recorded under the workload's own name, not a bare cgroup id.
"$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" -o json flows | jq -e '.flows[] | select(.workload == "ns299/w299" and .last_reason == "unknown_scope")' >/dev/null &&
  e2e_ok "egressctl flows names ns299/w299 (unknown_scope)" || e2e_fail "flows: $("$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" -o json flows | head -c 400)"
