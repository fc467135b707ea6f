# The race: fresh names, each resolved and connected at once by a new process
# (curl: getaddrinfo then connect), all in parallel. Every one must succeed:
# the IP is learned before the answer reaches the socket.
N=${DNS_RACE_NAMES:-100}
lab_workload production/web >/dev/null
records=()
addrs=()
for i in $(seq 1 "$N"); do
  ip="203.0.$(( 113 + i / 250 )).$(( 1 + i % 250 ))"
  [ "$ip" = 203.0.113.30 ] && ip=203.0.114.251
  addrs+=("$ip")
  records+=("--host-record=name-$i.race.example.com,$ip")
done
lab_external_addr "${addrs[@]}"
lab_start_dnsmasq --local-ttl=60 "${records[@]}" || { e2e_fail "dnsmasq"; return; }
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: race, namespace: production}
spec:
  hosts: ["*.race.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
e2e_start_agent || return

expect_probe production/web connect "${addrs[0]}" 80 EPERM                 # not resolved yet: denied
mkdir -p "$LAB_DIR/race"
pids=()
for i in $(seq 1 "$N"); do
  lab_exec production/web curl -sS -m $((5 * ${E2E_TIME_SCALE:-1})) "http://name-$i.race.example.com/" > "$LAB_DIR/race/$i" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"  # not a bare wait: the agent is a background job too
ok=$(grep -l '^hello' "$LAB_DIR"/race/* | wc -l)
echo "  race: $ok/$N fresh names resolved and connected at once"
if [ "$ok" -eq "$N" ]; then
  e2e_ok "race: all $N succeed"
else
  e2e_fail "race: $ok/$N succeeded; first failure: $(grep -L '^hello' "$LAB_DIR"/race/* | head -1 | xargs cat)"
fi
