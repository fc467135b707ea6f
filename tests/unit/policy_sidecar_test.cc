// Sidecar validation, table-driven like the ServiceEntry table.
#include <gtest/gtest.h>

#include "policy/parser.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::reasons;
using testing::sidecarYaml;

struct Case {
  const char* description;
  const char* spec;
  bool accepted;
  const char* expect;
};

const Case kCases[] = {
    {"namespace-local default", "{egress: [{hosts: ['./*', 'istio-system/*']}]}", true, ""},
    {"any namespace, one host", "{egress: [{hosts: ['*/api.example.com']}]}", true, ""},
    {"wildcard dnsName", "{egress: [{hosts: ['~/*', 'shop/*.example.com']}]}", true, ""},
    {"host without namespace", "{egress: [{hosts: [api.example.com]}]}", false, "egress[0].hosts[0] \"api.example.com\" must be of the form namespace/dnsName"},
    {"invalid namespace", "{egress: [{hosts: ['Bad_NS/*']}]}", false, "\"Bad_NS\" must be \"*\", \".\" or a namespace name, optionally prefixed by \"~\""},
    {"empty namespace", "{egress: [{hosts: ['/api.example.com']}]}", false, "namespace and dnsName cannot be empty"},
    {"empty dnsName", "{egress: [{hosts: ['./']}]}", false, "namespace and dnsName cannot be empty"},
    {"partial wildcard", "{egress: [{hosts: ['./foo*.example.com']}]}", false, "partial wildcard"},
    {"no hosts", "{egress: [{hosts: []}]}", false, "egress[0].hosts must list at least one host"},
    {"two listeners without port", "{egress: [{hosts: ['./*']}, {hosts: ['*/*']}]}", false, "egress[0] has no port, so it must be the last egress listener"},
    {"port listener then catch-all", "{egress: [{port: {number: 443, protocol: TLS, name: tls}, hosts: ['./*']}, {hosts: ['istio-system/*']}]}", true, ""},
    {"duplicate listener ports", "{egress: [{port: {number: 443, protocol: TLS}, hosts: ['./*']}, {port: {number: 443, protocol: TLS}, hosts: ['./*']}]}", false, "egress[1].port.number 443 is already used"},
    {"listener port out of range", "{egress: [{port: {number: 70000}, hosts: ['./*']}]}", false, "egress[0].port.number must be between 1 and 65535"},
    {"listener port not an int", "{egress: [{port: {number: abc}, hosts: ['./*']}]}", false, "egress[0].port.number must be a non-negative integer"},
    {"listener protocol unknown", "{egress: [{port: {number: 80, protocol: SPDY}, hosts: ['./*']}]}", false, "egress[0].port.protocol \"SPDY\" is not a known protocol"},
    {"listener name invalid", "{egress: [{port: {number: 80, name: Web_1}, hosts: ['./*']}]}", false, "not a valid port name"},
    {"bind not an IP", "{egress: [{port: {number: 80}, bind: localhost, hosts: ['./*']}]}", false, "egress[0].bind \"localhost\" is not a valid IP address"},
    {"bind IP", "{egress: [{port: {number: 80}, bind: 127.0.0.1, hosts: ['./*']}]}", true, ""},
    {"port 0 without unix bind", "{egress: [{port: {number: 0}, hosts: ['./*']}]}", false, "0 is only allowed with a unix:// bind address"},
    {"port 0 with unix bind", "{egress: [{port: {number: 0}, bind: 'unix:///var/run/egress.sock', hosts: ['./*']}]}", true, ""},
    {"REGISTRY_ONLY only", "{outboundTrafficPolicy: {mode: REGISTRY_ONLY}}", true, ""},
    {"unknown mode", "{egress: [{hosts: ['./*']}], outboundTrafficPolicy: {mode: DENY_ALL}}", false, "outboundTrafficPolicy.mode \"DENY_ALL\" is not a valid mode"},
    {"egressProxy with REGISTRY_ONLY", "{egress: [{hosts: ['./*']}], outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: proxy.example.com, port: {number: 3128}}}}", false, "egressProxy can only be set with mode ALLOW_ANY"},
    {"empty spec", "{}", false, "spec is empty"},
    {"egress not a list", "{egress: {hosts: ['./*']}}", false, "egress must be a list"},
    {"exclusion of a namespace", "{egress: [{hosts: ['*/*', '~ext/*']}]}", true, ""},
    {"exclusion of a host everywhere", "{egress: [{hosts: ['*/*', '~/api.example.com']}]}", true, ""},
    {"exclusion with a bad namespace", "{egress: [{hosts: ['*/*', '~Bad_NS/*']}]}", false, "optionally prefixed by \"~\""},
    {"short egress host", "{egress: [{hosts: ['./api']}]}", false, "short names are not allowed"},
    {"captureMode IPTABLES on a unix listener", "{egress: [{port: {number: 0}, bind: 'unix:///var/run/e.sock', captureMode: IPTABLES, hosts: ['./*']}]}", false, "must be DEFAULT or NONE"},
    {"ingress without a port", "{ingress: [{defaultEndpoint: '127.0.0.1:80'}]}", false, "ingress[0].port is required"},
    {"ingress to a remote endpoint", "{ingress: [{port: {number: 80, name: http, protocol: HTTP}, defaultEndpoint: '192.0.2.1:80'}]}", false, "must be 127.0.0.1:PORT"},
    {"empty inboundConnectionPool", "{inboundConnectionPool: {}}", false, "must set http or tcp"},
    {"egressProxy without port", "{outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: proxy.example.com}}}", false, "egressProxy.port is required"},
    {"egressProxy without mode (REGISTRY_ONLY)", "{outboundTrafficPolicy: {egressProxy: {host: proxy.example.com, port: {number: 3128}}}}", false, "can only be set with mode ALLOW_ANY"},
    {"selector wildcard", "{workloadSelector: {labels: {app: 'web*'}}, egress: [{hosts: ['./*']}]}", false, "wildcards are not supported in selectors"},
};

