// explain --sni: what a sidecar routing a TLS port on the SNI would decide,
// next to the kernel's verdict on the IP, and what to do where they differ
// (an IP shared with other names, an IP not learned for the name, a gateway
// without a route for it).
#include "compiler/explain_sni.h"

#include <gtest/gtest.h>

#include "compiler_test_util.h"

namespace egressd::compiler {
namespace {
using namespace testing;

// The seed's gateway route for api.external-service.com, a wildcard CDN entry
// and a static range in a REGISTRY_ONLY mesh; namespace "open" is ALLOW_ANY.
constexpr const char* kPolicy = R"(
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: 10.96.0.50
  ports: [{name: https, port: 443}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: cdn, namespace: production}
spec:
  hosts: ["*.cdn.example.net"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: static, namespace: production}
spec:
  hosts: [static.example.org]
  addresses: [198.51.100.0/24]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints: [{address: 198.51.100.1}]
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
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, external-api-gateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [api.external-service.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: open}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: production}
spec: {cgroup: /app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: open}
spec: {cgroup: /open}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: egressgateway, namespace: istio-system, labels: {istio: egressgateway}}
spec: {cgroup: /gw}
)";

const CompiledYaml& compiled() {
  static const CompiledYaml c = compileYaml(kPolicy);
  return c;
}

constexpr auto kRedirected = EGRESSD_VERDICT_REDIRECTED;
constexpr auto kAudit = EGRESSD_VERDICT_AUDIT;

struct SniCase {
  std::string description;
  SniQuestion question;
  egressd_verdict sidecar;
  bool agrees;
  std::optional<std::string> service_entry;
  std::optional<std::string> route_virtual_service;
  std::string detail_has;
};

const std::vector<SniCase> kCases = {
    {"SNI is the host the IP was learned for",
     {"production/app", "img.cdn.example.net", 443, kAllowed, {"*.cdn.example.net"}}, kAllowed, true,
     "production/cdn", std::nullopt, "is a host the kernel knows this destination by (*.cdn.example.net)"},
    {"upper case and a trailing dot are the same name",
     {"production/app", "IMG.CDN.Example.NET.", 443, kAllowed, {"*.cdn.example.net"}}, kAllowed, true,
     "production/cdn", std::nullopt, "SNI img.cdn.example.net is a host"},
    {"shared IP: allowed for static.example.org, SNI names an unregistered host",
     {"production/app", "evil.example.com", 443, kAllowed, {"static.example.org"}}, kDenied, false, std::nullopt,
     std::nullopt, "may serve evil.example.com. Register evil.example.com, or narrow the entry"},
    {"SNI registered by another entry than the one that allowed the IP",
     {"production/app", "img.cdn.example.net", 443, kAllowed, {"static.example.org"}}, kAllowed, true,
     "production/cdn", std::nullopt, "the same verdict, allowed"},
    {"kernel denied: the IP is not learned for a registered SNI",
     {"production/app", "img.cdn.example.net", 443, kDenied, {}}, kAllowed, false, "production/cdn", std::nullopt,
     "resolve img.cdn.example.net from the workload"},
    {"unregistered SNI, IP denied: both deny", {"production/app", "evil.example.com", 443, kDenied, {}}, kDenied, true,
     std::nullopt, std::nullopt, "refuses it (BlackHoleCluster: REGISTRY_ONLY)"},
    {"seed: redirected, and the gateway routes the SNI",
     {"production/app", "api.external-service.com", 443, kRedirected, {"api.external-service.com"}}, kRedirected,
     true, "production/external-api", "production/external-api-vs", "decides the same: redirected"},
    {"kernel redirects the IP, but the gateway has no route for the SNI",
     {"production/app", "img.cdn.example.net", 443, kRedirected, {"api.external-service.com"}}, kAllowed, false,
     "production/cdn", std::nullopt, "no TLS route for SNI img.cdn.example.net on port 443"},
    {"a sidecar would use the gateway, the kernel goes direct (IP not learned for the SNI)",
     {"production/app", "api.external-service.com", 443, kAllowed, {"static.example.org"}}, kRedirected, false,
     "production/external-api", "production/external-api-vs", "sends it directly"},
    {"registered host, other port: not registered there",
     {"production/app", "img.cdn.example.net", 8443, kDenied, {}}, kDenied, true, std::nullopt, std::nullopt,
     "refuses it (BlackHoleCluster"},
    {"audit is a denial let through: agrees with a sidecar's refusal",
     {"production/app", "evil.example.com", 443, kAudit, {}}, kDenied, true, std::nullopt, std::nullopt, ""},
    {"the egress gateway is exempt: its upstream passes",
     {"istio-system/egressgateway", "evil.example.com", 443, kAllowed, {}}, kAllowed, true, std::nullopt,
     std::nullopt, "exempt from outboundTrafficPolicy"},
    {"the egress gateway is never sent to itself",
     {"istio-system/egressgateway", "api.external-service.com", 443, kAllowed, {"api.external-service.com"}},
     kAllowed, true, "production/external-api", std::nullopt, ""},
    {"ALLOW_ANY namespace: an unregistered SNI passes",
     {"open/app", "evil.example.com", 443, kAllowed, {}}, kAllowed, true, std::nullopt, std::nullopt,
     "PassthroughCluster: ALLOW_ANY"},
};

class ExplainSni : public ::testing::TestWithParam<SniCase> {};

TEST_P(ExplainSni, SaysWhatASidecarWouldDo) {
  const auto& c = GetParam();
  const auto e = explainSni(compiled().out, compiled().snapshot, c.question);
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e->sidecar_verdict, c.sidecar) << e->detail;
  EXPECT_EQ(e->agrees, c.agrees) << e->detail;
  EXPECT_EQ(e->service_entry, c.service_entry) << e->detail;
  EXPECT_EQ(e->gateway_route ? std::optional(e->gateway_route->virtual_service) : std::nullopt,
            c.route_virtual_service);
  EXPECT_NE(e->detail.find(c.detail_has), std::string::npos) << e->detail;
}

INSTANTIATE_TEST_SUITE_P(Table, ExplainSni, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string name;
  for (char ch : info.param.description) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return name + "_" + std::to_string(info.index);
});

TEST(ExplainSniInput, RejectsWhatIsNotAHostNameOrNotAWorkload) {
  const struct {
    std::string workload, sni, error_has;
  } rows[] = {
      {"production/app", "192.0.2.10", "--sni 192.0.2.10: an SNI is a host name, not an address"},
      {"production/app", "2001:db8::1", "not an address"},
      {"production/app", "*.cdn.example.net", "--sni *.cdn.example.net: expected a fully qualified host name"},
      {"production/app", "bad_name!.com", "expected a fully qualified host name"},
      {"nowhere/app", "api.external-service.com", "workload nowhere/app is not enforced"},
  };
  for (const auto& r : rows) {
    const auto e = explainSni(compiled().out, compiled().snapshot, {r.workload, r.sni, 443, kAllowed, {}});
    ASSERT_FALSE(e.ok()) << r.sni;
    EXPECT_NE(e.error().find(r.error_has), std::string::npos) << e.error();
  }
}

}  // namespace
}  // namespace egressd::compiler
