# REGISTRY_ONLY: a ServiceEntry's addresses x ports are reachable, nothing
# else is; IPv4, IPv6, v4-mapped IPv6, TCP and UDP (connect and sendto).
lab_workload production/web >/dev/null
e2e_policy mesh.yaml <<'YAML'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
YAML
e2e_policy policy.yaml <<'YAML'
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production, labels: {app: web}}
spec: {cgroup: production/web}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: partner-api, namespace: production}
spec:
  hosts: [partner.example.com]
  addresses: [192.0.2.0/24, "2001:db8::/64"]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 5353, name: udp-sync, protocol: UDP}
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
  - address: 192.0.2.10
YAML
e2e_start_agent --cluster-cidr 203.0.113.0/24 || return

expect_http production/web http://192.0.2.10/
expect_http production/web "http://[2001:db8::10]/"
expect_probe production/web connect 192.0.2.10 80 ok --v4mapped        # v4-mapped on an AF_INET6 socket
expect_probe production/web connect 192.0.2.10 8080 EPERM            # port not listed
expect_probe production/web connect 198.51.100.20 80 EPERM           # address not listed
expect_probe production/web connect 2001:db8:1::20 80 EPERM          # outside the /64
expect_probe production/web connect 198.51.100.20 80 EPERM --v4mapped
expect_probe production/web sendto 192.0.2.10 5353 ok                # UDP port listed
expect_probe production/web sendto 192.0.2.10 80 EPERM               # TCP port, not UDP
expect_probe production/web sendto 198.51.100.20 5353 EPERM
expect_probe production/web sendto 2001:db8::10 5353 ok
expect_probe production/web udpconnect 198.51.100.20 5353 EPERM
expect_probe production/web sendto "$LAB_RESOLVER" 53 ok             # trusted resolver
expect_probe production/web connect 127.0.0.1 9 ECONNREFUSED         # loopback
expect_probe production/web connect 203.0.113.30 8080 ok             # --cluster-cidr, any port
expect_probe production/web sendto 203.0.113.30 9999 ok              # ... and UDP
lab_workload unmanaged >/dev/null
expect_probe unmanaged connect 198.51.100.20 80 ok                   # not a workload: untouched
expect_metric '^egressd_verdicts_total\{hook="connect4",verdict="denied",reason="not_in_registry"\} [1-9]'
expect_metric '^egressd_policy_generation [1-9]'
