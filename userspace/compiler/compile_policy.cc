// compilePolicy(): Istio egress API -> desired kernel map contents.
//
// Kernel contract (bpf/lib/policy.h implements it; explain.cc is its twin):
//   1. workloads[cgroup id] -> scope id; no entry: NOT_WORKLOAD, untouched.
//   2. Loopback and unspecified (127/8, ::1, 0.0.0.0, ::, v4-mapped): allowed.
//   3. dest_prefixes: longest match of the destination (IPv4 as ::ffff:a.b.c.d,
//      prefixlen + 96) -> class_id. No match: no entry, go to 6.
//   4. dest_ports: look up {class_id, port, proto}; if there is NO entry, look
//      up {class_id, 0, proto} once more. PORT 0 MEANS "ANY PORT" (used by
//      --cluster-cidr). The compiler folds every port-0 entry into each exact
//      port entry of the same class and protocol, so the first entry found is
//      complete: never combine the two.
//   5. entry flags & EGRESSD_PORT_F_ALWAYS -> ALWAYS_ALLOWED (before the scope
//      check: it depends on no scope); scope slot not ACTIVE -> UNKNOWN_SCOPE,
//      denied; scope bit set in allow_scopes -> REGISTRY_MATCH.
//   5b. dns_learned{scope, destination} not expired: for each host class id in
//      it, dest_ports{class, port, proto} (then port 0) with the scope bit ->
//      DNS_LEARNED. Host classes come from ServiceEntry hosts (host_classes.h);
//      the kernel learns their IPs from answers (bpf/lib/dns_learn.h).
//   6. Otherwise the scope's mode: ALLOW_ANY -> allowed (ALLOW_ANY), anything
//      else -> denied (NOT_IN_REGISTRY).
// Every distinct prefix is its own class already holding the ports of all
// covering prefixes, so the longest match alone decides.
#include <netinet/in.h>

#include <algorithm>
#include <set>

#include "compiler/address.h"
#include "compiler/compiler.h"
#include "compiler/destinations.h"
#include "compiler/host_classes.h"
#include "compiler/prefix_classes.h"
#include "compiler/scope_ids.h"
#include "compiler/scope_selection.h"
#include "compiler/visibility.h"

