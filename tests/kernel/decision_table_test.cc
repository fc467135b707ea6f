// The decision order (docs/ARCHITECTURE.md "The decision") through the real
// programs, against `egressctl explain`. One policy written as Istio YAML is
// parsed, compiled and synced; real sockets of four workloads probe one row
// per step of the order. Each row is checked three ways, and any difference
// fails: the table's verdict and reason, the kernel (the socket's errno, the
// peer a redirected connection reached, and which verdict counter moved:
// that is the kernel's reason), and explainConnection() on the same compile.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include "compiler/compiler.h"
#include "kernel/datapath_fixture.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "sync/map_sync.h"

namespace egressd::ktest {
namespace {

// Addresses are the probe namespace's own (socket_probe.h), so an allowed
// connect reaches a listener. 203.0.113.0/24 is the cluster CIDR, the
// trusted resolver is 198.51.100.1:53, the egress gateway's Service is
// 203.0.113.1:15443.
constexpr const char* kPolicy = R"(
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: audited, labels: {egressd.io/audit: "true"}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: open}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: range, namespace: production}
spec:
  hosts: [range.example.com]
  addresses: [192.0.2.0/24]
  ports: [{number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: routed, namespace: production}
spec:
  hosts: [api.external-service.com]
  addresses: [192.0.2.200/32]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.200}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: datagrams, namespace: production}
spec:
  hosts: [udp.example.com]
  addresses: [198.51.100.1/32]
  ports: [{number: 5353, name: udp, protocol: UDP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: six, namespace: production}
spec:
  hosts: [six.example.com]
  addresses: ["2001:db8::/64"]
  ports: [{number: 8080, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named, namespace: production}
spec:
  hosts: [learned.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: 203.0.113.1
  ports: [{name: tls, port: 15443}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: [api.external-service.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-gateway, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, egress]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [api.external-service.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 15443}}}]
)";

constexpr const char* kLearnedIp = "2001:db8:1::1";  // learned for learned.example.com by production
constexpr uint16_t kGatewayPort = 15443;

struct Row {
  const char* workload;
  int family;
  int type;
  const char* addr;
  uint16_t port;
  egressd_verdict verdict;
  egressd_reason reason;
  const char* why;
};

constexpr int kTcp = SOCK_STREAM;
constexpr int kUdp = SOCK_DGRAM;

