# Policy changes are make-before-break. web connects in a loop to an allowed
# destination (partner, 192.0.2.10:80) and two denied ones (partner's
# address on another port, an unregistered address) while the policy flips,
# by atomic rename, between shapes that all agree on those three: web's
# Sidecar added and removed (web changes scope), 2,000 ServiceEntries added
# and removed, partner's /24 split into two /25s and merged back, partner
# renamed. Every change is applied (the generation is waited for) before the
# next. Zero wrong verdicts: no EPERM on the allowed one, no connect to a
# denied one, no hung connect.
# Then a name web learned from DNS survives its scope changing to one that
# still allows the name (and is dropped for one that does not).
lab_workload production/web >/dev/null
lab_workload production/api >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production, labels: {app: web}}
spec: {cgroup: production/web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: api, namespace: production, labels: {app: api}}
spec: {cgroup: production/api}
YAML
FLIPS=${E2E_CHURN_FLIPS:-200}
BULK=2000
shapes=$LAB_DIR/shapes
mkdir -p "$shapes"
# One policy file per shape: sidecar (0/1), bulk (0/1), split (0/1), renamed (0/1).
for sidecar in 0 1; do for bulk in 0 1; do for split in 0 1; do for renamed in 0 1; do
  {
    name=partner; [ "$renamed" = 1 ] && name=partner-v2
    addresses='[192.0.2.0/24]'; [ "$split" = 1 ] && addresses='[192.0.2.0/25, 192.0.2.128/25]'
    cat <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: $name, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: $addresses
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
YAML
    if [ "$sidecar" = 1 ]; then cat <<'YAML'
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: production}
spec:
  workloadSelector: {labels: {app: web}}
  egress: [{hosts: ["./*"]}]
YAML
    fi
    if [ "$bulk" = 1 ]; then
      for i in $(seq 1 $BULK); do
        printf -- '---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: bulk-%d, namespace: production}\nspec:\n  hosts: [bulk-%d.example.net]\n  addresses: [203.0.113.%d]\n  ports: [{number: %d, name: tcp, protocol: TCP}]\n  resolution: NONE\n' \
          "$i" "$i" $((i % 250 + 1)) $((10000 + i))
      done
    fi
  } >"$shapes/$sidecar$bulk$split$renamed.yaml"
done; done; done; done
cp "$shapes/0000.yaml" "$E2E_POLICY/churn.yaml"
e2e_start_agent || return
expect_probe production/web connect 192.0.2.10 80 ok
expect_probe production/web connect 192.0.2.10 443 EPERM
expect_probe production/web connect 198.51.100.20 80 EPERM

generation() { curl -sf "http://$E2E_ADMIN/metrics" | awk '/^egressd_policy_generation / { print $2 }'; }
lab_exec production/web "$EGRESSD_BIN/egressd_connect_loop" --stop-file "$LAB_DIR/stop" --timeout-ms 1000 --pause-us 500 \
  allow 192.0.2.10 80 deny 192.0.2.10 443 deny 198.51.100.20 80 >"$LAB_DIR/loop" 2>&1 &
loop=$!
sleep 0.5
# Each flip goes to another shape, chosen so every change kind keeps coming:
# bit k of the shape number toggles on flip numbers where (n >> k) is odd-ish.
current=0000
applied=0
started=$(date +%s.%N)
for n in $(seq 1 "$FLIPS"); do
  next=""
  for bit in 0 1 2 3; do
    b=${current:$bit:1}
    # toggle the bit with probability 1/2 (at least one bit toggles)
    if [ $((RANDOM % 2)) = 1 ]; then b=$((1 - b)); fi
    next+=$b
  done
  [ "$next" = "$current" ] && next=$((1 - ${current:0:1}))${current:1}
  before=$(generation)
  cp "$shapes/$next.yaml" "$E2E_POLICY/.churn.tmp" && mv "$E2E_POLICY/.churn.tmp" "$E2E_POLICY/churn.yaml"
  for t in $(seq 1 500); do
    g=$(generation)
    [ -n "$g" ] && [ "$g" != "$before" ] && break
    sleep 0.01
  done
  [ "$g" != "$before" ] && applied=$((applied + 1))
  echo "$n $current -> $next generation $g $(date +%s.%N)" >>"$LAB_DIR/flips"
  current=$next
