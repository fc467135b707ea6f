// ServiceEntry validation, table-driven: spec (flow YAML) -> accepted, or
// rejected with a reason containing `expect`.
#include <gtest/gtest.h>

#include "policy/parser.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::reasons;
using testing::serviceEntryYaml;
using testing::warnings;

struct Case {
  const char* description;
  const char* spec;
  bool accepted;
  const char* expect;  // substring of the rejection reason ("" when accepted)
};

constexpr const char* kTls = "ports: [{number: 443, name: tls, protocol: TLS}]";

std::string spec(const std::string& body) { return "{" + body + "}"; }

const Case kCases[] = {
    {"minimal DNS entry", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"hosts required", "ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", false, "hosts must list at least one host"},
    {"bare * host", "hosts: ['*'], ports: [{number: 443, name: tls, protocol: TLS}]", false, "hosts[0] \"*\" is not allowed"},
    {"wildcard first label", "hosts: ['*.example.com'], ports: [{number: 443, name: tls, protocol: TLS}]", true, ""},
    {"partial wildcard suffix", "hosts: ['foo*.example.com'], ports: [{number: 443, name: tls, protocol: TLS}]", false, "partial wildcard"},
    // Istio warns (not rejects) on a partial wildcard prefix.
    {"partial wildcard prefix", "hosts: ['*foo.example.com'], ports: [{number: 443, name: tls, protocol: TLS}]", true, ""},
    {"IP address as host", "hosts: ['192.0.2.1'], ports: [{number: 443, name: tls, protocol: TLS}]", false, "is not a host name"},
    {"wildcard in middle label", "hosts: ['a.*.com'], ports: [{number: 443, name: tls, protocol: TLS}]", false, "wildcard outside the first label"},
    {"label of 64 chars", "hosts: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com], ports: [{number: 443, name: tls, protocol: TLS}]", false, "longer than 63"},
    {"label of 63 chars", "hosts: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com], ports: [{number: 443, name: tls, protocol: TLS}]", true, ""},
    {"host over 255 chars", "hosts: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaa], ports: [{number: 443, name: tls, protocol: TLS}]", false, "longer than 255"},
    {"underscore in host", "hosts: [bad_host.example.com], ports: [{number: 443, name: tls, protocol: TLS}]", false, "not a valid DNS name"},
    {"empty label", "hosts: [api..example.com], ports: [{number: 443, name: tls, protocol: TLS}]", false, "not a valid DNS name"},
    {"trailing dot FQDN", "hosts: [api.example.com.], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"IPv4 CIDR with NONE", "hosts: [db.internal], addresses: [10.0.0.0/8], ports: [{number: 5432, name: pg, protocol: TCP}]", true, ""},
    {"IPv6 CIDR with STATIC", "hosts: [db.internal], addresses: ['2001:db8::/32'], endpoints: [{address: '2001:db8::1'}], ports: [{number: 5432, name: pg, protocol: TCP}], resolution: STATIC", true, ""},
    {"prefix too long", "hosts: [db.internal], addresses: [10.0.0.0/33], ports: [{number: 5432, name: pg, protocol: TCP}]", false, "addresses[0] \"10.0.0.0/33\" is not a valid IP or CIDR"},
    {"IPv6 prefix too long", "hosts: [db.internal], addresses: ['2001:db8::/129'], ports: [{number: 5432, name: pg, protocol: TCP}]", false, "is not a valid IP or CIDR"},
    {"bad IPv4", "hosts: [db.internal], addresses: [300.1.1.1], ports: [{number: 5432, name: pg, protocol: TCP}]", false, "\"300.1.1.1\" is not a valid IP or CIDR"},
    {"CIDR with DNS", "hosts: [db.example.com], addresses: [192.0.2.0/24], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", false, "CIDR addresses are allowed only with resolution NONE or STATIC"},
    {"CIDR with DNS_ROUND_ROBIN", "hosts: [db.example.com], addresses: [192.0.2.0/24], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS_ROUND_ROBIN", false, "CIDR addresses are allowed only"},
    {"plain IP address with DNS", "hosts: [db.example.com], addresses: [192.0.2.10], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"endpoints with NONE", "hosts: [api.example.com], endpoints: [{address: 192.0.2.1}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: NONE", false, "endpoints must be empty when resolution is NONE"},
    {"STATIC with addresses, no endpoints", "hosts: [api.example.com], addresses: [192.0.2.1], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", true, ""},
    {"DYNAMIC_DNS with a TCP port", "hosts: ['*.example.com'], ports: [{number: 5432, name: pg, protocol: TCP}], resolution: DYNAMIC_DNS", false, "must be HTTP, TLS, GRPC or HTTP2"},
    {"DYNAMIC_DNS with an exact host", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DYNAMIC_DNS", false, "must be a wildcard with resolution DYNAMIC_DNS"},
    {"STATIC with workloadSelector", "hosts: [api.internal], workloadSelector: {labels: {app: vm}}, ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", true, ""},
    {"STATIC with hostname endpoint", "hosts: [api.example.com], endpoints: [{address: api.example.com}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", false, "endpoints[0].address \"api.example.com\" is not an IP address"},
    {"STATIC with IP endpoints", "hosts: [api.example.com], endpoints: [{address: 192.0.2.1}, {address: '2001:db8::1'}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", true, ""},
    {"STATIC with unix endpoint", "hosts: [local.sock], endpoints: [{address: 'unix:///var/run/a.sock'}], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC", true, ""},
    {"STATIC with relative unix path", "hosts: [local.sock], endpoints: [{address: 'unix://var/run/a.sock'}], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC", false, "not an absolute path"},
    {"DNS_ROUND_ROBIN with two endpoints", "hosts: [api.example.com], endpoints: [{address: a.example.com}, {address: b.example.com}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS_ROUND_ROBIN", false, "endpoints has 2 entries; resolution DNS_ROUND_ROBIN allows at most one"},
    {"DNS_ROUND_ROBIN with one endpoint", "hosts: [api.example.com], endpoints: [{address: a.example.com}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS_ROUND_ROBIN", true, ""},
    {"DNS with several endpoints", "hosts: [api.example.com], endpoints: [{address: a.example.com}, {address: 192.0.2.7}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"wildcard with DNS and no endpoints", "hosts: ['*.example.com'], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", false, "hosts[0] \"*.example.com\" is a wildcard; resolution DNS without endpoints"},
    {"wildcard with DNS and an endpoint", "hosts: ['*.example.com'], endpoints: [{address: proxy.example.com}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"DNS endpoint not a name", "hosts: [api.example.com], endpoints: [{address: 'bad_name'}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", false, "is not a valid FQDN or IP address"},
    {"DYNAMIC_DNS with wildcard", "hosts: ['*.example.com'], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DYNAMIC_DNS", true, ""},
    {"DYNAMIC_DNS with endpoints", "hosts: ['*.example.com'], endpoints: [{address: a.example.com}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DYNAMIC_DNS", false, "must be empty when resolution is DYNAMIC_DNS"},
    {"port 0", "hosts: [api.example.com], ports: [{number: 0, name: tls, protocol: TLS}]", false, "ports[0].number must be between 1 and 65535"},
    {"port missing", "hosts: [api.example.com], ports: [{name: tls, protocol: TLS}]", false, "ports[0].number must be between 1 and 65535"},
    {"port 65536", "hosts: [api.example.com], ports: [{number: 65536, name: tls, protocol: TLS}]", false, "must be between 1 and 65535, got 65536"},
    {"duplicate port numbers", "hosts: [api.example.com], ports: [{number: 443, name: a, protocol: TLS}, {number: 443, name: b, protocol: HTTPS}]", false, "ports[1].number 443 is already used by ports[0]"},
    {"duplicate port names", "hosts: [api.example.com], ports: [{number: 443, name: a, protocol: TLS}, {number: 8443, name: a, protocol: TLS}]", false, "ports[1].name \"a\" is already used by ports[0]"},
    {"port name required", "hosts: [api.example.com], ports: [{number: 443, protocol: TLS}]", false, "ports[0].name is required"},
    {"port name not a label", "hosts: [api.example.com], ports: [{number: 443, name: HTTPS_1, protocol: TLS}]", false, "not a valid port name"},
    {"unknown protocol", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: FOO}]", false, "ports[0].protocol \"FOO\" is not a known protocol"},
    {"protocol is case-insensitive", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: https}]", true, ""},
    {"unset protocol is sniffed", "hosts: [api.example.com], addresses: [192.0.2.1], ports: [{number: 443, name: tls}]", true, ""},
    {"targetPort out of range", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS, targetPort: 70000}], resolution: DNS", false, "ports[0].targetPort must be between 1 and 65535"},
    {"selector and endpoints", "hosts: [api.example.com], workloadSelector: {labels: {app: a}}, endpoints: [{address: 192.0.2.1}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", false, "workloadSelector and endpoints cannot both be set"},
    {"selector with wildcard", "hosts: [api.internal], workloadSelector: {labels: {app: '*'}}, ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", false, "wildcards are not supported in selectors"},
    {"endpoint port not declared", "hosts: [api.example.com], endpoints: [{address: 192.0.2.1, ports: {web: 8080}}], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", false, "endpoints[0].ports.web \"web\" is not the name of a port"},
    {"several hosts with TCP and DNS", "hosts: [a.example.com, b.example.com], ports: [{number: 5432, name: pg, protocol: TCP}], resolution: DNS", false, "ports[0] (5432/TCP) cannot tell several hosts apart"},
    {"several hosts with TLS and DNS", "hosts: [a.example.com, b.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS", true, ""},
    {"exportTo * with others", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: ['*', istio-system]", false, "\"*\" (everyone) cannot be combined"},
    {"exportTo ~ with others", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: ['~', '.']", false, "\"~\" (no one) cannot be combined"},
    {"exportTo . and own namespace", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: ['.', production]", false, "\".\" and the own namespace \"production\" are the same entry"},
    {"exportTo own namespace and .", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: [production, '.']", false, "are the same entry"},
    {"exportTo listed twice", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: [a, a]", false, "exportTo[1] \"a\" is listed twice"},
    {"exportTo invalid namespace", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: [Bad_NS]", false, "exportTo[0] \"Bad_NS\" must be"},
    {"exportTo . and another", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: ['.', istio-system]", true, ""},
    {"exportTo ~ alone", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], exportTo: ['~']", true, ""},
    {"ports not a list", "hosts: [api.example.com], ports: {number: 443}", false, "ports must be a list"},
    {"number not an int", "hosts: [api.example.com], ports: [{number: eighty, name: http, protocol: HTTP}]", false, "ports[0].number must be a non-negative integer, got \"eighty\""},
    {"negative number", "hosts: [api.example.com], ports: [{number: -1, name: http, protocol: HTTP}]", false, "must be a non-negative integer"},
    {"hosts not a list", "hosts: api.example.com, ports: [{number: 443, name: tls, protocol: TLS}]", false, "hosts must be a list"},
    {"host not a string", "hosts: [{a: b}], ports: [{number: 443, name: tls, protocol: TLS}]", false, "hosts[0] must be a string"},
    {"unknown resolution", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: MAGIC", false, "resolution \"MAGIC\" is not a valid resolution"},
    {"unknown location", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], location: OUTSIDE", false, "location \"OUTSIDE\" is not a valid location"},
    {"empty subjectAltName", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], subjectAltNames: ['']", false, "subjectAltNames[0] must not be empty"},
};

class PolicyServiceEntryValidation : public ::testing::TestWithParam<Case> {};

TEST_P(PolicyServiceEntryValidation, AcceptsOrRejects) {
  const Case& c = GetParam();
  const ParsedDocuments parsed = parseYaml(serviceEntryYaml(spec(c.spec)), "se.yaml");
  if (c.accepted) {
    EXPECT_EQ(parsed.service_entries.size(), 1u) << c.description << "\n" << reasons(parsed);
    EXPECT_TRUE(parsed.rejected.empty()) << reasons(parsed);
  } else {
    ASSERT_EQ(parsed.rejected.size(), 1u) << c.description << ": expected a rejection";
    EXPECT_TRUE(parsed.service_entries.empty());
    const Rejection& r = parsed.rejected[0];
    EXPECT_EQ(r.kind, "ServiceEntry");
    EXPECT_EQ(r.namespace_, "production");
    EXPECT_EQ(r.name, "t");
    EXPECT_EQ(r.source.file, "se.yaml");
    EXPECT_GT(r.source.line, 0);
    EXPECT_NE(r.reason.find(c.expect), std::string::npos)
        << c.description << "\n  reason: " << r.reason << "\n  expected to contain: " << c.expect;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyServiceEntryValidation, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char* p = info.param.description; *p; ++p) {
                             name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return std::to_string(info.index) + "_" + name;
                         });

struct WarningCase {
  const char* description;
  const char* spec;
  const char* expect;  // substring of a warning, or "" for no warning at all
};

const WarningCase kWarningCases[] = {
    {"NONE, no addresses, TCP port", "hosts: [db.example.com], ports: [{number: 5432, name: pg, protocol: TCP}]", "port 5432 (TCP) with resolution NONE and no addresses allows any IP on that port"},
    {"NONE, no addresses, unset protocol", "hosts: [db.example.com], ports: [{number: 5432, name: pg}]", "allows any IP on that port"},
    {"NONE with addresses", "hosts: [db.example.com], addresses: [192.0.2.0/24], ports: [{number: 5432, name: pg, protocol: TCP}]", ""},
    {"NONE, no addresses, TLS port", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}]", ""},
    {"DNS with TCP port", "hosts: [db.example.com], ports: [{number: 5432, name: pg, protocol: TCP}], resolution: DNS", ""},
    {"no ports", "hosts: [api.example.com], resolution: DNS", "ports none listed: this ServiceEntry allows no traffic"},
    {"selector without labels", "hosts: [api.internal], workloadSelector: {}, ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC", "workloadSelector has no labels"},
    {"misspelt field", "hosts: [api.example.com], resolutin: DNS, ports: [{number: 443, name: tls, protocol: TLS}]", "resolutin is not a known field (ignored)"},
    {"misspelt port field", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocl: TLS}], resolution: DNS", "ports[0].protocl is not a known field"},
    {"partial wildcard host", "hosts: ['*foo.example.com'], ports: [{number: 443, name: tls, protocol: TLS}]", "is a partial wildcard: egressd matches whole DNS labels only"},
    {"targetPort with NONE", "hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS, targetPort: 8443}]", "targetPort has no effect"},
};

class PolicyServiceEntryWarnings : public ::testing::TestWithParam<WarningCase> {};

TEST_P(PolicyServiceEntryWarnings, WarnsLikeIstioAnalyzer) {
  const WarningCase& c = GetParam();
  const ParsedDocuments parsed = parseYaml(serviceEntryYaml(spec(c.spec)), "se.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << c.description << "\n" << reasons(parsed);
  const std::string all = warnings(parsed);
  if (std::string(c.expect).empty()) {
    EXPECT_TRUE(parsed.warnings.empty()) << c.description << "\n" << all;
  } else {
    EXPECT_NE(all.find(c.expect), std::string::npos) << c.description << "\n" << all;
    EXPECT_EQ(parsed.warnings[0].kind, "ServiceEntry");
    EXPECT_EQ(parsed.warnings[0].name, "t");
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyServiceEntryWarnings, ::testing::ValuesIn(kWarningCases));

TEST(PolicyServiceEntryParse, ReadsEveryField) {
  const std::string yaml = R"(apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: payments
  namespace: shop
  labels: {team: pay}
spec:
  hosts: [pay.example.com]
  addresses: [192.0.2.10]
  ports:
  - number: 443
    name: https
    protocol: HTTPS
    targetPort: 8443
  location: MESH_INTERNAL
  resolution: DNS
  endpoints:
  - address: pay-1.example.com
    ports: {https: 9443}
    labels: {zone: a}
    network: net1
    locality: eu/west
    weight: 3
    serviceAccount: pay-sa
  exportTo: [".", istio-system]
  subjectAltNames: ["spiffe://cluster.local/ns/shop/sa/pay"]
status:
  addresses:
  - value: 240.240.0.1
  - value: 2001:2::1
)";
  const ParsedDocuments parsed = parseYaml(yaml, "pay.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed);
  const ServiceEntry& se = parsed.service_entries[0];
  EXPECT_EQ(se.meta.name, "payments");
  EXPECT_EQ(se.meta.namespace_, "shop");
  EXPECT_EQ(se.meta.labels.at("team"), "pay");
  EXPECT_EQ(se.source.file, "pay.yaml");
  EXPECT_EQ(se.source.line, 1);
  EXPECT_EQ(se.hosts, std::vector<std::string>{"pay.example.com"});
  EXPECT_EQ(se.addresses, std::vector<std::string>{"192.0.2.10"});
  ASSERT_EQ(se.ports.size(), 1u);
  EXPECT_EQ(se.ports[0].number, 443u);
  EXPECT_EQ(se.ports[0].name, "https");
  EXPECT_EQ(se.ports[0].protocol, PortProtocol::kHttps);
  EXPECT_EQ(se.ports[0].protocol_name, "HTTPS");
  EXPECT_EQ(se.ports[0].target_port, 8443u);
  EXPECT_EQ(se.location, Location::kMeshInternal);
  EXPECT_EQ(se.resolution, Resolution::kDns);
  ASSERT_EQ(se.endpoints.size(), 1u);
  const WorkloadEntrySpec& ep = se.endpoints[0];
  EXPECT_EQ(ep.address, "pay-1.example.com");
  EXPECT_EQ(ep.ports.at("https"), 9443u);
  EXPECT_EQ(ep.labels.at("zone"), "a");
  EXPECT_EQ(ep.network, "net1");
  EXPECT_EQ(ep.locality, "eu/west");
  EXPECT_EQ(ep.weight, 3u);
  EXPECT_EQ(ep.service_account, "pay-sa");
  EXPECT_FALSE(se.workload_selector.has_value());
  EXPECT_EQ(se.export_to, (std::vector<std::string>{".", "istio-system"}));
  EXPECT_EQ(se.subject_alt_names, std::vector<std::string>{"spiffe://cluster.local/ns/shop/sa/pay"});
  EXPECT_EQ(se.status_addresses, (std::vector<std::string>{"240.240.0.1", "2001:2::1"}));
}

TEST(PolicyServiceEntryParse, DefaultsNamespaceAndModes) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: plain}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}
)", "a.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed);
  const ServiceEntry& se = parsed.service_entries[0];
  EXPECT_EQ(se.meta.namespace_, "default");
  EXPECT_EQ(se.resolution, Resolution::kNone);
  EXPECT_EQ(se.location, Location::kMeshExternal);
  EXPECT_TRUE(se.export_to.empty());
}

}  // namespace
}  // namespace egressd::policy
