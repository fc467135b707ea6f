# Kernel BPF run-time stats are node-wide: while anyone holds them on, every
# BPF program on the node pays two clock reads per run. The agent turns them
# on only with --bpf-run-stats, and only then exports
# egressd_bpf_program_runs_total / _run_seconds_total. Checked in the kernel:
# the connect4 program's run_cnt moves only while a --bpf-run-stats agent runs
# (this assumes nothing else on the machine holds the stats on meanwhile).
lab_workload production/web >/dev/null
e2e_registry_only production/web
connect4_runs() {  # the kernel's run count of the agent's connect4 program
  local id
  id=$(curl -sf "http://$E2E_ADMIN/api/v1/status" | jq -r '.programs[] | select(.name == "egressd_connect4") | .id')
  bpftool prog show id "$id" -j | jq '.run_cnt // 0'
}
connects() { local _; for _ in 1 2 3 4 5; do expect_probe production/web connect 198.51.100.20 80 EPERM; done; }
series() { curl -sf "http://$E2E_ADMIN/metrics" | grep -c '^egressd_bpf_program_run' || true; }

e2e_start_agent || return
before=$(connect4_runs); connects; after=$(connect4_runs)
[ "$after" = "$before" ] && e2e_ok "default: the kernel counts no runs ($before -> $after)" ||
  e2e_fail "default agent: connect4 run_cnt moved $before -> $after (stats on; or another process holds them on)"
n=$(series)
[ "$n" = 0 ] && e2e_ok "default: no egressd_bpf_program_run* series" || e2e_fail "default: $n program run series exported"
e2e_stop_agent

e2e_start_agent --bpf-run-stats || return
before=$(connect4_runs); connects; after=$(connect4_runs)
[ "$after" -ge $((before + 5)) ] && e2e_ok "--bpf-run-stats: connect4 counted ($before -> $after)" ||
  e2e_fail "--bpf-run-stats: connect4 run_cnt $before -> $after after 5 connects"
expect_metric '^egressd_bpf_program_runs_total\{program="egressd_connect4"\} [1-9]'
expect_metric '^egressd_bpf_program_run_seconds_total\{program="egressd_connect4"\} [0-9.e-]*[1-9]'
e2e_stop_agent

# The stats go off with the agent that held them (the programs stay pinned).
e2e_start_agent || return
before=$(connect4_runs); connects; after=$(connect4_runs)
[ "$after" = "$before" ] && e2e_ok "after the --bpf-run-stats agent exits: off again" ||
  e2e_fail "stats still on after the agent exited: run_cnt $before -> $after"
