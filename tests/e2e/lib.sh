# Helpers for e2e cases: a running agent on a policy directory, and asserts.
# A case file calls e2e_policy/e2e_start_agent, then asserts; any failed
# assert makes the case fail (exit status), after printing what differed.

E2E_FAILURES=0

e2e_setup() {
  local name=$1
  lab_up "egd$$" || return 1
  E2E_POLICY=$LAB_DIR/policy
  E2E_BPFFS=/sys/fs/bpf/egressd-e2e-$$
  # Below the ephemeral range (32768 and up), where an outgoing connection
  # could already hold the port.
  E2E_ADMIN=127.0.0.1:$(( 20000 + $$ % 12000 ))
  E2E_LOG=$LAB_DIR/egressd.log
  mkdir -p "$E2E_POLICY"
  echo "--- $name (lab $LAB, cgroup $LAB_CGROUP)"
}

e2e_teardown() {
  local status=$?
  e2e_stop_agent
  [ -x "$EGRESSD_BIN/egressd" ] && "$EGRESSD_BIN/egressd" --uninstall --bpffs "$E2E_BPFFS" >/dev/null 2>&1
  if [ "$E2E_FAILURES" -gt 0 ] || [ "$status" -ne 0 ]; then
    echo "--- agent log:"; tail -n 40 "$E2E_LOG" 2>/dev/null
  fi
  lab_down
  [ "$E2E_FAILURES" -eq 0 ] && [ "$status" -eq 0 ]
  exit $?
}

# e2e_policy FILE < YAML: writes a policy file atomically (as an editor would).
e2e_policy() {
  cat > "$E2E_POLICY/.$1.tmp" && mv "$E2E_POLICY/.$1.tmp" "$E2E_POLICY/$1"
}

# e2e_mesh_registry_only: the istio ConfigMap with REGISTRY_ONLY.
e2e_mesh_registry_only() {
  e2e_policy mesh.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
YAML
}

# e2e_registry_only NS/NAME...: the common start of a case: the istio
# ConfigMap with REGISTRY_ONLY and a Workload per NS/NAME, its cgroup NS/NAME
# under the lab (lab_workload or lab_pod makes it).
e2e_registry_only() {
  e2e_mesh_registry_only
  local w docs=""
  for w in "$@"; do
    docs+="---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: ${w#*/}, namespace: ${w%%/*}}
spec: {cgroup: $w}
"
  done
  e2e_policy workloads.yaml <<<"$docs"
}

# The TC backstop assumes what a pod gives it: a network namespace holding
# only the workload's own processes. The shared <lab>-wl does not (several
# workloads, and processes of none), so it is off unless a case puts its
# workloads in their own namespaces (lab_pod) and sets E2E_TC_MODE.
e2e_start_agent() {
  "$EGRESSD_BIN/egressd" --policy-dir "$E2E_POLICY" --cgroup-root "$LAB_CGROUP" --bpffs "$E2E_BPFFS" \
    --admin-addr "$E2E_ADMIN" --dns-server "$LAB_RESOLVER" --log-level debug --tc-mode "${E2E_TC_MODE:-off}" \
    "$@" >>"$E2E_LOG" 2>&1 &
  E2E_AGENT_PID=$!
  local i
  for i in $(seq 1 $((100 * ${E2E_TIME_SCALE:-1}))); do
    curl -sf "http://$E2E_ADMIN/readyz" >/dev/null 2>&1 && return 0
    # Objects left out of full maps: up, enforcing what fits, not ready.
    [[ $(curl -s "http://$E2E_ADMIN/readyz" 2>/dev/null) == *"not enforced"* ]] && return 0
    kill -0 "$E2E_AGENT_PID" 2>/dev/null || { e2e_fail "agent exited at start"; return 1; }
    sleep 0.05
  done
  e2e_fail "agent not ready after $((5 * ${E2E_TIME_SCALE:-1}))s"
  return 1
}

e2e_stop_agent() {
  [ -n "${E2E_AGENT_PID:-}" ] || return 0
  kill "$E2E_AGENT_PID" 2>/dev/null && wait "$E2E_AGENT_PID" 2>/dev/null
  E2E_AGENT_PID=
}

