#pragma once
// Hand-built policy objects for compiler tests, YAML fixtures compiled through
// the parser and store, and a probe table runner that uses explainConnection
// as the oracle.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "policy/model.h"
#include "policy/parser.h"
#include "policy/policy_store.h"

namespace egressd::compiler::testing {

using Labels = std::map<std::string, std::string>;

inline policy::ObjectMeta meta(const std::string& ns, const std::string& name, Labels labels = {}) {
  return policy::ObjectMeta{name, ns, std::move(labels), ""};
}

inline policy::ServicePort port(uint32_t number, policy::PortProtocol protocol = policy::PortProtocol::kTcp,
                                const std::string& name = "") {
  policy::ServicePort p;
  p.number = number;
  p.protocol = protocol;
  p.name = name.empty() ? "p" + std::to_string(number) : name;
  return p;
}

inline policy::ServiceEntry serviceEntry(const std::string& ns, const std::string& name,
                                         std::vector<std::string> hosts, std::vector<std::string> addresses,
                                         std::vector<policy::ServicePort> ports,
                                         std::vector<std::string> export_to = {},
                                         policy::Resolution resolution = policy::Resolution::kStatic) {
  policy::ServiceEntry se;
  se.meta = meta(ns, name);
  se.hosts = std::move(hosts);
  se.addresses = std::move(addresses);
  se.ports = std::move(ports);
  se.export_to = std::move(export_to);
  se.resolution = resolution;
  return se;
}

inline policy::SidecarEgress egress(std::vector<std::string> hosts, std::optional<uint32_t> port = std::nullopt) {
  policy::SidecarEgress e;
  e.port = port;
  e.hosts = std::move(hosts);
  return e;
}

inline policy::WorkloadEntrySpec endpoint(const std::string& address, std::map<std::string, uint32_t> ports = {}) {
  policy::WorkloadEntrySpec e;
  e.address = address;
  e.ports = std::move(ports);
  return e;
}

inline CompileOptions options(std::vector<std::string> cluster_cidrs, std::vector<DnsServer> dns_servers = {}) {
  CompileOptions o;
  o.cluster_cidrs = std::move(cluster_cidrs);
  o.dns_servers = std::move(dns_servers);
  return o;
}

inline policy::Sidecar sidecar(const std::string& ns, const std::string& name, std::optional<Labels> selector = {},
                               std::vector<std::string> hosts = {},
                               std::optional<policy::OutboundMode> mode = std::nullopt) {
  policy::Sidecar sc;
  sc.meta = meta(ns, name);
  sc.workload_selector = std::move(selector);
  if (!hosts.empty()) sc.egress.push_back(egress(std::move(hosts)));
  sc.outbound_mode = mode;
  return sc;
}

inline policy::Workload workload(const std::string& ns, const std::string& name, Labels labels = {}) {
  policy::Workload w;
  w.meta = meta(ns, name, std::move(labels));
  return w;
}

// Every workload of the snapshot gets a cgroup id (1000, 1001, ...).
inline std::map<std::string, uint64_t> cgroupsFor(const policy::PolicySnapshot& snapshot) {
  std::map<std::string, uint64_t> out;
  uint64_t next = 1000;
  for (const auto& w : snapshot.workloads) out[w.meta.namespace_ + "/" + w.meta.name] = next++;
  return out;
}

inline CompileOutput compileAll(const policy::PolicySnapshot& snapshot, const CompileOptions& options = {},
                                const ScopeIds& previous = {}) {
  return compilePolicy(snapshot, cgroupsFor(snapshot), options, previous);
}

// A policy written as Istio YAML, through the parser (nothing may be
// rejected) and the store, then compiled; the snapshot too, for what reads it.
struct CompiledYaml {
  policy::PolicySnapshot snapshot;
  CompileOutput out;
};

inline CompiledYaml compileYaml(std::string_view yaml, const std::string& file = "policy.yaml") {
  policy::PolicyStore store;
  const auto parsed = policy::parseYaml(yaml, file);
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;
  store.apply(parsed);
  CompiledYaml c{store.snapshot(), {}};
  c.out = compileAll(c.snapshot);
  return c;
}

constexpr uint8_t kTcp = IPPROTO_TCP;
constexpr uint8_t kUdp = IPPROTO_UDP;

// One row: who connects where, and what the kernel must answer.
struct Probe {
  std::string workload;
  std::string ip;
  uint16_t port;
  uint8_t protocol;
  egressd_verdict verdict;
  egressd_reason reason;
  std::optional<std::string> service_entry = std::nullopt;  // checked when reason is REGISTRY_MATCH
};

inline void expectProbes(const CompileOutput& compiled, const std::vector<Probe>& probes) {
  for (const auto& p : probes) {
    SCOPED_TRACE(p.workload + " -> " + p.ip + ":" + std::to_string(p.port) + "/" + std::to_string(p.protocol));
    auto ex = explainConnection(compiled, p.workload, p.ip, p.port, p.protocol);
    ASSERT_TRUE(ex.ok()) << ex.error();
    EXPECT_EQ(ex->verdict, p.verdict) << ex->detail;
    EXPECT_EQ(ex->reason, p.reason) << ex->detail;
    if (p.reason == EGRESSD_REASON_REGISTRY_MATCH && p.service_entry) {
      EXPECT_EQ(ex->service_entry, p.service_entry) << ex->detail;
    }
  }
}

inline const CompiledScope* scopeOf(const CompileOutput& compiled, const std::string& workload) {
  for (const auto& s : compiled.scopes) {
    for (const auto& w : s.workloads) {
      if (w == workload) return &s;
    }
  }
  return nullptr;
}

constexpr auto kAllowed = EGRESSD_VERDICT_ALLOWED;
constexpr auto kDenied = EGRESSD_VERDICT_DENIED;
constexpr auto kMatch = EGRESSD_REASON_REGISTRY_MATCH;
constexpr auto kNotInRegistry = EGRESSD_REASON_NOT_IN_REGISTRY;
constexpr auto kAllowAny = EGRESSD_REASON_ALLOW_ANY;
constexpr auto kAlways = EGRESSD_REASON_ALWAYS_ALLOWED;

}  // namespace egressd::compiler::testing