class PolicySidecarValidation : public ::testing::TestWithParam<Case> {};

TEST_P(PolicySidecarValidation, AcceptsOrRejects) {
  const Case& c = GetParam();
  const ParsedDocuments parsed = parseYaml(sidecarYaml(c.spec), "sidecar.yaml");
  if (c.accepted) {
    EXPECT_EQ(parsed.sidecars.size(), 1u) << c.description << "\n" << reasons(parsed);
    EXPECT_TRUE(parsed.rejected.empty()) << reasons(parsed);
  } else {
    ASSERT_EQ(parsed.rejected.size(), 1u) << c.description << ": expected a rejection";
    EXPECT_TRUE(parsed.sidecars.empty());
    EXPECT_EQ(parsed.rejected[0].kind, "Sidecar");
    EXPECT_NE(parsed.rejected[0].reason.find(c.expect), std::string::npos)
        << c.description << "\n  reason: " << parsed.rejected[0].reason << "\n  expected: " << c.expect;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicySidecarValidation, ::testing::ValuesIn(kCases));

struct WarningCase {
  const char* description;
  const char* spec;
  const char* expect;  // substring of a warning, or "" for none
};

const WarningCase kWarningCases[] = {
    {"distinct hosts", "{egress: [{hosts: ['./*', 'istio-system/*']}]}", ""},
    {"same host twice", "{egress: [{hosts: ['./a.example.com', 'production/a.example.com']}]}", "egress[0].hosts[1] \"production/a.example.com\" duplicates another host"},
    {"host under namespace wildcard", "{egress: [{hosts: ['./*', './a.example.com']}]}", "duplicates another host"},
    {"*/* with others", "{egress: [{hosts: ['*/*', 'istio-system/*']}]}", "\"*/*\" already selects every host"},
    {"selector without labels", "{workloadSelector: {}, egress: [{hosts: ['./*']}]}", "workloadSelector has no labels"},
    {"misspelt field", "{egres: [], egress: [{hosts: ['./*']}]}", "egres is not a known field"},
    {"ingress listener", "{ingress: [{port: {number: 8080, protocol: HTTP, name: http}, defaultEndpoint: '127.0.0.1:8080'}]}", "inbound listeners are not enforced by egressd"},
    {"egressProxy", "{outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: proxy.example.com, port: {number: 3128}}}}", "egressProxy is not enforced by egressd"},
};

class PolicySidecarWarnings : public ::testing::TestWithParam<WarningCase> {};

TEST_P(PolicySidecarWarnings, WarnsLikeIstio) {
  const WarningCase& c = GetParam();
  const ParsedDocuments parsed = parseYaml(sidecarYaml(c.spec), "sidecar.yaml");
  ASSERT_EQ(parsed.sidecars.size(), 1u) << c.description << "\n" << reasons(parsed);
  const std::string all = testing::warnings(parsed);
  if (std::string(c.expect).empty()) {
    EXPECT_TRUE(parsed.warnings.empty()) << c.description << "\n" << all;
  } else {
    EXPECT_NE(all.find(c.expect), std::string::npos) << c.description << "\n" << all;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicySidecarWarnings, ::testing::ValuesIn(kWarningCases));

TEST(PolicySidecarParse, ReadsEveryField) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1alpha3
kind: Sidecar
metadata: {name: web, namespace: shop}
spec:
  workloadSelector:
    labels: {app: web}
  egress:
  - port: {number: 443, protocol: TLS, name: tls}
    bind: 127.0.0.1
    hosts: ["./api.example.com"]
  - hosts: ["istio-system/*", "./*"]
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
)", "sc.yaml");
  ASSERT_EQ(parsed.sidecars.size(), 1u) << reasons(parsed);
  const Sidecar& sc = parsed.sidecars[0];
  EXPECT_EQ(sc.meta.namespace_, "shop");
  ASSERT_TRUE(sc.workload_selector.has_value());
  EXPECT_EQ(sc.workload_selector->at("app"), "web");
  ASSERT_EQ(sc.egress.size(), 2u);
  EXPECT_EQ(sc.egress[0].port, 443u);
  EXPECT_EQ(sc.egress[0].port_protocol, "TLS");
  EXPECT_EQ(sc.egress[0].port_name, "tls");
  EXPECT_EQ(sc.egress[0].bind, "127.0.0.1");
  EXPECT_EQ(sc.egress[0].hosts, std::vector<std::string>{"./api.example.com"});
  EXPECT_FALSE(sc.egress[1].port.has_value());
  EXPECT_EQ(sc.egress[1].hosts, (std::vector<std::string>{"istio-system/*", "./*"}));
  EXPECT_EQ(sc.outbound_mode, OutboundMode::kRegistryOnly);
}

TEST(PolicySidecarParse, NoOutboundPolicyMeansMeshDefault) {
  const ParsedDocuments parsed = parseYaml(sidecarYaml("{egress: [{hosts: ['./*']}]}"), "sc.yaml");
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_FALSE(parsed.sidecars[0].outbound_mode.has_value());
  EXPECT_FALSE(parsed.sidecars[0].workload_selector.has_value());
}

}  // namespace
}  // namespace egressd::policy
