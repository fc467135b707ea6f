// Egress gateway routing, table-driven from Istio's egress gateway tasks
// (istio.io: "Egress Gateways" HTTP and TLS passthrough, "Egress using
// Wildcard Hosts", "Egress Gateways with TLS Origination") and the seed's
// guide: policy YAML + workload -> the routes Istio's sidecar would take.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "compiler/gateway_routing.h"
#include "compiler/scope_selection.h"
#include "policy/describe.h"
#include "policy/parser.h"
#include "policy/policy_store.h"

namespace egressd::compiler {
namespace {

using Labels = std::map<std::string, std::string>;

// The egress gateway as istioctl installs it, plus its Gateway.
constexpr const char* kGatewayService = R"(
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {app: istio-egressgateway, istio: egressgateway}
  clusterIP: 10.96.0.50
  ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
---
)";

// The seed's guide: TLS passthrough through the egress gateway.
constexpr const char* kSeedTlsPassthrough = R"(
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
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
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: external-api-dr, namespace: production}
spec:
  host: api.external-service.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE, sni: api.external-service.com}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, external-api-gateway]
  tls:
  - match:
    - gateways: [mesh]
      port: 443
      sniHosts: [api.external-service.com]
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        port: {number: 443}
  - match:
    - gateways: [external-api-gateway]
      port: 443
      sniHosts: [api.external-service.com]
    route:
    - destination: {host: api.external-service.com, port: {number: 443}}
)";

// istio.io "Egress Gateways": HTTP traffic to edition.cnn.com.
constexpr const char* kHttpCnn = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn, namespace: default}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 80, name: http-port, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [edition.cnn.com]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-cnn, namespace: default}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{name: cnn}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-cnn-through-egress-gateway, namespace: default}
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match:
    - gateways: [mesh]
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port: {number: 80}
      weight: 100
  - match:
    - gateways: [istio-egressgateway]
      port: 80
    route:
    - destination: {host: edition.cnn.com, port: {number: 80}}
      weight: 100
)";

// istio.io "Egress using Wildcard Hosts": one gateway for *.wikipedia.org.
constexpr const char* kWildcard = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia, namespace: default}
spec:
  hosts: ['*.wikipedia.org']
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ['*.wikipedia.org']
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-wikipedia, namespace: default}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{name: wikipedia}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-wikipedia-through-egress-gateway, namespace: default}
spec:
  hosts: ['*.wikipedia.org']
  gateways: [mesh, istio-egressgateway]
  tls:
  - match:
    - gateways: [mesh]
      port: 443
      sniHosts: ['*.wikipedia.org']
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: wikipedia, port: {number: 443}}
  - match:
    - gateways: [istio-egressgateway]
      port: 443
      sniHosts: ['*.wikipedia.org']
    route:
    - destination: {host: www.wikipedia.org, port: {number: 443}}
)";

// istio.io "Egress Gateways with TLS Origination": ISTIO_MUTUAL from the
// sidecar to the gateway, which only a sidecar can do.
constexpr const char* kIstioMutual = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn, namespace: default}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 80, name: http-port, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: https, protocol: HTTPS}
    hosts: [edition.cnn.com]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-cnn, namespace: default}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
    trafficPolicy:
      portLevelSettings:
      - port: {number: 80}
        tls: {mode: ISTIO_MUTUAL, sni: edition.cnn.com}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-cnn-through-egress-gateway, namespace: default}
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match:
    - gateways: [mesh]
      port: 80
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: cnn, port: {number: 80}}
      weight: 100
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

struct ExpectedRoute {
  std::string host;
  uint16_t port;
  RouteKind kind;
  uint16_t gateway_port;
  std::string unsupported = "";  // substring of one reason; "" means none
};

struct Case {
  const char* description;
  std::string policy;  // YAML, after the gateway Service
  std::string workload_namespace;
  Labels labels;
  std::vector<ExpectedRoute> routes;
  std::string issue = "";  // substring of one routing issue, if expected
};

const std::string kSidecarImportsOnlyItsNamespace = R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec: {egress: [{hosts: ['./*', 'istio-system/*']}]}
)";

// The same VirtualService, kept in its own namespace.
const std::string kCnnVsElsewhere = replaced(kHttpCnn, "name: direct-cnn-through-egress-gateway, namespace: default",
                                             "name: direct-cnn-through-egress-gateway, namespace: egress-config");

