# Learned IPs expire at the clamped TTL (established connections live on),
# and learning keeps working while the agent is stopped.
lab_workload production/web >/dev/null
lab_external_addr 192.0.2.31 192.0.2.32
lab_start_dnsmasq --local-ttl=60 \
  --host-record=short.example.org,192.0.2.31 \
  --host-record=later.example.org,192.0.2.32 || { e2e_fail "dnsmasq"; return; }
e2e_registry_only production/web
e2e_policy entries.yaml <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named, namespace: production}
spec:
  hosts: ["*.example.org"]
  ports: [{number: 80, name: http, protocol: HTTP}]
YAML
# The record says 60 s; --dns-max-ttl 2 makes it 2 s.
e2e_start_agent --dns-min-ttl 1 --dns-max-ttl 2 || return

# An established connection outlives the entry: connect now, talk after expiry.
lab_exec production/web python3 -c '
import socket, time
addr = socket.getaddrinfo("short.example.org", 80, socket.AF_INET)[0][4]
s = socket.create_connection(addr, timeout=3)
print("connected", flush=True)
time.sleep(3)
s.sendall(b"GET / HTTP/1.0\r\nHost: short.example.org\r\n\r\n")
print("established:", s.recv(200).decode().split("\r\n")[0])
' > "$LAB_DIR/established.out" 2>&1 &
held=$!
# The probe must come after the resolve (a loaded machine starts python slowly).
for _ in $(seq 1 100); do grep -q '^connected' "$LAB_DIR/established.out" 2>/dev/null && break; sleep 0.05; done
expect_probe production/web connect 192.0.2.31 80 ok
sleep 3
expect_probe production/web connect 192.0.2.31 80 EPERM                  # expired after 2 s
wait $held
if grep -q "established: HTTP/1.1 200" "$LAB_DIR/established.out"; then
  e2e_ok "connection made before expiry still works after it"
else
  e2e_fail "held connection: $(cat "$LAB_DIR/established.out")"
fi
expect_http production/web http://short.example.org/                      # resolving again re-learns

# Learning is in the kernel: it works with the agent stopped.
e2e_stop_agent
expect_http production/web http://later.example.org/
