# kill -9 the agent twice under a steady mixed load (TCP, connected and
# unconnected UDP, DNS learning of new names, names learned before, gateway
# redirects): enforcement never stops and no verdict is wrong, a connect
# that hangs included. tests/e2e/tools/mixed_load.sh says what each kind expects.
source "$(dirname "${BASH_SOURCE[0]}")/../tools/mixed_load.sh"
mixed_load_setup || { e2e_fail "lab setup"; return; }
e2e_start_agent || return
mixed_load_start
sleep 1
for round in 1 2; do
  kill -9 "$E2E_AGENT_PID"; wait "$E2E_AGENT_PID" 2>/dev/null; E2E_AGENT_PID=
  sleep 1   # no agent: the kernel keeps enforcing and learning
  e2e_start_agent || { mixed_load_stop; return; }
  sleep 1
done
mixed_load_stop
mixed_load_check 10
expect_log 'datapath adopted'
