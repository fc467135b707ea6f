// What a visible ServiceEntry opens (addresses, VIPs, STATIC endpoints, ports,
// protocols), prefix flattening, and the always-allowed destinations.
#include <gtest/gtest.h>

#include <algorithm>

#include "compiler/address.h"
#include "compiler_test_util.h"

namespace egressd::compiler::testing {
namespace {

using policy::PortProtocol;
using policy::Resolution;

struct DestinationCase {
  const char* name;
  std::vector<policy::ServiceEntry> entries;
  std::vector<Probe> probes;  // all from production/app, REGISTRY_ONLY
  CompileOptions options = {};
  size_t warnings = 0;
  size_t errors = 0;
};

class CompilerDestinations : public ::testing::TestWithParam<DestinationCase> {};

TEST_P(CompilerDestinations, KernelAnswers) {
  const auto& c = GetParam();
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  snap.service_entries = c.entries;
  snap.workloads.push_back(workload("production", "app"));
  auto out = compileAll(snap, c.options);
  EXPECT_EQ(out.warnings.size(), c.warnings) << ::testing::PrintToString(out.warnings);
  EXPECT_EQ(out.errors.size(), c.errors) << ::testing::PrintToString(out.errors);
  expectProbes(out, c.probes);
}

constexpr const char* kApp = "production/app";

policy::ServiceEntry withResolution(policy::ServiceEntry se, Resolution r) {
  se.resolution = r;
  return se;
}

policy::ServiceEntry staticEndpoints() {
  auto se = serviceEntry("ext", "db", {"db.example.com"}, {}, {port(443, PortProtocol::kTls, "https"), port(80)});
  se.endpoints.push_back(endpoint("198.51.100.5", {{"https", 9443}}));
  se.endpoints.push_back(endpoint("198.51.100.6"));
  return se;
}

policy::ServiceEntry targetPort() {
  auto p = port(443, PortProtocol::kHttps, "https");
  p.target_port = 8443;
  auto se = serviceEntry("ext", "tp", {"tp.example.com"}, {}, {p});
  se.endpoints.push_back(endpoint("198.51.100.7"));
  se.endpoints.push_back(endpoint("198.51.100.8", {{"https", 7443}}));
  return se;
}

policy::ServiceEntry statusAddress() {
  auto se = serviceEntry("ext", "vip", {"vip.example.com"}, {}, {port(443)}, {}, Resolution::kDns);
  se.status_addresses = {"240.240.0.1", "2001:2::1"};
  return se;
}

policy::ServiceEntry meshInternal() {
  auto se = serviceEntry("production", "internal", {"internal.svc"}, {"10.50.0.0/16"}, {port(8080, PortProtocol::kHttp)});
  se.location = policy::Location::kMeshInternal;
  return se;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerDestinations,
    ::testing::Values(
        DestinationCase{"V4Cidr",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"192.0.2.0/24"}, {port(443)})},
                        {{kApp, "192.0.2.77", 443, kTcp, kAllowed, kMatch, "ext/a"},
                         {kApp, "192.0.2.77", 80, kTcp, kDenied, kNotInRegistry},
                         {kApp, "192.0.2.77", 443, kUdp, kDenied, kNotInRegistry},
                         {kApp, "192.0.3.1", 443, kTcp, kDenied, kNotInRegistry},
                         {kApp, "::ffff:192.0.2.77", 443, kTcp, kAllowed, kMatch, "ext/a"}}},
        DestinationCase{"V4HostBitsMasked",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"192.0.2.77/24"}, {port(443)})},
                        {{kApp, "192.0.2.1", 443, kTcp, kAllowed, kMatch, "ext/a"}}},
        DestinationCase{"V4SingleIp",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"192.0.2.10"}, {port(443), port(80)})},
                        {{kApp, "192.0.2.10", 80, kTcp, kAllowed, kMatch, "ext/a"},
                         {kApp, "192.0.2.11", 80, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"V6Cidr",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"2001:db8::/32"}, {port(443)})},
                        {{kApp, "2001:db8::5", 443, kTcp, kAllowed, kMatch, "ext/a"},
                         {kApp, "2001:db9::5", 443, kTcp, kDenied, kNotInRegistry},
                         {kApp, "2001:db8::5", 444, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"UdpPort",
                        {serviceEntry("ext", "ntp", {"ntp.example.com"}, {"192.0.2.123"}, {port(123, PortProtocol::kUdp)})},
                        {{kApp, "192.0.2.123", 123, kUdp, kAllowed, kMatch, "ext/ntp"},
                         {kApp, "192.0.2.123", 123, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"TcpFamilyProtocols",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"192.0.2.1"},
                                      {port(80, PortProtocol::kHttp), port(443, PortProtocol::kTls),
                                       port(9000, PortProtocol::kGrpc), port(27017, PortProtocol::kMongo)})},
                        {{kApp, "192.0.2.1", 80, kTcp, kAllowed, kMatch},
                         {kApp, "192.0.2.1", 443, kTcp, kAllowed, kMatch},
                         {kApp, "192.0.2.1", 9000, kTcp, kAllowed, kMatch},
                         {kApp, "192.0.2.1", 27017, kTcp, kAllowed, kMatch},
                         {kApp, "192.0.2.1", 80, kUdp, kDenied, kNotInRegistry}}},
        DestinationCase{"OverlappingPrefixesFlattened",
                        {serviceEntry("ext", "wide", {"wide.example.com"}, {"10.0.0.0/8"}, {port(443)}),
                         serviceEntry("ext", "narrow", {"narrow.example.com"}, {"10.1.0.0/16"}, {port(80)})},
                        {{kApp, "10.1.2.3", 443, kTcp, kAllowed, kMatch, "ext/wide"},
                         {kApp, "10.1.2.3", 80, kTcp, kAllowed, kMatch, "ext/narrow"},
                         {kApp, "10.2.0.1", 80, kTcp, kDenied, kNotInRegistry},
                         {kApp, "10.2.0.1", 443, kTcp, kAllowed, kMatch, "ext/wide"}}},
        DestinationCase{"ThreeLevelsAndMostSpecificNamed",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"10.0.0.0/8"}, {port(443)}),
                         serviceEntry("ext", "b", {"b.example.com"}, {"10.1.0.0/16"}, {port(443)}),
                         serviceEntry("ext", "c", {"c.example.com"}, {"10.1.2.3"}, {port(22)})},
                        {{kApp, "10.1.2.3", 443, kTcp, kAllowed, kMatch, "ext/b"},
                         {kApp, "10.1.2.3", 22, kTcp, kAllowed, kMatch, "ext/c"},
                         {kApp, "10.9.2.3", 443, kTcp, kAllowed, kMatch, "ext/a"},
                         {kApp, "10.9.2.3", 22, kTcp, kDenied, kNotInRegistry}}},
        // TLS and HTTP ports are matched by name (learned IPs), not any IP.
        DestinationCase{"NoneWithoutAddressesTlsPortUsesLearnedIps",
                        {serviceEntry("ext", "any", {"any.example.com"}, {}, {port(8443, PortProtocol::kTls)}, {},
                                      Resolution::kNone)},
                        {{kApp, "203.0.113.9", 8443, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"NoneWithoutAddressesAllowsAnyIpOnTcpPort",
                        {serviceEntry("ext", "any", {"any.example.com"}, {}, {port(8443, PortProtocol::kTcp)}, {},
                                      Resolution::kNone)},
                        {{kApp, "203.0.113.9", 8443, kTcp, kAllowed, kMatch, "ext/any"},
                         {kApp, "2001:db8::1", 8443, kTcp, kAllowed, kMatch, "ext/any"},
                         {kApp, "203.0.113.9", 443, kTcp, kDenied, kNotInRegistry}},
                        {},
                        1},
        DestinationCase{"NoneWithoutAddressesUdpAllowsNothing",
                        {serviceEntry("ext", "any", {"any.example.com"}, {}, {port(5353, PortProtocol::kUdp)}, {},
                                      Resolution::kNone)},
                        {{kApp, "203.0.113.9", 5353, kUdp, kDenied, kNotInRegistry}},
                        {},
                        1},
        DestinationCase{"DnsHostnameWithoutAddressesAllowsNothing",
                        {withResolution(serviceEntry("ext", "h", {"h.example.com"}, {}, {port(443)}), Resolution::kDns)},
                        {{kApp, "203.0.113.9", 443, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"StaticEndpointsWithPortMapping",
                        {staticEndpoints()},
                        {{kApp, "198.51.100.5", 9443, kTcp, kAllowed, kMatch, "ext/db"},
                         {kApp, "198.51.100.5", 443, kTcp, kDenied, kNotInRegistry},
                         {kApp, "198.51.100.5", 80, kTcp, kAllowed, kMatch, "ext/db"},
                         {kApp, "198.51.100.6", 443, kTcp, kAllowed, kMatch, "ext/db"},
                         {kApp, "198.51.100.7", 443, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"EndpointsIgnoredUnlessStaticOrDns",
                        {withResolution(staticEndpoints(), Resolution::kDynamicDns)},
                        {{kApp, "198.51.100.6", 443, kTcp, kDenied, kNotInRegistry}}},
        // Envoy's DNS clusters send to what the endpoint address resolves to;
        // an IP resolves to itself.
        DestinationCase{"DnsEndpointIpsAllowedLikeStatic",
                        {withResolution(staticEndpoints(), Resolution::kDns)},
                        {{kApp, "198.51.100.6", 443, kTcp, kAllowed, kMatch, "ext/db"}}},
        DestinationCase{"TargetPortThenEndpointPort",
                        {targetPort()},
                        {{kApp, "198.51.100.7", 8443, kTcp, kAllowed, kMatch, "ext/tp"},
                         {kApp, "198.51.100.7", 443, kTcp, kDenied, kNotInRegistry},
                         {kApp, "198.51.100.8", 7443, kTcp, kAllowed, kMatch, "ext/tp"},
                         {kApp, "198.51.100.8", 8443, kTcp, kDenied, kNotInRegistry}}},
        DestinationCase{"StatusAddresses",
                        {statusAddress()},
                        {{kApp, "240.240.0.1", 443, kTcp, kAllowed, kMatch, "ext/vip"},
                         {kApp, "2001:2::1", 443, kTcp, kAllowed, kMatch, "ext/vip"}}},
        DestinationCase{"MeshInternalAddresses",
                        {meshInternal()},
                        {{kApp, "10.50.3.4", 8080, kTcp, kAllowed, kMatch, "production/internal"}}},
        DestinationCase{"InvalidAddressSkippedOthersApply",
                        {serviceEntry("ext", "a", {"a.example.com"}, {"not-an-ip", "192.0.2.1", "10.0.0.0/33"},
                                      {port(443), port(70000)})},
                        {{kApp, "192.0.2.1", 443, kTcp, kAllowed, kMatch, "ext/a"}},
                        {},
                        0,
                        3},
        DestinationCase{"ClusterCidrAlwaysAllowedEveryPortBothProtocols",
                        {serviceEntry("ext", "in", {"in.example.com"}, {"10.96.5.0/24"}, {port(443)})},
                        {{kApp, "10.96.0.1", 12345, kTcp, kAllowed, kAlways},
                         {kApp, "10.96.0.1", 53, kUdp, kAllowed, kAlways},
                         {kApp, "10.96.5.1", 443, kTcp, kAllowed, kAlways},  // folded into the exact port
                         {kApp, "10.96.5.1", 80, kTcp, kAllowed, kAlways},   // second probe, port 0
                         {kApp, "fd00::1", 80, kTcp, kAllowed, kAlways},
                         {kApp, "10.112.0.1", 80, kTcp, kDenied, kNotInRegistry}},
                        options({"10.96.0.0/12", "fd00::/8"})},
        DestinationCase{"DnsServersAlwaysAllowedOnTheirPort",
                        {},
                        {{kApp, "10.0.0.10", 53, kUdp, kAllowed, kAlways},
                         {kApp, "10.0.0.10", 53, kTcp, kAllowed, kAlways},
                         {kApp, "10.0.0.10", 54, kUdp, kDenied, kNotInRegistry},
                         {kApp, "10.0.0.11", 53, kUdp, kDenied, kNotInRegistry},
                         {kApp, "2001:db8::53", 5353, kUdp, kAllowed, kAlways}},
                        options({}, {{"10.0.0.10", 53}, {"2001:db8::53", 5353}})},
        DestinationCase{"BadOptionsReported",
                        {},
                        {{kApp, "10.0.0.10", 53, kUdp, kDenied, kNotInRegistry}},
                        options({"nonsense"}, {{"dns.local", 53}}),
                        0,
                        2},
        DestinationCase{"LoopbackAlwaysAllowed",
                        {},
                        {{kApp, "127.0.0.1", 80, kTcp, kAllowed, EGRESSD_REASON_LOOPBACK},
                         {kApp, "::1", 80, kTcp, kAllowed, EGRESSD_REASON_LOOPBACK},
                         {kApp, "0.0.0.0", 80, kTcp, kAllowed, EGRESSD_REASON_LOOPBACK}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CompilerDestinations, FlattenedClassesHoldCoveringPorts) {
  policy::PolicySnapshot snap;
  snap.service_entries = {serviceEntry("ext", "wide", {"w"}, {"10.0.0.0/8"}, {port(443)}),
                          serviceEntry("ext", "narrow", {"n"}, {"10.1.0.0/16"}, {port(80)})};
  snap.workloads = {workload("production", "app")};
  auto out = compileAll(snap, options({"10.1.2.0/24"}));
  ASSERT_EQ(out.desired.prefixes.size(), 3u);
  const uint32_t narrow = out.desired.prefixes.at(*parsePrefix("10.1.0.0/16")).class_id;
  const uint32_t cluster = out.desired.prefixes.at(*parsePrefix("10.1.2.0/24")).class_id;
  auto has = [&](uint32_t cls, uint16_t p, uint8_t proto) {
    return out.desired.ports.count(egressd_port_key{cls, p, proto, 0}) > 0;
  };
  EXPECT_TRUE(has(narrow, 80, kTcp));
  EXPECT_TRUE(has(narrow, 443, kTcp));
  EXPECT_FALSE(has(narrow, 0, kTcp));
  // The cluster /24 inherits 80 and 443, with ALWAYS folded in, and port 0.
  for (uint16_t p : {0, 80, 443}) {
    ASSERT_TRUE(has(cluster, p, kTcp)) << p;
    EXPECT_TRUE(out.desired.ports.at(egressd_port_key{cluster, p, kTcp, 0}).flags & EGRESSD_PORT_F_ALWAYS);
  }
  EXPECT_TRUE(has(cluster, 0, kUdp));
  EXPECT_EQ(out.services.at(out.desired.ports.at(egressd_port_key{narrow, 443, kTcp, 0}).service_id), "ext/wide");
}

TEST(CompilerDestinations, ScopeBitsFollowVisibility) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  snap.service_entries = {serviceEntry("a", "se", {"a"}, {"192.0.2.1"}, {port(443)}, {"."}),
                          serviceEntry("b", "se", {"b"}, {"192.0.2.1"}, {port(443)}, {"."})};
  snap.workloads = {workload("a", "app"), workload("b", "app"), workload("c", "app")};
  auto out = compileAll(snap);
  ASSERT_EQ(out.desired.ports.size(), 1u);
  const auto& value = out.desired.ports.begin()->second;
  EXPECT_EQ(value.allow_scopes[0], (1ull << scopeOf(out, "a/app")->id) | (1ull << scopeOf(out, "b/app")->id));
  expectProbes(out, {{"a/app", "192.0.2.1", 443, kTcp, kAllowed, kMatch, "a/se"},
                     {"b/app", "192.0.2.1", 443, kTcp, kAllowed, kMatch, "b/se"},
                     {"c/app", "192.0.2.1", 443, kTcp, kDenied, kNotInRegistry}});
}

}  // namespace
}  // namespace egressd::compiler::testing
