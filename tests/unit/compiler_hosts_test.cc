// ServiceEntry hosts -> host classes, dest_ports and dns_names, with the same
// visibility as addresses; hostname endpoints resolved by the agent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "../../bpf/lib/dns_parse.h"
#include "compiler/host_classes.h"
#include "compiler_test_util.h"

namespace egressd::compiler::testing {
namespace {

using policy::Resolution;

// What the kernel computes for a question name: the suffix hash of its k
// last labels (k = 0: the whole name).
uint64_t kernelSuffixHash(const std::string& name, size_t drop_labels = 0) {
  std::string text = name;
  for (size_t i = 0; i < drop_labels; ++i) text = text.substr(text.find('.') + 1);
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = 0;
  int len = dns_rname_from_text(text.data(), static_cast<__u32>(text.size()), rname, &wildcard);
  return dns_rname_hash(rname, static_cast<__u32>(len));
}

const egressd_dns_name_value* nameEntry(const CompileOutput& out, uint64_t hash) {
  auto it = out.desired.dns_names.find(egressd_dns_name_key{hash});
  return it == out.desired.dns_names.end() ? nullptr : &it->second;
}

bool hasScope(const __u64* words, uint32_t scope) { return (words[scope / 64] >> (scope % 64)) & 1; }

uint32_t scopeOf(const CompileOutput& out, const std::string& workload) {
  return out.desired.workloads.at(egressd_workload_key{out.workload_cgroups.at(workload)}).scope_id;
}

policy::PolicySnapshot twoNamespaces() {
  policy::PolicySnapshot s;
  s.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  s.workloads = {workload("production", "web"), workload("billing", "api")};
  s.service_entries = {
      serviceEntry("production", "github", {"API.GitHub.com.", "*.example.com"}, {}, {port(443)}, {"."},
                   Resolution::kNone),
      serviceEntry("billing", "pay", {"pay.example.net"}, {}, {port(443), port(53, policy::PortProtocol::kUdp)},
                   {"."}, Resolution::kDns),
  };
  return s;
}

TEST(CompilerHosts, NormalizesHostsLikeTheParser) {
  auto exact = normalizeHost("API.GitHub.com.");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->text, "api.github.com");
  EXPECT_FALSE(exact->wildcard);
  EXPECT_EQ(rnameHash(exact->rname), kernelSuffixHash("api.github.com"));
  auto wild = normalizeHost("*.Example.com");
  ASSERT_TRUE(wild);
  EXPECT_TRUE(wild->wildcard);
  EXPECT_EQ(rnameHash(wild->rname), kernelSuffixHash("example.com"));
  EXPECT_FALSE(normalizeHost("*"));
  EXPECT_FALSE(normalizeHost("svc"));
  EXPECT_FALSE(normalizeHost("a.*.example.com"));
}

TEST(CompilerHosts, HostClassesOpenPortsOnlyToScopesThatSeeThem) {
  auto out = compileAll(twoNamespaces());
  ASSERT_TRUE(out.errors.empty()) << out.errors[0];
  const uint32_t prod = scopeOf(out, "production/web");
  const uint32_t billing = scopeOf(out, "billing/api");

  const auto* api = nameEntry(out, kernelSuffixHash("api.github.com"));
  ASSERT_NE(api, nullptr);
  EXPECT_NE(api->exact_class, 0u);
  EXPECT_EQ(api->wildcard_class, 0u);
  EXPECT_TRUE(hasScope(api->exact_scopes, prod));
  EXPECT_FALSE(hasScope(api->exact_scopes, billing));
  EXPECT_EQ(out.host_classes.at(api->exact_class), "api.github.com");

  egressd_port_key key{};
  key.class_id = api->exact_class;
  key.port = 443;
  key.protocol = kTcp;
  ASSERT_EQ(out.desired.ports.count(key), 1u);
  EXPECT_TRUE(hasScope(out.desired.ports.at(key).allow_scopes, prod));
  EXPECT_FALSE(hasScope(out.desired.ports.at(key).allow_scopes, billing));

  const auto* wild = nameEntry(out, kernelSuffixHash("example.com"));
  ASSERT_NE(wild, nullptr);
  EXPECT_EQ(wild->exact_class, 0u);  // the apex is not a host
  EXPECT_NE(wild->wildcard_class, 0u);
  EXPECT_EQ(wild->rname_len, 12u);  // \3com\7example

  const auto* pay = nameEntry(out, kernelSuffixHash("pay.example.net"));
  ASSERT_NE(pay, nullptr);
  EXPECT_TRUE(hasScope(pay->exact_scopes, billing));
  key.class_id = pay->exact_class;
  key.port = 53;
  key.protocol = kUdp;
  EXPECT_EQ(out.desired.ports.count(key), 1u);
}

TEST(CompilerHosts, ExactAndWildcardOfTheSameNameShareOneEntry) {
  policy::PolicySnapshot s;
  s.workloads = {workload("ns", "w")};
  s.service_entries = {serviceEntry("ns", "a", {"example.com", "*.example.com"}, {}, {port(443)}, {},
                                    Resolution::kNone)};
  auto out = compileAll(s);
  const auto* e = nameEntry(out, kernelSuffixHash("example.com"));
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->exact_class, 0u);
  EXPECT_NE(e->wildcard_class, 0u);
  EXPECT_NE(e->exact_class, e->wildcard_class);
}