const std::string kTcpSplit = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  ports: [{number: 443, name: tcp, protocol: TCP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: ['*/db.example.com'], tls: {mode: PASSTHROUGH}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  tcp:
  - route:
    - destination: {host: istio-egressgateway.istio-system, port: {number: 443}}
      weight: 80
    - destination: {host: db.example.com, port: {number: 443}}
      weight: 20
)";

const std::string kHttpPathSplit = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*/httpbin.org']}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  http:
  - match: [{uri: {prefix: /status}}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]
  - route: [{destination: {host: SECOND, port: {number: 80}}}]
)";

const Case kCases[] = {
    {"seed: TLS passthrough via the egress gateway", kSeedTlsPassthrough, "production", {{"app", "web"}},
     {{"api.external-service.com", 443, RouteKind::kTls, 443}}},
    {"seed: other namespaces see it too (no exportTo)", kSeedTlsPassthrough, "shop", {{"app", "web"}},
     {{"api.external-service.com", 443, RouteKind::kTls, 443}}},
    {"HTTP via the gateway; the HTTPS port of the same host goes direct", kHttpCnn, "default", {{"app", "sleep"}},
     {{"edition.cnn.com", 80, RouteKind::kHttp, 80}}},
    {"wildcard hosts through one gateway", kWildcard, "default", {{"app", "sleep"}},
     {{"*.wikipedia.org", 443, RouteKind::kTls, 443}}},
    {"exportTo '.' hides the VirtualService from other namespaces",
     replaced(kHttpCnn, "gateways: [istio-egressgateway, mesh]", "gateways: [istio-egressgateway, mesh]\n  exportTo: ['.']"),
     "shop", {}, {}},
    {"exportTo '.' still applies in its own namespace",
     replaced(kHttpCnn, "gateways: [istio-egressgateway, mesh]", "gateways: [istio-egressgateway, mesh]\n  exportTo: ['.']"),
     "default", {}, {{"edition.cnn.com", 80, RouteKind::kHttp, 80}}},
    {"no mesh in gateways: the sidecar never uses it",
     replaced(kHttpCnn, "gateways: [istio-egressgateway, mesh]", "gateways: [istio-egressgateway]"), "default", {}, {}},
    {"mesh only on the VirtualService, not on the match",
     replaced(kHttpCnn, "    - gateways: [mesh]\n      port: 80", "    - gateways: [istio-egressgateway]\n      port: 80"),
     "default", {}, {}},
    {"no gateways at all means mesh",
     replaced(replaced(kHttpCnn, "  gateways: [istio-egressgateway, mesh]\n", ""), "    - gateways: [mesh]\n      port: 80",
              "    - port: 80"),
     "default", {}, {{"edition.cnn.com", 80, RouteKind::kHttp, 80}}},
    {"Sidecar imports the VirtualService's namespace", kCnnVsElsewhere, "default", {},
     {{"edition.cnn.com", 80, RouteKind::kHttp, 80}}},
    {"Sidecar does not import the VirtualService host", kCnnVsElsewhere + kSidecarImportsOnlyItsNamespace, "default",
     {}, {}},
    {"the gateway workload itself is exempt", kSeedTlsPassthrough, "istio-system",
     {{"istio", "egressgateway"}, {"app", "istio-egressgateway"}}, {}},
    {"ISTIO_MUTUAL between pod and gateway is reported, still redirected", kIstioMutual, "default", {},
     {{"edition.cnn.com", 80, RouteKind::kHttp, 80, "ISTIO_MUTUAL between pod and gateway (DestinationRule default/egressgateway-for-cnn)"}}},
    {"a gateway server expecting ISTIO_MUTUAL is reported", kIstioMutual, "default", {},
     {{"edition.cnn.com", 80, RouteKind::kHttp, 80, "Gateway default/istio-egressgateway expects ISTIO_MUTUAL on port 80"}}},
    {"weighted split: the highest weight wins, reported", kTcpSplit, "default", {},
     {{"db.example.com", 443, RouteKind::kTcp, 443, "weighted split across destinations"}}},
    {"weighted split towards a direct majority: not redirected",
     replaced(replaced(kTcpSplit, "weight: 20", "weight: 70"), "weight: 80", "weight: 30"),
     "default", {}, {}, "weighted split across destinations"},
    {"HTTP path match splitting gateway and direct: not redirected",
     replaced(kHttpPathSplit, "SECOND", "httpbin.org"), "default", {}, {},
     "match on uri (the kernel cannot see them) and do not all go to the same gateway"},
    {"HTTP path match with every route on the gateway: redirected, reported",
     replaced(kHttpPathSplit, "SECOND", "istio-egressgateway.istio-system.svc"), "default", {},
     {{"httpbin.org", 80, RouteKind::kHttp, 80, "HTTP routes match on uri"}}},
    {"sourceLabels select the workloads that use the route",
     replaced(kSeedTlsPassthrough, "    - gateways: [mesh]\n      port: 443", "    - gateways: [mesh]\n      sourceLabels: {app: web}\n      port: 443"),
     "production", {{"app", "web"}}, {{"api.external-service.com", 443, RouteKind::kTls, 443}}},
    {"sourceLabels skip other workloads",
     replaced(kSeedTlsPassthrough, "    - gateways: [mesh]\n      port: 443", "    - gateways: [mesh]\n      sourceLabels: {app: web}\n      port: 443"),
     "production", {{"app", "batch"}}, {}},
    {"a wildcard VirtualService routes the exact ServiceEntry host it covers",
     replaced(kWildcard, "hosts: ['*.wikipedia.org']\n  ports:", "hosts: [en.wikipedia.org]\n  ports:"), "default", {},
     {{"en.wikipedia.org", 443, RouteKind::kTls, 443}}},
    {"a port-scoped Sidecar listener imports the VirtualService for its port only",
     kCnnVsElsewhere + std::string(R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec: {egress: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*/*']}, {hosts: ['./*', 'istio-system/*']}]}
)"),
     "default", {}, {}},
    {"the same Sidecar with the VirtualService's port imports it",
     kCnnVsElsewhere + std::string(R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec: {egress: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*/*']}, {hosts: ['./*', 'istio-system/*']}]}
)"),
     "default", {}, {{"edition.cnn.com", 80, RouteKind::kHttp, 80}}},
    {"a second VirtualService for the same host is reported, the first wins",
     kHttpCnn + replaced(replaced(kHttpCnn, "name: direct-cnn-through-egress-gateway", "name: zz-second"),
                         "name: istio-egressgateway, namespace: default", "name: second-gw, namespace: default"),
     "default", {}, {{"edition.cnn.com", 80, RouteKind::kHttp, 80}},
     "is also routed by VirtualService default/direct-cnn-through-egress-gateway"},
    {"no ServiceEntry for the host: no sidecar listener, no redirect",
     replaced(kHttpCnn, "hosts: [edition.cnn.com]\n  ports:", "hosts: [other.cnn.com]\n  ports:"), "default", {}, {}},
};

class GatewayRoutingCases : public ::testing::TestWithParam<Case> {};

TEST_P(GatewayRoutingCases, RoutesAsIstiosSidecarWould) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.description);
  const policy::ParsedDocuments parsed = policy::parseYaml(std::string(kGatewayService) + c.policy, "policy.yaml");
  std::string rejected;
  for (const auto& r : parsed.rejected) rejected += policy::describe(r) + "\n";
  ASSERT_TRUE(parsed.rejected.empty()) << rejected;
  policy::PolicyStore store;
  store.apply(parsed);
  const policy::PolicySnapshot& snapshot = store.snapshot();
  policy::Workload workload;
  workload.meta = {"w", c.workload_namespace, c.labels, ""};
  std::vector<std::string> warnings;
  const policy::Sidecar* sidecar = selectSidecar(snapshot, workload, warnings);
  const GatewayRouting routing = evaluateGatewayRouting(snapshot, c.workload_namespace, c.labels, sidecar);

  std::string issues;
  for (const auto& i : routing.issues) issues += describe(i) + "\n";
  ASSERT_EQ(routing.routes.size(), c.routes.size()) << issues;
  for (size_t i = 0; i < c.routes.size(); ++i) {
    const GatewayRoute& got = routing.routes[i];
    const ExpectedRoute& want = c.routes[i];
    EXPECT_EQ(got.host, want.host);
    EXPECT_EQ(got.port, want.port);
    EXPECT_EQ(got.l4_protocol, IPPROTO_TCP);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.target.service, "istio-system/istio-egressgateway");
    EXPECT_EQ(got.target.addresses, std::vector<std::string>{"10.96.0.50"});
    EXPECT_EQ(got.target.port, want.gateway_port);
    std::string reasons;
    for (const auto& r : got.unsupported) reasons += r + "\n";
    if (want.unsupported.empty()) {
      EXPECT_TRUE(got.unsupported.empty()) << reasons;
    } else {
      EXPECT_NE(reasons.find(want.unsupported), std::string::npos) << reasons;
      EXPECT_NE(issues.find(want.unsupported), std::string::npos) << issues;  // reported at apply too
    }
  }
  if (!c.issue.empty()) {
    EXPECT_NE(issues.find(c.issue), std::string::npos) << issues;
  }
  EXPECT_EQ(gatewayRoutesForWorkload(snapshot, c.workload_namespace, c.labels, sidecar).size(), c.routes.size());
}

INSTANTIATE_TEST_SUITE_P(Compiler, GatewayRoutingCases, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return "case" + std::to_string(info.index); });

policy::PolicySnapshot snapshotOf(const std::string& yaml) {
  policy::PolicyStore store;
  store.apply(policy::parseYaml(std::string(kGatewayService) + yaml, "policy.yaml"));
  return store.snapshot();
}

TEST(GatewayRouting, GatewayWorkloadsAreSelectedByAnyGatewaySelector) {
  const auto snapshot = snapshotOf(kSeedTlsPassthrough);
  EXPECT_TRUE(isGatewayWorkload(snapshot, {{"istio", "egressgateway"}, {"app", "x"}}, "istio-system"));
  EXPECT_TRUE(isGatewayWorkload(snapshot, {{"istio", "egressgateway"}}, "other-namespace"));
  EXPECT_FALSE(isGatewayWorkload(snapshot, {{"istio", "ingressgateway"}}, "istio-system"));
  EXPECT_FALSE(isGatewayWorkload(snapshot, {}, "production"));
}

TEST(GatewayRouting, MissingGatewayServiceIsReportedAndNotRedirected) {
  const std::string without_service = kHttpCnn;  // no kGatewayService in front
  policy::PolicyStore store;
  store.apply(policy::parseYaml(without_service + R"(---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: sleep, namespace: default}
spec: {cgroup: /sleep}
)", "policy.yaml"));
  const auto& snapshot = store.snapshot();
  EXPECT_TRUE(gatewayRoutesForWorkload(snapshot, "default", {}, nullptr).empty());
  const auto issues = routingIssues(snapshot);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].object, "VirtualService default/direct-cnn-through-egress-gateway");
  EXPECT_NE(issues[0].message.find("istio-egressgateway.istio-system.svc.cluster.local is not a known Service"),
            std::string::npos)
      << issues[0].message;
}

TEST(GatewayRouting, RoutingIssuesCoverEveryWorkloadWithoutRepeats) {
  const auto snapshot = snapshotOf(std::string(kIstioMutual) + R"(---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: a, namespace: default}
spec: {cgroup: /a}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: b, namespace: default}
spec: {cgroup: /b}
)");
  const auto issues = routingIssues(snapshot);
  ASSERT_EQ(issues.size(), 2u);  // DestinationRule ISTIO_MUTUAL and Gateway ISTIO_MUTUAL, once each
  EXPECT_EQ(describe(issues[0]).rfind("VirtualService default/direct-cnn-through-egress-gateway: edition.cnn.com:80: "
                                      "ISTIO_MUTUAL between pod and gateway",
                                      0),
            0u)
      << describe(issues[0]);
}

TEST(GatewayRouting, HeadlessGatewayServiceIsReported) {
  const auto snapshot = snapshotOf(replaced(std::string(kSeedTlsPassthrough), "", "") + R"(---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: a, namespace: production}
spec: {cgroup: /a}
)");
  policy::PolicySnapshot headless = snapshot;
  headless.services[0].cluster_ip = "None";
  EXPECT_TRUE(gatewayRoutesForWorkload(headless, "production", {}, nullptr).empty());
  const auto issues = routingIssues(headless);
  ASSERT_FALSE(issues.empty());
  EXPECT_NE(issues[0].message.find("no cluster IP"), std::string::npos) << issues[0].message;
}

}  // namespace
}  // namespace egressd::compiler
