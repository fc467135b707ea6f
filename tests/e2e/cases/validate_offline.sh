# egressctl validate: no agent, no root. A directory and stdin (a kubectl
# List) are checked as the agent would; each rejection and warning names
# file:line and field; the exit status is non-zero on any rejection.
dir=$(mktemp -d)
chmod 755 "$dir"
cat > "$dir/good.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: production}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
YAML
cat > "$dir/bad.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: production}
spec:
  outboundTrafficPolicy:
    egressProxy: {host: proxy.example.com, port: {number: 3128}}
YAML
chmod 644 "$dir"/*.yaml
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

out=$(as_nobody "$EGRESSD_BIN/egressctl" validate "$dir/good.yaml"); rc=$?
[ $rc -eq 0 ] && grep -q "1 object(s) accepted, 0 rejected" <<<"$out" \
  && e2e_ok "a valid file: exit 0, as nobody, no agent" || e2e_fail "good file: rc=$rc $out"

out=$(as_nobody "$EGRESSD_BIN/egressctl" validate "$dir"); rc=$?
[ $rc -eq 1 ] && grep -q "bad.yaml:6: error: Sidecar production/default: outboundTrafficPolicy.egressProxy can only be set with mode ALLOW_ANY" <<<"$out" \
  && e2e_ok "a directory with a bad object: exit 1, file:line and field named" || e2e_fail "dir: rc=$rc $out"

out=$(as_nobody "$EGRESSD_BIN/egressctl" -o json validate "$dir"); rc=$?
[ $rc -eq 1 ] && jq -e '.rejected[0].line == 6 and .accepted == 1' <<<"$out" >/dev/null \
  && e2e_ok "-o json" || e2e_fail "json: rc=$rc $out"

out=$(printf '%s\n' 'apiVersion: v1' 'kind: List' 'items:' \
  '- {apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: ip, namespace: p}, spec: {hosts: [192.0.2.1], ports: [{number: 443, name: tls, protocol: TLS}]}}' \
  | as_nobody "$EGRESSD_BIN/egressctl" validate -); rc=$?
[ $rc -eq 1 ] && grep -q "^-:4: error: ServiceEntry p/ip: hosts\[0\]" <<<"$out" \
  && e2e_ok "stdin List (kubectl get -o yaml)" || e2e_fail "stdin: rc=$rc $out"
rm -rf "$dir"
