# The seed's egress gateway setup without sidecars: a real SNI/Host-routing
# gateway (nginx stream ssl_preread + http proxy) runs as the gateway
# workload; the app's connections to the routed host are rewritten to it at
# connect() (the external server sees the gateway's address, the gateway sees
# the app's SNI/Host, getpeername is the original); the gateway's own upstream
# is not redirected; a host without a route goes direct; unregistered stays denied.
GW=10.99.0.3   # the gateway Service's clusterIP: the gateway's own address in the lab
lab_workload production/app >/dev/null
lab_workload istio-system/egressgateway >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
YAML
e2e_policy workloads.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: production, labels: {app: web}}
spec: {cgroup: production/app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: egressgateway, namespace: istio-system, labels: {istio: egressgateway}}
spec: {cgroup: istio-system/egressgateway}
YAML
e2e_policy gateway.yaml <<YAML
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: $GW
  ports: [{name: https, port: 443}, {name: http, port: 80}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: direct, namespace: production}
spec:
  hosts: [direct.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints: [{address: 198.51.100.20}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: external-api-gateway, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [api.external-service.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [api.external-service.com]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, external-api-gateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [api.external-service.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]
YAML
e2e_start_agent || return
lab_start_gateway "$GW" || { e2e_fail "gateway nginx"; return; }

ext_log="$LAB_DIR/nginx/access.log"
last_remote() { tail -n 1 "$ext_log" | cut -d' ' -f1; }
expect_remote() {  # WHAT EXPECTED_ADDR
  local got; got=$(last_remote)
  if [ "$got" = "$2" ]; then e2e_ok "$1: external server saw $got"; else e2e_fail "$1: external server saw $got, expected $2"; fi
}
curl_ok() {  # WORKLOAD CURL_ARG...: nginx's answer through whatever path the kernel chose
  local workload=$1 body; shift
  if body=$(lab_exec "$workload" curl -sS -k -m 3 "$@" 2>&1) && [[ "$body" == hello* ]]; then
    e2e_ok "$workload curl $* -> $body"
  else
    e2e_fail "$workload curl $*: $body"
  fi
}
expect_in_log() {  # FILE PATTERN WHAT
  if grep -q -- "$2" "$1" 2>/dev/null; then e2e_ok "$3"; else e2e_fail "$3: no /$2/ in $(basename "$1"): $(tail -n 3 "$1" 2>/dev/null)"; fi
}

curl_ok production/app --resolve api.external-service.com:443:192.0.2.10 https://api.external-service.com/
expect_remote "TLS via gateway" "$GW"
expect_in_log "$LAB_DIR/gw/stream.log" "10.99.0.2 sni=api.external-service.com" "gateway saw the app's SNI"
curl_ok production/app --resolve api.external-service.com:80:192.0.2.10 http://api.external-service.com/
expect_remote "HTTP via gateway" "$GW"
expect_in_log "$LAB_DIR/gw/http.log" "host=api.external-service.com" "gateway saw the app's Host"
expect_probe production/app peername 192.0.2.10 443 "192.0.2.10 443"        # getpeername is transparent
expect_probe production/app peername 192.0.2.10 443 "::ffff:192.0.2.10 443" --v4mapped
curl_ok production/app --resolve direct.example.com:443:198.51.100.20 https://direct.example.com/
expect_remote "host without a route goes direct" 10.99.0.2
expect_probe production/app connect 203.0.113.30 443 EPERM                  # unregistered stays denied
expect_probe production/app connect 192.0.2.10 8080 EPERM                   # registered host, other port
# The gateway's own upstream: direct (no loop), and exempt from REGISTRY_ONLY.
lab_exec istio-system/egressgateway curl -sS -k -m 3 --resolve api.external-service.com:443:192.0.2.10 \
  https://api.external-service.com/ >/dev/null && expect_remote "gateway's upstream not redirected" 10.99.0.2
expect_probe istio-system/egressgateway connect 203.0.113.30 443 ok
expect_metric 'egressd_verdicts_total\{.*reason="gateway_route".*\} [1-9]'
# explain --sni: what a sidecar routing on the SNI would do, next to the kernel.
sni_is() {  # sni_is TO SNI JQ-TEST: the explain JSON must pass the jq test
  local out
  out=$(egressctl -o json explain --workload production/app --to "$1" --sni "$2")
  if jq -e "$3" <<<"$out" >/dev/null; then e2e_ok "explain --to $1 --sni $2: $(jq -r .sni.detail <<<"$out")"
  else e2e_fail "explain --to $1 --sni $2: $out"; fi
}
sni_is 192.0.2.10:443 api.external-service.com \
  '.verdict == "redirected" and .sni.agrees and .sni.gateway_route.virtual_service == "production/external-api-vs"'
sni_is 198.51.100.20:443 api.external-service.com \
  '.verdict == "allowed" and .sni.sidecar_verdict == "redirected" and (.sni.agrees | not)'
sni_is 198.51.100.20:443 evil.example.com \
  '.verdict == "allowed" and .sni.sidecar_verdict == "denied" and (.sni.detail | contains("Register evil.example.com"))'
egressctl explain --workload production/app --to 198.51.100.20:443 --sni evil.example.com | grep -q "DIFFERS from the kernel" &&
  e2e_ok "explain --sni table marks the difference" || e2e_fail "explain --sni table: no DIFFERS"
if err=$(egressctl explain --workload production/app --to 192.0.2.10:443 --sni 192.0.2.10 2>&1); then
  e2e_fail "explain --sni with an address succeeded: $err"
else
  [[ "$err" == *"an SNI is a host name, not an address"* ]] && e2e_ok "explain --sni 192.0.2.10: $err" ||
    e2e_fail "explain --sni 192.0.2.10: $err"
fi
if egressctl policy --workload production/app | grep -q "api.external-service.com:443"; then
  e2e_ok "egressctl policy shows the gateway route"
else
  e2e_fail "egressctl policy: no gateway route"
fi