namespace egressd::compiler {
namespace {

std::string nsName(const policy::ObjectMeta& meta) { return meta.namespace_ + "/" + meta.name; }

struct ScopeBuild {
  std::string namespace_;
  const policy::Sidecar* sidecar = nullptr;
  std::vector<const policy::Workload*> workloads;
};

// Messages can repeat (one per workload or port): keep the first of each.
void dedupe(std::vector<std::string>& messages) {
  std::set<std::string> seen;
  std::erase_if(messages, [&](const std::string& m) { return !seen.insert(m).second; });
}

uint8_t toKernelMode(policy::OutboundMode mode) {
  return mode == policy::OutboundMode::kRegistryOnly ? EGRESSD_MODE_REGISTRY_ONLY : EGRESSD_MODE_ALLOW_ANY;
}

// Groups workloads into scopes; workloads without a cgroup id are reported.
std::map<std::string, ScopeBuild> groupScopes(const policy::PolicySnapshot& policy,
                                             const std::map<std::string, uint64_t>& workload_cgroups,
                                             CompileOutput& out) {
  std::vector<const policy::Workload*> workloads;
  for (const auto& w : policy.workloads) workloads.push_back(&w);
  std::sort(workloads.begin(), workloads.end(),
            [](const auto* a, const auto* b) { return nsName(a->meta) < nsName(b->meta); });

  std::set<std::string> known;
  std::map<std::string, ScopeBuild> scopes;
  for (const auto* w : workloads) {
    const std::string name = nsName(w->meta);
    known.insert(name);
    if (!workload_cgroups.count(name)) {
      out.errors.push_back("Workload " + name + ": no cgroup id known, not enforced");
      continue;
    }
    const auto* sidecar = selectSidecar(policy, *w, out.warnings);
    auto& scope = scopes[scopeKey(w->meta.namespace_, sidecar)];
    scope.namespace_ = w->meta.namespace_;
    scope.sidecar = sidecar;
    scope.workloads.push_back(w);
  }
  for (const auto& [name, cgroup] : workload_cgroups) {
    if (!known.count(name)) out.warnings.push_back("cgroup id for unknown workload " + name + " ignored");
  }
  return scopes;
}

void addAlwaysAllowed(const CompileOptions& options, PrefixTable& table, CompileOutput& out) {
  const auto cluster_id = static_cast<uint32_t>(out.services.size());
  out.services.push_back("(cluster-cidr)");
  const auto dns_id = static_cast<uint32_t>(out.services.size());
  out.services.push_back("(dns-server)");
  for (const auto& cidr : options.cluster_cidrs) {
    auto prefix = parsePrefix(cidr);
    if (!prefix) {
      out.errors.push_back("cluster CIDR '" + cidr + "' is not a CIDR, skipped");
      continue;
    }
    for (uint8_t proto : {uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}}) {
      table.grantAlways(*prefix, kAnyPort, proto, cluster_id);
    }
  }
  for (const auto& dns : options.dns_servers) {
    auto address = parseAddress(dns.ip);
    if (!address || dns.port == 0) {
      out.errors.push_back("DNS server '" + dns.ip + ":" + std::to_string(dns.port) + "' is invalid, skipped");
      continue;
    }
    for (uint8_t proto : {uint8_t{IPPROTO_UDP}, uint8_t{IPPROTO_TCP}}) {
      table.grantAlways(*address, dns.port, proto, dns_id);
    }
  }
}

// Hosts are learned from DNS unless the entry names its endpoints' IPs
// (STATIC): then those are where its traffic goes, whatever DNS says.
void grantHosts(const policy::ServiceEntry& se, const std::vector<std::pair<uint32_t, Import>>& importers,
                HostTable& hosts, uint32_t service_id, CompileOutput& out) {
  if (se.resolution == policy::Resolution::kStatic || importers.empty()) return;
  for (const auto& text : se.hosts) {
    auto host = normalizeHost(text);
    if (!host) {
      if (text != "*") {
        out.warnings.push_back("ServiceEntry " + nsName(se.meta) + ": host '" + text +
                               "' is not a fully qualified name: not learned from DNS answers");
      }
      continue;
    }
    for (const auto& port : se.ports) {
      if (port.number < 1 || port.number > 65535) continue;
      ScopeSet scopes{};
      for (const auto& [scope_id, import] : importers) {
        if (import.allows(port.number)) addScope(scopes, scope_id);
      }
      if (scopes != ScopeSet{})
        hosts.grant(*host, static_cast<uint16_t>(port.number), l4Protocol(port.protocol), scopes, service_id);
    }
  }
}

// Trusted resolvers for DNS learning (invalid ones were reported above).
void addDnsServers(const CompileOptions& options, DesiredState& desired) {
  for (const auto& dns : options.dns_servers) {
    auto address = parseAddress(dns.ip);
    if (!address || dns.port == 0) continue;
    egressd_dns_server_key key{};
    std::copy(std::begin(address->addr), std::end(address->addr), key.addr);
    key.port = dns.port;
    desired.dns_servers[key] = egressd_dns_server_value{};
  }
}

}  // namespace

std::vector<std::string> endpointHostnames(const policy::PolicySnapshot& policy) {
  std::set<std::string> names;
  for (const auto& se : policy.service_entries) {
    if (!resolvesEndpointHostnames(se)) continue;
    for (const auto& endpoint : se.endpoints) {
      if (!parseAddress(endpoint.address) && endpoint.address.rfind("unix://", 0) != 0) names.insert(endpoint.address);
    }
  }
  return {names.begin(), names.end()};
}

