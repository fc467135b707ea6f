// explain with the dns_learned entry the agent read: the kernel's step 5b
// (bpf/lib/policy.h egressd_learned_allows) replayed on the compiled maps,
// expiry as the kernel reads it (expires_ns <= now: ignored), the host and
// TTL in the reason; and the host classes a name is learned under.
#include <gtest/gtest.h>

#include "compiler_test_util.h"

namespace egressd::compiler {
namespace {
using namespace testing;

constexpr const char* kPolicy = R"(
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named, namespace: production}
spec:
  hosts: [api.example.com, "*.cdn.example.net"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: internal, namespace: production}
spec:
  hosts: [internal.example.org]
  exportTo: ["."]
  ports: [{number: 8443, name: tls, protocol: TLS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: production}
spec:
  hosts: [static.example.org]
  addresses: [198.51.100.0/24]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints: [{address: 198.51.100.1}]
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: /web}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging, labels: {egressd.io/audit: "true"}}
spec: {cgroup: /app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: job, namespace: staging}
spec: {cgroup: /job}
)";

uint32_t classOf(const CompileOutput& out, const std::string& host) {
  for (const auto& [id, text] : out.host_classes) {
    if (text == host) return id;
  }
  ADD_FAILURE() << "no host class " << host;
  return 0;
}

constexpr uint64_t kNow = 1000ull * 1000000000ull;  // CLOCK_BOOTTIME at the read

struct LearnedCase {
  std::string description;
  std::string workload;
  std::string ip;
  uint16_t port;
  uint8_t protocol;
  std::optional<std::vector<std::string>> learned_hosts;  // nullopt: no dns_learned entry
  int64_t expires_in_s;                                    // relative to kNow
  egressd_verdict verdict;
  egressd_reason reason;
  std::optional<std::string> service_entry;
  std::string detail_has;  // "" = not checked
};

const std::vector<LearnedCase> kCases = {
    {"learned for an allowed host", "production/web", "203.0.113.7", 443, kTcp, {{"api.example.com"}}, 30,
     kAllowed, EGRESSD_REASON_DNS_LEARNED, "production/named",
     "203.0.113.7 learned from a DNS answer for api.example.com, expires in 30s"},
    {"not learned", "production/web", "203.0.113.7", 443, kTcp, std::nullopt, 0, kDenied, kNotInRegistry,
     std::nullopt, "REGISTRY_ONLY denies"},
    {"expired a while ago: the kernel ignores it", "production/web", "203.0.113.7", 443, kTcp,
     {{"api.example.com"}}, -5, kDenied, kNotInRegistry, std::nullopt, "expired 5s ago: the kernel ignores it"},
    {"expires exactly now: expired (expires_ns <= now)", "production/web", "203.0.113.7", 443, kTcp,
     {{"api.example.com"}}, 0, kDenied, kNotInRegistry, std::nullopt, "expired 0s ago"},
    {"learned, but not the entry's port", "production/web", "203.0.113.7", 80, kTcp, {{"api.example.com"}}, 30,
     kDenied, kNotInRegistry, std::nullopt, "none of these hosts is open on 80/tcp"},
    {"learned, UDP on a TCP port", "production/web", "203.0.113.7", 443, kUdp, {{"api.example.com"}}, 30, kDenied,
     kNotInRegistry, std::nullopt, ""},
    {"learned under a wildcard", "production/web", "203.0.113.8", 443, kTcp, {{"*.cdn.example.net"}}, 60, kAllowed,
     EGRESSD_REASON_DNS_LEARNED, "production/named", "for *.cdn.example.net"},
    {"host exported to its own namespace only: allowed there", "production/web", "203.0.113.9", 8443, kTcp,
     {{"internal.example.org"}}, 60, kAllowed, EGRESSD_REASON_DNS_LEARNED, "production/internal", ""},
    {"...and not in another scope", "staging/job", "203.0.113.9", 8443, kTcp, {{"internal.example.org"}}, 60,
     kDenied, kNotInRegistry, std::nullopt, "none of these hosts is open on 8443/tcp"},
    {"the second class decides", "production/web", "203.0.113.9", 443, kTcp,
     {{"internal.example.org", "api.example.com"}}, 60, kAllowed, EGRESSD_REASON_DNS_LEARNED, "production/named",
     "for internal.example.org, api.example.com"},
    {"a static prefix decides before the learned entry", "production/web", "198.51.100.1", 443, kTcp,
     {{"api.example.com"}}, 60, kAllowed, kMatch, "production/static", ""},
    {"audit workload, learned but expired: audit", "staging/app", "203.0.113.7", 443, kTcp, {{"api.example.com"}},
     -1, EGRESSD_VERDICT_AUDIT, kNotInRegistry, std::nullopt, "audit mode"},
    {"audit workload, learned and live: allowed, not audit", "staging/app", "203.0.113.7", 443, kTcp,
     {{"api.example.com"}}, 10, kAllowed, EGRESSD_REASON_DNS_LEARNED, "production/named", ""},
};