done
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
touch "$LAB_DIR/stop"
wait "$loop"
total=$(awk '$1 == "total" { print $3 }' "$LAB_DIR/loop")
wrong=$(awk '$1 == "total" { print $5 }' "$LAB_DIR/loop")
grep '^dest ' "$LAB_DIR/loop" | sed 's/^/  /'
moves=$(awk '{ split($2, a, ""); split($4, b, ""); if (a[1] != b[1]) n++ } END { print n + 0 }' "$LAB_DIR/flips")
# Wrong verdicts 100 ms or more apart: separate windows (changes) that had them.
windows=$(awk '$1 == "wrong" { t = $6; if (n == 0 || t - last >= 100) n++; last = t } END { print n + 0 }' "$LAB_DIR/loop")
echo "  churn: $applied of $FLIPS changes applied in $elapsed s ($moves moved web between scopes); $total connects, ${wrong:-?} wrong, in $windows windows"
[ "$applied" -eq "$FLIPS" ] && e2e_ok "all $FLIPS policy changes applied" || e2e_fail "only $applied of $FLIPS changes applied"
[ "${total:-0}" -gt 0 ] && [ "$wrong" = 0 ] && e2e_ok "zero wrong verdicts over $total connects and $applied changes" ||
  e2e_fail "$wrong wrong verdicts of $total: $(grep '^wrong' "$LAB_DIR/loop" | head -n 5 | tr '\n' ';')"
[ "$moves" -gt 0 ] && e2e_ok "$moves changes moved web to another scope" || e2e_fail "no change moved web"

# A name web learned, across its scope changing. web resolves it once; then
# a Sidecar selects web (a new scope that still imports the entry): the same
# IP passes without a new query. A Sidecar that does not import it: refused.
# The Sidecar gone again: web's namespace scope still has what it learned.
lab_external_addr 203.0.113.77
lab_start_dnsmasq --local-ttl=300 --host-record=app.learned.example.com,203.0.113.77 || { e2e_fail "dnsmasq"; return; }
learned_policy() {
  cat "$shapes/0000.yaml"
  cat <<'YAML'
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: learned, namespace: production}
spec:
  hosts: [app.learned.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
YAML
  [ -n "$1" ] && cat <<YAML
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: production}
spec:
  workloadSelector: {labels: {app: web}}
  egress: [{hosts: $1}]
YAML
}
apply_policy() {
  local before g t
  before=$(generation)
  cat >"$E2E_POLICY/.churn.tmp" && mv "$E2E_POLICY/.churn.tmp" "$E2E_POLICY/churn.yaml"
  for t in $(seq 1 500); do
    g=$(generation)
    [ -n "$g" ] && [ "$g" != "$before" ] && return 0
    sleep 0.01
  done
  e2e_fail "policy change not applied"
}
learned_policy "" | apply_policy
expect_probe production/web connect 203.0.113.77 80 EPERM   # not resolved yet
got=$(lab_exec production/web dig +short app.learned.example.com @"$LAB_RESOLVER")
[ "$got" = 203.0.113.77 ] && e2e_ok "web resolved app.learned.example.com" || e2e_fail "dig: $got"
expect_probe production/web connect 203.0.113.77 80 ok
learned_policy '["./*"]' | apply_policy
expect_probe production/web connect 203.0.113.77 80 ok      # new scope, same name allowed: still learned
expect_probe production/api connect 203.0.113.77 80 ok      # the namespace scope keeps it too
learned_policy '["./partner.example.com"]' | apply_policy
expect_probe production/web connect 203.0.113.77 80 EPERM   # a scope without the name: not carried
expect_probe production/web connect 192.0.2.10 80 ok
learned_policy "" | apply_policy
expect_probe production/web connect 203.0.113.77 80 ok      # back in the namespace scope
queries=$(grep -c 'query\[A\] app.learned.example.com' "$LAB_DIR/dnsmasq.log")
[ "$queries" = 1 ] && e2e_ok "one DNS query in all (no new resolve after the scope changes)" ||
  e2e_fail "$queries queries for app.learned.example.com"