CompileOutput compilePolicy(const policy::PolicySnapshot& policy,
                            const std::map<std::string, uint64_t>& workload_cgroups,
                            const CompileOptions& options, const ScopeIds& previous) {
  CompileOutput out;

  // Service ids follow (namespace, name) order: deterministic across runs.
  std::vector<const policy::ServiceEntry*> entries;
  for (const auto& se : policy.service_entries) entries.push_back(&se);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return nsName(a->meta) < nsName(b->meta); });
  std::vector<std::vector<Destination>> destinations;
  for (const auto* se : entries) {
    out.services.push_back(nsName(se->meta));
    destinations.push_back(serviceEntryDestinations(*se, options.resolved_endpoints, out.warnings, out.errors));
  }

  // Scopes and their ids.
  auto builds = groupScopes(policy, workload_cgroups, out);
  std::vector<std::string> keys;
  for (const auto& [key, build] : builds) keys.push_back(key);
  const auto ids = assignScopeIds(keys, previous);
  for (const auto& [key, build] : builds) {
    const auto id = ids.at(key);
    if (!id) {
      std::string names;
      for (const auto* w : build.workloads) names += (names.empty() ? "" : ", ") + nsName(w->meta);
      out.errors.push_back("too many scopes (max " + std::to_string(EGRESSD_MAX_SCOPES) + "): scope " + key +
                           " not written, its workloads are not enforced: " + names);
      continue;
    }
    CompiledScope scope;
    scope.id = *id;
    scope.key = key;
    scope.namespace_ = build.namespace_;
    if (build.sidecar) scope.sidecar = nsName(build.sidecar->meta);
    scope.mode = build.sidecar && build.sidecar->outbound_mode ? *build.sidecar->outbound_mode
                                                               : policy.mesh.outbound_mode;
    for (const auto* w : build.workloads) {
      const std::string name = nsName(w->meta);
      const uint64_t cgroup = workload_cgroups.at(name);
      scope.workloads.push_back(name);
      out.workload_cgroups[name] = cgroup;
      out.desired.workloads[egressd_workload_key{cgroup}] = egressd_workload_value{*id, 0};
    }
    egressd_scope_value value{};
    value.flags = EGRESSD_SCOPE_F_ACTIVE;
    value.outbound_mode = toKernelMode(scope.mode);
    value.name_hash = scopeNameHash(key);
    out.desired.scopes[*id] = value;
    out.scope_ids[value.name_hash] = *id;
    out.scopes.push_back(std::move(scope));
  }

  // What each scope may reach, one ServiceEntry at a time.
  PrefixTable table;
  HostTable hosts;
  for (size_t s = 0; s < entries.size(); ++s) {
    const auto& se = *entries[s];
    std::vector<std::pair<uint32_t, Import>> importers;
    for (auto& scope : out.scopes) {
      const auto& build = builds.at(scope.key);
      if (!exportedTo(se, scope.namespace_, policy.mesh)) continue;
      auto import = sidecarImport(build.sidecar, scope.namespace_, se);
      if (!import) continue;
      scope.visible_service_entries.push_back(out.services[s]);
      importers.emplace_back(scope.id, std::move(*import));
    }
    for (const auto& d : destinations[s]) {
      ServiceGrant grant{d.prefix, d.port, d.protocol, static_cast<uint32_t>(s), {}};
      ScopeSet scopes{};
      for (const auto& [scope_id, import] : importers) {
        if (!import.allows(d.service_port)) continue;
        addScope(scopes, scope_id);
        grant.scope_ids.push_back(scope_id);
      }
      if (grant.scope_ids.empty()) continue;
      table.grant(d.prefix, d.port, d.protocol, scopes, grant.service_id);
      out.grants.push_back(std::move(grant));
    }
    grantHosts(se, importers, hosts, static_cast<uint32_t>(s), out);
  }
  addAlwaysAllowed(options, table, out);
  table.emit(out.desired);
  out.host_classes = hosts.emit(out.desired, out.errors);
  addDnsServers(options, out.desired);

  dedupe(out.warnings);
  dedupe(out.errors);
  return out;
}

}  // namespace egressd::compiler