TEST(CompilerExplainLearned, MatchesTheKernel) {
  const auto out = compileYaml(kPolicy).out;
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.description);
    std::optional<LearnedEntry> learned;
    if (c.learned_hosts) {
      learned = LearnedEntry{};
      for (size_t i = 0; i < c.learned_hosts->size(); ++i) learned->class_ids[i] = classOf(out, (*c.learned_hosts)[i]);
      learned->now_ns = kNow;
      learned->expires_ns = static_cast<uint64_t>(static_cast<int64_t>(kNow) + c.expires_in_s * 1000000000);
    }
    auto ex = explainConnection(out, c.workload, c.ip, c.port, c.protocol, learned);
    ASSERT_TRUE(ex.ok()) << ex.error();
    EXPECT_EQ(ex->verdict, c.verdict) << ex->detail;
    EXPECT_EQ(ex->reason, c.reason) << ex->detail;
    EXPECT_EQ(ex->service_entry, c.service_entry) << ex->detail;
    if (!c.detail_has.empty()) {
      EXPECT_NE(ex->detail.find(c.detail_has), std::string::npos) << ex->detail;
    }
    ASSERT_EQ(ex->learned.has_value(), c.learned_hosts.has_value());
    if (ex->learned) {
      EXPECT_EQ(ex->learned->hosts, *c.learned_hosts);
      EXPECT_EQ(ex->learned->expires_in_s, c.expires_in_s);
      EXPECT_EQ(ex->learned->expired, c.expires_in_s <= 0);
      EXPECT_EQ(ex->learned->decided, c.reason == EGRESSD_REASON_DNS_LEARNED);
    }
  }
}

TEST(CompilerExplainLearned, RemovedHostClassIsNamedAndAllowsNothing) {
  const auto out = compileYaml(kPolicy).out;
  LearnedEntry learned;
  learned.class_ids = {12345, 0, 0, 0};
  learned.now_ns = kNow;
  learned.expires_ns = kNow + 5000000000ull;
  auto ex = explainConnection(out, "production/web", "203.0.113.7", 443, kTcp, learned);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->verdict, kDenied);
  ASSERT_TRUE(ex->learned);
  EXPECT_EQ(ex->learned->hosts, std::vector<std::string>{"(removed host 12345)"});
}

// A DNS-resolved host routed via the egress gateway: the learned IP is
// redirected, as the kernel does for the host class's redirect bit.
TEST(CompilerExplainLearned, LearnedHostRoutedThroughTheGateway) {
  const auto out = compileYaml(R"(
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: 10.96.0.50
  ports: [{name: https, port: 443}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
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
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: production}
spec: {cgroup: /app}
)").out;
  LearnedEntry learned;
  learned.class_ids = {classOf(out, "api.external-service.com"), 0, 0, 0};
  learned.now_ns = kNow;
  learned.expires_ns = kNow + 20000000000ull;
  auto ex = explainConnection(out, "production/app", "203.0.113.20", 443, kTcp, learned);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->verdict, EGRESSD_VERDICT_REDIRECTED) << ex->detail;
  EXPECT_EQ(ex->reason, EGRESSD_REASON_GATEWAY_ROUTE);
  EXPECT_EQ(ex->service_entry, "production/external-api");
  EXPECT_NE(ex->detail.find("api.external-service.com, expires in 20s"), std::string::npos) << ex->detail;
  EXPECT_NE(ex->detail.find("10.96.0.50:443"), std::string::npos) << ex->detail;
  ASSERT_TRUE(ex->learned);
  EXPECT_TRUE(ex->learned->decided);
}

TEST(CompilerExplainLearned, HostClassesForAName) {
  const auto out = compileYaml(kPolicy).out;
  const uint32_t api = classOf(out, "api.example.com");
  const uint32_t cdn = classOf(out, "*.cdn.example.net");
  const struct {
    std::string host;
    std::vector<uint32_t> classes;
  } rows[] = {
      {"api.example.com", {api}},
      {"API.Example.com.", {api}},          // case and trailing dot ignored
      {"edge.cdn.example.net", {cdn}},      // wildcard
      {"a.b.cdn.example.net", {cdn}},       // any depth
      {"cdn.example.net", {}},              // never the apex
      {"xcdn.example.net", {}},             // a label boundary, not a string suffix
      {"other.example.com", {}},
      {"localhost", {}},                    // never learned
  };
  for (const auto& r : rows) EXPECT_EQ(hostClassesFor(out, r.host), r.classes) << r.host;
}

TEST(CompilerExplainLearned, WorkloadScopeId) {
  const auto out = compileYaml(kPolicy).out;
  const auto web = workloadScopeId(out, "production/web");
  ASSERT_TRUE(web);
  EXPECT_EQ(*web, scopeOf(out, "production/web")->id);
  EXPECT_FALSE(workloadScopeId(out, "production/nope"));
}

// The kernel audits every denial of an audit workload, whatever the reason.
TEST(CompilerExplainLearned, AuditCoversEveryDenial) {
  auto out = compileYaml(kPolicy).out;
  const auto cgroup = out.workload_cgroups.at("staging/app");
  const uint32_t scope = out.desired.workloads.at(egressd_workload_key{cgroup}).scope_id;
  out.desired.scopes.erase(scope);  // a racing or corrupt state: UNKNOWN_SCOPE
  auto ex = explainConnection(out, "staging/app", "203.0.113.7", 443, kTcp);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->reason, EGRESSD_REASON_UNKNOWN_SCOPE);
  EXPECT_EQ(ex->verdict, EGRESSD_VERDICT_AUDIT) << ex->detail;
}

}  // namespace
}  // namespace egressd::compiler