// In decision order.
const Row kRows[] = {
    {"production/app", AF_INET, kTcp, "127.0.0.1", 9, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_LOOPBACK,
     "2. loopback, before any map"},
    {"production/app", AF_INET, kTcp, "203.0.113.7", 9999, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_ALWAYS_ALLOWED,
     "3. cluster CIDR, any port"},
    {"production/app", AF_INET, kUdp, "198.51.100.1", 53, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_ALWAYS_ALLOWED,
     "3. the trusted resolver on its port"},
    {"production/app", AF_INET, kUdp, "198.51.100.1", 54, EGRESSD_VERDICT_DENIED, EGRESSD_REASON_NOT_IN_REGISTRY,
     "8. the resolver, another port"},
    {"production/app", AF_INET, kTcp, "192.0.2.200", 443, EGRESSD_VERDICT_REDIRECTED, EGRESSD_REASON_GATEWAY_ROUTE,
     "5. a VirtualService routes the host's port through the egress gateway"},
    {"production/app", AF_INET, kTcp, "192.0.2.200", 80, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. longest prefix: the /32 carries the covering /24's port 80"},
    {"production/app", AF_INET, kTcp, kNetA, 443, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. a CIDR entry's TCP port"},
    {"production/app", AF_INET6, kTcp, "::ffff:192.0.2.1", 443, EGRESSD_VERDICT_ALLOWED,
     EGRESSD_REASON_REGISTRY_MATCH, "5. the same, v4-mapped on an AF_INET6 socket"},
    {"production/app", AF_INET, kTcp, kNetA, 8443, EGRESSD_VERDICT_DENIED, EGRESSD_REASON_NOT_IN_REGISTRY,
     "8. a registered address, a port no entry opens"},
    {"production/app", AF_INET, kUdp, kNetA, 443, EGRESSD_VERDICT_DENIED, EGRESSD_REASON_NOT_IN_REGISTRY,
     "8. a TLS port is TCP only"},
    {"production/app", AF_INET, kUdp, "198.51.100.1", 5353, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. a UDP entry"},
    {"production/app", AF_INET6, kTcp, kNet6, 8080, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. an IPv6 range"},
    {"production/app", AF_INET6, kTcp, kLearnedIp, 443, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_DNS_LEARNED,
     "6. learned from a DNS answer for the entry's host"},
    {"production/app", AF_INET6, kTcp, kLearnedIp, 80, EGRESSD_VERDICT_DENIED, EGRESSD_REASON_NOT_IN_REGISTRY,
     "8. learned, but the host has no port 80"},
    {"open/app", AF_INET6, kTcp, kLearnedIp, 80, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_ALLOW_ANY,
     "8. nothing matches; the Sidecar's ALLOW_ANY"},
    {"open/app", AF_INET, kTcp, kNetA, 443, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. ALLOW_ANY still matches the registry first"},
    {"audited/app", AF_INET, kTcp, kNetA, 8443, EGRESSD_VERDICT_AUDIT, EGRESSD_REASON_NOT_IN_REGISTRY,
     "after 8: a denial in an audited namespace passes, recorded as audit"},
    {"audited/app", AF_INET, kTcp, kNetA, 443, EGRESSD_VERDICT_ALLOWED, EGRESSD_REASON_REGISTRY_MATCH,
     "5. audit changes nothing that is allowed"},
    {"istio-system/egressgateway", AF_INET, kTcp, "192.0.2.200", 443, EGRESSD_VERDICT_ALLOWED,
     EGRESSD_REASON_REGISTRY_MATCH, "5. the gateway itself is never redirected"},
    {"istio-system/egressgateway", AF_INET6, kTcp, kLearnedIp, 80, EGRESSD_VERDICT_ALLOWED,
     EGRESSD_REASON_GATEWAY_WORKLOAD, "7. the gateway is exempt from REGISTRY_ONLY"},
};

class DecisionTableTest : public DatapathTest {
 protected:
  // Every (hook, reason) verdict counter, summed over CPUs.
  std::map<std::pair<int, int>, egressd_counter> counters() {
    std::map<std::pair<int, int>, egressd_counter> out;
    for (int hook = 0; hook < EGRESSD_HOOK_COUNT; ++hook) {
      for (int reason = 0; reason < EGRESSD_REASON_COUNT; ++reason) {
        out[{hook, reason}] = counter(static_cast<egressd_hook>(hook), static_cast<egressd_reason>(reason));
      }
    }
    return out;
  }
};

TEST_F(DecisionTableTest, KernelAndExplainDecideEveryStepAlike) {
  std::string yaml = kPolicy;
  std::map<std::string, uint64_t> cgroups;
  std::map<std::string, std::string> dirs;
  const std::map<std::string, std::string> labels = {{"istio-system/egressgateway", "{istio: egressgateway}"}};
  for (const char* workload : {"production/app", "open/app", "audited/app", "istio-system/egressgateway"}) {
    const std::string w = workload;
    const std::string ns = w.substr(0, w.find('/')), name = w.substr(w.find('/') + 1);
    const std::string dir = tree_->make("w-" + ns);
    auto id = bpf::cgroupIdOf(dir);
    ASSERT_TRUE(id.ok()) << id.error();
    cgroups[w] = *id;
    dirs[w] = dir;
    yaml += "---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: " + name + ", namespace: " + ns +
            (labels.count(w) ? ", labels: " + labels.at(w) : "") + "}\nspec: {cgroup: " + dir + "}\n";
  }
  const auto parsed = policy::parseYaml(yaml, "decision-table.yaml");
  ASSERT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;
  policy::PolicyStore store;
  store.apply(parsed);
  compiler::CompileOptions options;
  options.cluster_cidrs = {"203.0.113.0/24"};
  options.dns_servers = {{"198.51.100.1", 53}};
  const compiler::CompileOutput compiled = compiler::compilePolicy(store.snapshot(), cgroups, options, {});
  ASSERT_TRUE(compiled.errors.empty()) << compiled.errors.front();
  const auto report = syncMaps(datapath_->maps(), compiled.desired);
  ASSERT_TRUE(report.errors.empty()) << report.errors.front();

  // production learned kLearnedIp for learned.example.com, as dns_learn.h writes it.
  const auto classes = compiler::hostClassesFor(compiled, "learned.example.com");
  ASSERT_EQ(classes.size(), 1u);
  const auto production_scope = compiler::workloadScopeId(compiled, "production/app");
  ASSERT_TRUE(production_scope.has_value());
  egressd_dns_learned_key key{};
  key.scope_id = *production_scope;
  ASSERT_EQ(inet_pton(AF_INET6, kLearnedIp, key.addr), 1);
  egressd_dns_learned_value value{};
  value.class_ids[0] = classes[0];
  value.expires_ns = bootNs() + 600ull * 1000000000ull;
  ASSERT_TRUE(datapath_->putDnsLearned(key, value).ok());
  compiler::LearnedEntry learned;
  learned.class_ids[0] = classes[0];
  learned.expires_ns = value.expires_ns;

  for (const Row& row : kRows) {
    SCOPED_TRACE(std::string(row.workload) + " -> " + row.addr + ":" + std::to_string(row.port) +
                 (row.type == kUdp ? "/udp" : "/tcp") + " (" + row.why + ")");
    // explain, with the learned entry where the kernel holds one for this scope.
    const auto scope = compiler::workloadScopeId(compiled, row.workload);
    std::optional<compiler::LearnedEntry> entry;
    if (scope == production_scope && std::string(row.addr) == kLearnedIp) {
      entry = learned;
      entry->now_ns = bootNs();
    }
    const auto explained = compiler::explainConnection(compiled, row.workload, row.addr, row.port,
                                                       row.type == kUdp ? IPPROTO_UDP : IPPROTO_TCP, entry);
    ASSERT_TRUE(explained.ok()) << explained.error();
    EXPECT_EQ(explained->verdict, row.verdict) << "explain: " << explained->detail;
    EXPECT_EQ(explained->reason, row.reason) << "explain: " << explained->detail;

    // The kernel: a redirect must land on the gateway's listener with
    // getpeername() unchanged; anything else is an errno (EPERM: denied).
    Probe probe{row.family, row.type, row.addr, row.port};
    if (row.verdict == EGRESSD_VERDICT_REDIRECTED) {
      probe.op = Op::kPeername;
      probe.via_port = kGatewayPort;
      probe.expect_via = true;
    }
    const auto before = counters();
    const auto run = runProbes(dirs.at(row.workload), {probe});
    ASSERT_TRUE(run.error.empty()) << run.error;
    const int got = run.errnos[0];
    const bool kernel_denied = got == EPERM;
    EXPECT_EQ(kernel_denied, row.verdict == EGRESSD_VERDICT_DENIED) << "kernel: " << std::strerror(got);
    if (row.verdict == EGRESSD_VERDICT_REDIRECTED) {
      EXPECT_EQ(got, 0) << "kernel: " << std::strerror(got);
    }

    // Exactly one verdict counter moved, by one: the kernel's reason, in the
    // allowed slot unless denied (audit counts as allowed).
    const auto after = counters();
    std::vector<std::string> moved;
    for (const auto& [cell, count] : after) {
      const auto& old = before.at(cell);
      const uint64_t allowed = count.allowed - old.allowed, denied = count.denied - old.denied;
      if (allowed || denied) {
        moved.push_back("hook " + std::to_string(cell.first) + " reason " + std::to_string(cell.second) +
                        (allowed ? " allowed+" + std::to_string(allowed) : "") +
                        (denied ? " denied+" + std::to_string(denied) : ""));
        EXPECT_EQ(cell.second, row.reason) << "the kernel decided by another reason: " << moved.back();
        EXPECT_EQ(allowed + denied, 1u) << moved.back();
        EXPECT_EQ(denied != 0, row.verdict == EGRESSD_VERDICT_DENIED) << moved.back();
      }
    }
    EXPECT_EQ(moved.size(), 1u) << "counters moved: " << ::testing::PrintToString(moved);
  }
}

}  // namespace
}  // namespace egressd::ktest