e2e_fail() {
  echo "  FAIL: $*"
  E2E_FAILURES=$((E2E_FAILURES + 1))
}

e2e_ok() {
  echo "  ok: $*"
}

# expect_probe WORKLOAD OP IP PORT EXPECTED [--v4mapped]: EXPECTED is what
# egressd_probe prints: ok, EPERM, ECONNREFUSED...
expect_probe() {
  local workload=$1 op=$2 ip=$3 port=$4 expected=$5
  shift 5
  local got
  got=$(lab_exec "$workload" "$EGRESSD_BIN/egressd_probe" "$op" "$ip" "$port" "$@")
  if [ "$got" = "$expected" ]; then
    e2e_ok "$workload $op $ip:$port $* -> $got"
  else
    e2e_fail "$workload $op $ip:$port $*: expected $expected, got $got"
  fi
}

# probe_is WORKLOAD OP IP PORT EXPECTED: silent form, for wait_until.
probe_is() {
  [ "$(lab_exec "$1" "$EGRESSD_BIN/egressd_probe" "$2" "$3" "$4")" = "$5" ]
}

# expect_http WORKLOAD URL: curl from the workload must get nginx's answer.
expect_http() {
  local body
  if body=$(lab_exec "$1" curl -sS -g -m 3 "$2" 2>&1) && [[ "$body" == hello* ]]; then
    e2e_ok "$1 curl $2 -> $body"
  else
    e2e_fail "$1 curl $2: $body"
  fi
}

# expect_metric REGEX: a line of /metrics must match.
expect_metric() {
  # Read the whole page first: `curl | grep -q` under pipefail fails when grep
  # stops early and curl gets SIGPIPE on a large page.
  local page
  page=$(curl -sf "http://$E2E_ADMIN/metrics")
  if grep -Eq "$1" <<<"$page"; then
    e2e_ok "metric /$1/"
  else
    e2e_fail "no metric line matches /$1/"
  fi
}

# expect_log REGEX: the agent's log must have a matching line.
expect_log() {
  if grep -Eq "$1" "$E2E_LOG"; then e2e_ok "log /$1/"; else e2e_fail "no log line matches /$1/"; fi
}

# The mode --tc-mode auto must end up in on this kernel: tcx from Linux 6.6,
# clsact filters before (Debian 12's 6.1).
e2e_kernel_tc_mode() {
  local release major minor
  release=$(uname -r)
  major=${release%%.*}
  minor=${release#*.}
  minor=${minor%%[!0-9]*}
  if [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -ge 6 ]; }; then echo tcx; else echo clsact; fi
}

egressctl() {
  "$EGRESSD_BIN/egressctl" --admin-addr "$E2E_ADMIN" "$@"
}

# e2e_wait_listening NETNS udp|tcp PORT: until a socket is bound (UDP) or
# listens (TCP) on PORT in NETNS: a server started in the background is
# ready, however slow the machine, where a fixed sleep guessed.
e2e_wait_listening() {
  local flags=-Hltn
  [ "$2" = udp ] && flags=-Hlun
  wait_until 5000 sh -c "ip netns exec '$1' ss $flags 'sport = :$3' | grep -q ." >/dev/null ||
    e2e_fail "nothing listens on $2 port $3 in $1"
}

# wait_until TIMEOUT_MS CMD...: polls CMD every 5 ms; prints the elapsed ms.
# E2E_TIME_SCALE stretches every timeout: an emulated guest
# (scripts/test-kernel.sh without KVM) runs the same steps many times slower.
wait_until() {
  local timeout_ms=$(($1 * ${E2E_TIME_SCALE:-1}))
  shift
  local start now
  start=$(date +%s%N)
  while :; do
    "$@" >/dev/null 2>&1 && { echo $(( ($(date +%s%N) - start) / 1000000 )); return 0; }
    now=$(date +%s%N)
    [ $(( (now - start) / 1000000 )) -ge "$timeout_ms" ] && return 1
    sleep 0.005
  done
}