TEST(CompilerHosts, StaticEntriesAndInvisibleHostsAreNotLearned) {
  policy::PolicySnapshot s;
  s.workloads = {workload("ns", "w")};
  s.service_entries = {
      serviceEntry("ns", "static", {"static.example.com"}, {"192.0.2.1"}, {port(443)}),
      serviceEntry("other", "hidden", {"hidden.example.com"}, {}, {port(443)}, {"."}, Resolution::kDns),
  };
  auto out = compileAll(s);
  EXPECT_EQ(nameEntry(out, kernelSuffixHash("static.example.com")), nullptr);
  EXPECT_EQ(nameEntry(out, kernelSuffixHash("hidden.example.com")), nullptr);
  EXPECT_TRUE(out.host_classes.empty());
}

TEST(CompilerHosts, HostClassIdsAreStableAndNeverCollideWithPrefixes) {
  auto a = compileAll(twoNamespaces());
  auto s = twoNamespaces();
  s.service_entries.push_back(serviceEntry("production", "more", {"more.example.org"}, {"198.51.100.0/24"},
                                           {port(80)}));
  auto b = compileAll(s);
  for (const auto& [id, host] : a.host_classes) {
    auto it = std::find_if(b.host_classes.begin(), b.host_classes.end(), [&](const auto& kv) { return kv.second == host; });
    ASSERT_NE(it, b.host_classes.end());
    EXPECT_EQ(it->first, id) << host;
    for (const auto& [prefix, value] : b.desired.prefixes) EXPECT_NE(value.class_id, id);
  }
}

TEST(CompilerHosts, TrustedResolversBecomeDnsServers) {
  auto out = compileAll(twoNamespaces(), options({}, {{"10.96.0.10", 53}, {"fd00::53", 5353}, {"bad", 53}}));
  EXPECT_EQ(out.desired.dns_servers.size(), 2u);
  egressd_dns_server_key key{};
  key.addr[10] = key.addr[11] = 0xff;
  key.addr[12] = 10;
  key.addr[13] = 96;
  key.addr[14] = 0;
  key.addr[15] = 10;
  key.port = 53;
  EXPECT_EQ(out.desired.dns_servers.count(key), 1u);
}

TEST(CompilerHosts, HostnameEndpointsUseTheAgentsResolution) {
  policy::PolicySnapshot s;
  s.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  s.workloads = {workload("ns", "w")};
  auto se = serviceEntry("ns", "db", {"db.example.com"}, {}, {port(5432)}, {}, Resolution::kDnsRoundRobin);
  se.endpoints = {endpoint("db-1.internal.example"), endpoint("198.51.100.9")};
  s.service_entries = {se};
  EXPECT_EQ(endpointHostnames(s), std::vector<std::string>{"db-1.internal.example"});

  CompileOptions o;
  auto before = compileAll(s, o);
  auto ex = explainConnection(before, "ns/w", "203.0.113.5", 5432, kTcp);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->verdict, EGRESSD_VERDICT_DENIED);

  o.resolved_endpoints["db-1.internal.example"] = {"203.0.113.5", "2001:db8::5"};
  auto after = compileAll(s, o);
  for (const char* ip : {"203.0.113.5", "2001:db8::5", "198.51.100.9"}) {
    ex = explainConnection(after, "ns/w", ip, 5432, kTcp);
    ASSERT_TRUE(ex.ok());
    EXPECT_EQ(ex->verdict, EGRESSD_VERDICT_ALLOWED) << ip;
    EXPECT_EQ(ex->reason, EGRESSD_REASON_REGISTRY_MATCH) << ip;
  }
}

}  // namespace
}  // namespace egressd::compiler::testing
