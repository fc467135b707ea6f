# A steady mixed load from one workload, for the restart and upgrade cases:
# each kind runs in its own loop and writes "KIND RESULT" per attempt; every
# attempt has one right result, anything else (EPERM where allowed, success
# where denied, a connect that hangs until its 2 s timeout) is a wrong verdict.
#   mixed_load_setup       lab, resolver, gateway listener, policy (before e2e_start_agent)
#   mixed_load_start       starts the loops (after the agent is ready)
#   mixed_load_stop        stops them and waits
#   mixed_load_check MIN   fails unless every kind ran >= MIN times, 0 wrong
#
# Kinds:
#   tcp_allow       connect() to a registered address          -> ok
#   tcp_deny        connect() to an unregistered one           -> EPERM
#   udp_conn_allow  connect()+send() on UDP, registered        -> ok
#   udp_conn_deny   connect()+send() on UDP, unregistered      -> EPERM
#   udp_sendto_deny unconnected sendto(), unregistered         -> EPERM
#   dns_new         curl of a name never resolved before (learned in the kernel as it answers) -> ok
#   dns_learned     connect() to an address learned before the load started, without resolving -> ok
#   redirect        curl of a host routed through the egress gateway: the gateway answers -> ok
ML_GW=10.99.0.3
ML_LEARNED=203.0.113.200   # learned.example.com, resolved once before the load
ML_NAMES=400

mixed_load_setup() {
  lab_workload production/web >/dev/null
  ip -n "$LAB-wl" addr add "$ML_GW/24" dev "$LAB-p"
  # The gateway: answers "via-gateway", so a connection that was not
  # redirected (nginx answers "hello") is told apart.
  cat > "$LAB_DIR/gw.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"via-gateway\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], 80), H).serve_forever()
PY
  ip netns exec "$LAB-wl" python3 "$LAB_DIR/gw.py" "$ML_GW" &
  local i
  for i in $(seq 1 100); do
    [ "$(ip netns exec "$LAB-wl" curl -s -m 1 "http://$ML_GW/")" = via-gateway ] && break
    sleep 0.1
  done
  local records=() addrs=("$ML_LEARNED") ip
  for i in $(seq 1 "$ML_NAMES"); do
    ip="203.0.$(( 114 + i / 250 )).$(( 1 + i % 250 ))"
    addrs+=("$ip")
    records+=("--host-record=n$i.learn.example.com,$ip")
  done
  lab_external_addr "${addrs[@]}"
  lab_start_dnsmasq --local-ttl=300 --host-record=learned.example.com,$ML_LEARNED "${records[@]}" || return 1
  e2e_registry_only production/web
  e2e_policy load.yaml <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.10]
  ports: [{number: 8080, name: http, protocol: HTTP}, {number: 5353, name: udp, protocol: UDP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: learn, namespace: production}
spec:
  hosts: ["*.learn.example.com", learned.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: $ML_GW
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 198.51.100.20}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: external-api-gateway, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [api.external-service.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, external-api-gateway]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]
YAML
  # Bulk: a policy of a realistic size makes the first sync take a while.
  local bulk="" n
  for n in $(seq 1 "${ML_BULK:-500}"); do
    bulk+="---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bulk-$n, namespace: production}
spec:
  hosts: [bulk-$n.example.org]
  addresses: [10.$(( 100 + n / 65536 )).$(( n / 256 % 256 )).$(( n % 256 ))]
  ports: [{number: 443, name: https, protocol: HTTPS}]
"
  done
  e2e_policy bulk.yaml <<<"$bulk"
}

# One loop: mixed_load_loop KIND EXPECTED CMD...; CMD prints the result.
mixed_load_loop() {
  local kind=$1 expected=$2
  shift 2
  while [ ! -f "$LAB_DIR/load-stop" ]; do
    echo "$kind $expected $("$@" 2>&1 | head -c 200 | tr '\n' ' ' | sed 's/ *$//')"
  done >> "$LAB_DIR/load-$kind"
}

ml_probe() { lab_exec production/web "$EGRESSD_BIN/egressd_probe" "$@"; }
ml_curl() { lab_exec production/web curl -sS -m 3 "$@"; }
ml_dns_new() {
  local i=$(( $(cat "$LAB_DIR/load-next" 2>/dev/null || echo 0) + 1 ))
  echo "$i" > "$LAB_DIR/load-next"
  [ "$i" -le "$ML_NAMES" ] || { echo "out of names"; return; }
  ml_curl "http://n$i.learn.example.com/" | cut -c1-5
}
ml_redirect() { ml_curl --resolve api.external-service.com:80:198.51.100.20 http://api.external-service.com/; }

mixed_load_start() {
  # Learned before the load: later connects use the address without resolving.
  local got
  got=$(ml_curl http://learned.example.com/ | cut -c1-5)
  [ "$got" = hello ] || e2e_fail "learned.example.com before the load: $got"
  rm -f "$LAB_DIR"/load-*
  ML_PIDS=()
  mixed_load_loop tcp_allow ok ml_probe connect 192.0.2.10 8080 & ML_PIDS+=($!)
  mixed_load_loop tcp_deny EPERM ml_probe connect 198.51.100.20 8080 & ML_PIDS+=($!)
  mixed_load_loop udp_conn_allow ok ml_probe udpconnect 192.0.2.10 5353 & ML_PIDS+=($!)
  mixed_load_loop udp_conn_deny EPERM ml_probe udpconnect 198.51.100.20 5353 & ML_PIDS+=($!)
  mixed_load_loop udp_sendto_deny EPERM ml_probe sendto 198.51.100.20 5353 & ML_PIDS+=($!)
  mixed_load_loop dns_new hello ml_dns_new & ML_PIDS+=($!)
  mixed_load_loop dns_learned ok ml_probe connect "$ML_LEARNED" 80 & ML_PIDS+=($!)
  mixed_load_loop redirect via-gateway ml_redirect & ML_PIDS+=($!)
}

mixed_load_stop() {
  touch "$LAB_DIR/load-stop"
  wait "${ML_PIDS[@]}"
}

mixed_load_check() {
  local min=$1 kind total wrong all=0 all_wrong=0
  for kind in tcp_allow tcp_deny udp_conn_allow udp_conn_deny udp_sendto_deny dns_new dns_learned redirect; do
    total=$(wc -l < "$LAB_DIR/load-$kind" 2>/dev/null || echo 0)
    wrong=$(awk '$2 != $3' "$LAB_DIR/load-$kind" 2>/dev/null | wc -l)
    all=$((all + total))
    all_wrong=$((all_wrong + wrong))
    echo "  $kind: $total attempts, $wrong wrong"
    if [ "$wrong" -gt 0 ]; then
      e2e_fail "$kind: $wrong wrong of $total (attempts $(awk '$2 != $3 { printf "%s%d", sep, NR; sep = "," }' "$LAB_DIR/load-$kind")): $(awk '$2 != $3 { $1 = ""; print }' "$LAB_DIR/load-$kind" | sort | uniq -c | head -3 | tr '\n' ';')"
    elif [ "$total" -lt "$min" ]; then
      e2e_fail "$kind: only $total attempts (want >= $min)"
    fi
  done
  [ "$all_wrong" -eq 0 ] && e2e_ok "mixed load: $all attempts, 0 wrong"
}
