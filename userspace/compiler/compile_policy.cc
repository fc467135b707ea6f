// compilePolicy(): Istio egress API -> desired kernel map contents.
//
// The kernel decides in the order docs/ARCHITECTURE.md "The decision" states
// (bpf/lib/policy.h; explain.cc is its twin). What that order needs of the
// maps this compiler writes:
//   - dest_prefixes: the longest match of the destination (IPv4 as
//     ::ffff:a.b.c.d, prefixlen + 96) -> class_id;
//   - dest_ports {class_id, port, proto}, then {class_id, 0, proto}: PORT 0
//     MEANS "ANY PORT" (--cluster-cidr). Every port-0 entry is folded into
//     each exact port entry of the same class and protocol, so the first
//     entry found is complete: never combine the two;
//   - allow_scopes / redirect_scopes bits per scope; redirect bits are per
//     scope: a route any workload of the scope has applies to the whole
//     scope (reported when they differ: the safe side is through the
//     gateway, never around it);
//   - host classes (host_classes.h) for ServiceEntry hosts, whose IPs the
//     kernel learns from answers (bpf/lib/dns_learn.h).
// Every distinct prefix is its own class already holding the ports of all
// covering prefixes, so the longest match alone decides.
#include <netinet/in.h>

#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "compiler/address.h"
#include "compiler/compiler.h"
#include "compiler/destinations.h"
#include "compiler/entry_cache.h"
#include "compiler/gateway_routing.h"
#include "compiler/host_classes.h"
#include "compiler/prefix_classes.h"
#include "compiler/scope_ids.h"
#include "compiler/scope_selection.h"
#include "compiler/visibility.h"
#include "policy/hosts.h"

namespace egressd::compiler {
namespace {

std::string nsName(const policy::ObjectMeta& meta) { return meta.namespace_ + "/" + meta.name; }

std::string where(const policy::SourceRef& source) {
  if (source.file.empty()) return "";
  return " (" + source.file + (source.line > 0 ? ":" + std::to_string(source.line) : "") + ")";
}

std::optional<bool> auditLabel(const policy::ObjectMeta& meta) {
  auto it = meta.labels.find(policy::kAuditLabel);
  if (it == meta.labels.end() || (it->second != "true" && it->second != "false")) return std::nullopt;
  return it->second == "true";
}

// A scope (by id) and what it imports of the entry at hand.
using Importer = std::pair<uint32_t, const Import*>;

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
                                             const CompileOptions& options, CompileOutput& out) {
  std::vector<const policy::Workload*> workloads;
  for (const auto& w : policy.workloads) workloads.push_back(&w);
  std::sort(workloads.begin(), workloads.end(),
            [](const auto* a, const auto* b) { return nsName(a->meta) < nsName(b->meta); });

  std::set<std::string> known;
  std::map<std::string, ScopeBuild> scopes;
  for (const auto* w : workloads) {
    const std::string name = nsName(w->meta);
    known.insert(name);
    if (auto why = podExclusion(policy, *w, options)) {
      out.excluded_pods[name] = *why;
      continue;
    }
    if (!workload_cgroups.count(name)) {
      // A pod waits for its cgroup as a matter of course (reported by the
      // agent); a local Workload names one that should be there.
      if (!w->pod) out.errors.push_back("Workload " + name + ": no cgroup id known, not enforced");
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
void grantHosts(const policy::ServiceEntry& se, const std::vector<Importer>& importers,
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
      HostGrant grant{host->text, static_cast<uint16_t>(port.number), l4Protocol(port.protocol), service_id, {}};
      for (const auto& [scope_id, import] : importers) {
        if (!import->allowsHost(text, port.number)) continue;
        addScope(scopes, scope_id);
        grant.scope_ids.push_back(scope_id);
      }
      if (scopes == ScopeSet{}) continue;
      hosts.grant(*host, grant.port, grant.protocol, scopes, service_id);
      out.host_grants.push_back(std::move(grant));
    }
  }
}

// "address port" of a gateway target: the key that keeps its slot id.
std::string gatewayKey(const egressd_prefix_key& address, uint16_t port) {
  return formatPrefix(address) + " " + std::to_string(port);
}

// One gateway slot per (address, port). A target keeps the id the live map
// gives it: map sync writes slots before the ports that name them, so a
// renumbered slot would briefly send other routes to the wrong gateway. New
// targets take the lowest id no live target holds (then any free one).
struct GatewaySlots {
  const GatewayIds& previous;
  std::map<std::string, uint32_t> ids;
  std::map<uint32_t, std::pair<egressd_prefix_key, uint16_t>> targets;

  std::optional<uint32_t> freeId() const {
    std::set<uint32_t> held;
    for (const auto& [key, id] : previous) held.insert(id);
    for (const bool avoid_held : {true, false}) {
      for (uint32_t id = 1; id < EGRESSD_MAX_GATEWAYS; ++id) {
        if (!targets.count(id) && !(avoid_held && held.count(id))) return id;
      }
    }
    return std::nullopt;
  }

  std::optional<uint32_t> idFor(const GatewayTarget& target, CompileOutput& out) {
    for (const auto& text : target.addresses) {
      auto address = parseAddress(text);
      if (!address) continue;
      const std::string key = gatewayKey(*address, target.port);
      if (auto it = ids.find(key); it != ids.end()) return it->second;
      std::optional<uint32_t> id;
      if (auto it = previous.find(key);
          it != previous.end() && it->second > 0 && it->second < EGRESSD_MAX_GATEWAYS && !targets.count(it->second))
        id = it->second;
      else
        id = freeId();
      if (!id) {
        out.gateway_issues.push_back({"Service " + target.service, "too many gateway targets (max " +
                                      std::to_string(EGRESSD_MAX_GATEWAYS - 1) + "): not redirected"});
        return std::nullopt;
      }
      ids[key] = *id;
      targets[*id] = {*address, target.port};
      egressd_gateway_value value{};
      std::copy(std::begin(address->addr), std::end(address->addr), value.addr);
      value.port = target.port;
      value.family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
      value.flags = EGRESSD_GATEWAY_F_ACTIVE;
      out.desired.gateways[*id] = value;
      out.gateways[*id] = target.service + " " + text + ":" + std::to_string(target.port);
      return *id;
    }
    out.gateway_issues.push_back({"Service " + target.service,
                                  "has no cluster IP: routes to it are not redirected (the flow goes as the "
                                  "registry allows)"});
    return std::nullopt;
  }
};

// Routes of the scope's non-gateway workloads, merged; differences reported.
std::vector<GatewayRoute> scopeRoutes(const policy::PolicySnapshot& policy, const ScopeBuild& build,
                                      const std::string& scope_key, CompileOutput& out) {
  std::map<std::pair<std::string, uint16_t>, GatewayRoute> merged;
  std::map<std::pair<std::string, uint16_t>, size_t> seen;
  size_t routed_workloads = 0;
  for (const auto* w : build.workloads) {
    if (isGatewayWorkload(policy, w->meta.labels, w->meta.namespace_)) continue;
    ++routed_workloads;
    for (auto& route : gatewayRoutesForWorkload(policy, w->meta.namespace_, w->meta.labels, build.sidecar)) {
      const auto key = std::make_pair(route.host, route.port);
      ++seen[key];
      auto [it, inserted] = merged.try_emplace(key, route);
      if (!inserted && !(it->second.target == route.target))
        out.gateway_issues.push_back({"Workload " + nsName(w->meta), "routes " + route.host + ":" +
                                      std::to_string(route.port) + " to another gateway than other workloads of "
                                      "scope " + scope_key + ": the first (by name) is used for all"});
    }
  }
  std::vector<GatewayRoute> routes;
  for (auto& [key, route] : merged) {
    if (seen[key] != routed_workloads)
      out.gateway_issues.push_back({"VirtualService " + route.virtual_service,
                                    "routes " + route.host + ":" + std::to_string(route.port) +
                                        " for some workloads of scope " + scope_key +
                                        " only (sourceLabels): all of the scope's workloads are redirected"});
    routes.push_back(std::move(route));
  }
  return routes;
}

// The routes of importing scopes that this entry's hosts and ports carry:
// its static destinations (prefix classes) and, if DNS-learned, the route's
// host class get the scope's redirect bit.
void redirectRoutes(const policy::ServiceEntry& se, const std::vector<Destination>& destinations,
                    const std::vector<Importer>& importers, CompileOutput& out,
                    GatewaySlots& slots, PrefixTable& table, HostTable& hosts,
                    std::map<uint32_t, ScopeSet>& gateway_scopes) {
  for (const auto& importer : importers) {
    // Not a structured binding: the lambdas below capture them (clang 14, the fuzz build, can't).
    const uint32_t scope_id = importer.first;
    const Import& import = *importer.second;
    const auto scope = std::find_if(out.scopes.begin(), out.scopes.end(),
                                    [&](const CompiledScope& c) { return c.id == scope_id; });
    if (scope == out.scopes.end()) continue;
    for (const auto& route : scope->gateway_routes) {
      const bool carries = std::any_of(se.hosts.begin(), se.hosts.end(), [&](const std::string& h) {
        return policy::isHostSubset(route.host, h) && import.allowsHost(h, route.port);
      }) && std::any_of(se.ports.begin(), se.ports.end(), [&](const auto& p) { return p.number == route.port; });
      if (!carries) continue;
      auto gateway_id = slots.idFor(route.target, out);
      if (!gateway_id) continue;
      ScopeSet scopes{};
      addScope(scopes, scope_id);
      addScope(gateway_scopes[*gateway_id], scope_id);
      bool shared = false;
      for (const auto& d : destinations) {
        if (d.service_port != route.port || d.protocol != IPPROTO_TCP) continue;
        table.redirect(d.prefix, d.port, d.protocol, scopes, *gateway_id);
        shared = shared || se.hosts.size() != 1 || se.hosts.front() != route.host;
      }
      if (shared)
        out.gateway_issues.push_back({"ServiceEntry " + nsName(se.meta),
                                      "addresses are shared by several hosts: every connection to them on port " +
                                          std::to_string(route.port) + " goes through the gateway (route " +
                                          route.host + ")"});
      if (se.resolution != policy::Resolution::kStatic) {
        if (auto host = normalizeHost(route.host)) hosts.redirect(*host, route.port, IPPROTO_TCP, scopes, *gateway_id);
      }
    }
  }
}

// A redirected flow must reach the gateway even in REGISTRY_ONLY: its
// address:port is open (TCP) to every scope redirected to it.
void grantGatewayTargets(const GatewaySlots& slots, const std::map<uint32_t, ScopeSet>& gateway_scopes,
                         PrefixTable& table, CompileOutput& out) {
  for (const auto& [id, scopes] : gateway_scopes) {
    const auto& [address, port] = slots.targets.at(id);
    const auto service_id = static_cast<uint32_t>(out.services.size());
    out.services.push_back("(egress-gateway " + out.gateways.at(id) + ")");
    table.grant(address, port, IPPROTO_TCP, scopes, service_id);
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

// What each scope imports of each entry, into work[entry]->imports[scope].
// An entry whose hosts no other namespace defines is imported on its own
// (exportTo, Sidecar), and kept while it and the scopes stay the same; the
// entries sharing a host across namespaces go through the collision rule
// together, every time (another entry's change can change their lot).
void importsByEntry(const policy::PolicySnapshot& policy, const std::map<std::string, ScopeBuild>& builds,
                    const std::vector<const policy::ServiceEntry*>& entries,
                    const std::vector<EntryCache::Entry*>& work, EntryCache& cache, CompileOutput& out) {
  std::vector<EntryCache::ScopeView> views;
  for (const auto& scope : out.scopes) {
    const auto* sidecar = builds.at(scope.key).sidecar;
    views.push_back({scope.namespace_, sidecar ? std::optional(*sidecar) : std::nullopt});
  }
  cache.useScopes(std::move(views), policy.mesh.default_service_export_to);

  std::unordered_map<std::string_view, const std::string*> namespace_of;  // host -> its namespace, or nullptr: several
  for (const auto* se : entries)
    for (const auto& host : se->hosts) {
      auto [it, first] = namespace_of.try_emplace(host, &se->meta.namespace_);
      if (!first && it->second && *it->second != se->meta.namespace_) it->second = nullptr;
    }
  std::vector<size_t> alone, shared;
  for (size_t s = 0; s < entries.size(); ++s) {
    const bool collides = std::any_of(entries[s]->hosts.begin(), entries[s]->hosts.end(),
                                      [&](const std::string& h) { return namespace_of.at(h) == nullptr; });
    if (collides) {
      shared.push_back(s);
    } else if (!work[s]->imports_kept) {
      alone.push_back(s);
    }
  }
  std::vector<const policy::ServiceEntry*> shared_entries;
  for (size_t s : shared) shared_entries.push_back(entries[s]);
  for (size_t s : alone) {
    work[s]->imports.assign(out.scopes.size(), std::nullopt);
    work[s]->imports_kept = true;
  }
  for (size_t s : shared) {
    work[s]->imports.assign(out.scopes.size(), std::nullopt);
    work[s]->imports_kept = false;
  }
  for (size_t c = 0; c < out.scopes.size(); ++c) {
    const auto& scope = out.scopes[c];
    const auto* sidecar = builds.at(scope.key).sidecar;
    for (size_t s : alone) work[s]->imports[c] = entryImport(*entries[s], sidecar, scope.namespace_, policy.mesh);
    if (shared.empty()) continue;
    auto imports = scopeImports(shared_entries, sidecar, scope.namespace_, policy.mesh, out.warnings);
    for (size_t i = 0; i < shared.size(); ++i) work[shared[i]]->imports[c] = std::move(imports[i]);
  }
}

}  // namespace

// Audit mode: would-be denials are allowed and recorded with verdict `audit`.
AuditSetting workloadAudit(const policy::PolicySnapshot& policy, const policy::Workload& workload, bool mesh_audit) {
  if (mesh_audit) return {true, "--audit (mesh-wide)"};
  const std::string label = std::string(policy::kAuditLabel);
  if (auto own = auditLabel(workload.meta)) {
    return {*own, std::string(workload.pod ? "Pod " : "Workload ") + nsName(workload.meta) + " label " + label + ": \"" + (*own ? "true" : "false") +
                      "\"" + where(workload.source)};
  }
  for (const auto& ns : policy.namespaces) {
    if (ns.meta.name != workload.meta.namespace_) continue;
    if (auto set = auditLabel(ns.meta)) {
      return {*set, "Namespace " + ns.meta.name + " label " + label + ": \"" + (*set ? "true" : "false") + "\"" +
                        where(ns.source)};
    }
  }
  return {};
}

ClassIds classIdsFromLive(const DesiredState& live) {
  ClassIds ids;
  for (const auto& [prefix, value] : live.prefixes) {
    ids.prefixes[prefix] = value.class_id;
    ids.used.insert(value.class_id);
  }
  for (const auto& [key, value] : live.ports) ids.used.insert(key.class_id);
  for (const auto& [key, value] : live.dns_names) {
    std::vector<uint8_t> rname(value.rname, value.rname + std::min<size_t>(value.rname_len, sizeof(value.rname)));
    if (value.exact_class) ids.hosts[{rname, false}] = value.exact_class;
    if (value.wildcard_class) ids.hosts[{rname, true}] = value.wildcard_class;
    ids.used.insert(value.exact_class);
    ids.used.insert(value.wildcard_class);
  }
  ids.used.erase(0);
  return ids;
}

std::optional<std::string> podExclusion(const policy::PolicySnapshot& policy, const policy::Workload& workload,
                                        const CompileOptions& options) {
  if (!workload.pod) return std::nullopt;
  const std::string& ns = workload.meta.namespace_;
  if (nsName(workload.meta) == options.own_pod) return "the agent's own pod";
  if (std::find(options.exclude_namespaces.begin(), options.exclude_namespaces.end(), ns) !=
      options.exclude_namespaces.end())
    return "namespace " + ns + " is excluded (--exclude-namespace)";
  for (const auto& n : policy.namespaces) {
    if (n.meta.name != ns) continue;
    auto label = n.meta.labels.find(policy::kEnforceLabel);
    if (label != n.meta.labels.end() && label->second == "false")
      return "Namespace " + ns + " label " + policy::kEnforceLabel + ": \"false\"";
  }
  return std::nullopt;
}

GatewayIds gatewayIdsFromLive(const DesiredState& live) {
  GatewayIds ids;
  for (const auto& [id, value] : live.gateways) {
    if (!(value.flags & EGRESSD_GATEWAY_F_ACTIVE)) continue;
    egressd_prefix_key address{};
    address.prefixlen = 128;
    std::copy(std::begin(value.addr), std::end(value.addr), address.addr);
    ids[gatewayKey(address, value.port)] = id;
  }
  return ids;
}

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
                            const CompileOptions& options, const ScopeIds& previous,
                            const GatewayIds& previous_gateways, const ClassIds& previous_classes,
                            EntryCache* entry_cache) {
  CompileOutput out;

  // Service ids follow (namespace, name) order: deterministic across runs.
  std::vector<const policy::ServiceEntry*> entries;
  for (const auto& se : policy.service_entries) entries.push_back(&se);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return nsName(a->meta) < nsName(b->meta); });
  // Each entry's own work, from the cache where the entry is unchanged.
  EntryCache uncached;
  EntryCache& cache = entry_cache ? *entry_cache : uncached;
  cache.beginCompile();
  std::deque<EntryCache::Entry> not_cached;  // entries whose destinations depend on resolved endpoints
  std::vector<EntryCache::Entry*> work;
  for (const auto* se : entries) {
    const std::string name = nsName(se->meta);
    out.services.push_back(name);
    EntryCache::Entry* entry = cache.find(name, *se);
    if (!entry) {
      EntryCache::Entry fresh{*se, {}, {}, {}, {}};
      fresh.destinations = serviceEntryDestinations(*se, options.resolved_endpoints, fresh.warnings, fresh.errors);
      entry = resolvesEndpointHostnames(*se) ? &not_cached.emplace_back(std::move(fresh))
                                              : &cache.store(name, std::move(fresh));
    }
    out.warnings.insert(out.warnings.end(), entry->warnings.begin(), entry->warnings.end());
    out.errors.insert(out.errors.end(), entry->errors.begin(), entry->errors.end());
    work.push_back(entry);
  }

  // Scopes and their ids.
  auto builds = groupScopes(policy, workload_cgroups, options, out);
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
      const AuditSetting audit = workloadAudit(policy, *w, options.audit);
      out.workload_audit[name] = audit;
      uint32_t flags = audit.on ? EGRESSD_WORKLOAD_F_AUDIT : 0;
      if (isGatewayWorkload(policy, w->meta.labels, w->meta.namespace_)) {
        flags |= EGRESSD_WORKLOAD_F_GATEWAY;
        scope.gateway_workloads.push_back(name);
      }
      out.desired.workloads[egressd_workload_key{cgroup}] = egressd_workload_value{*id, flags};
    }
    egressd_scope_value value{};
    value.flags = EGRESSD_SCOPE_F_ACTIVE;
    value.outbound_mode = toKernelMode(scope.mode);
    value.name_hash = scopeNameHash(key);
    out.desired.scopes[*id] = value;
    out.scope_ids[value.name_hash] = *id;
    scope.gateway_routes = scopeRoutes(policy, build, key, out);
    out.scopes.push_back(std::move(scope));
  }
  for (const auto& issue : routingIssues(policy)) out.gateway_issues.push_back(issue);

  // What each scope may reach, one ServiceEntry at a time.
  PrefixTable table;
  HostTable hosts;
  GatewaySlots slots{previous_gateways, {}, {}};
  std::map<uint32_t, ScopeSet> gateway_scopes;  // slot -> scopes redirected to it
  importsByEntry(policy, builds, entries, work, cache, out);
  for (size_t s = 0; s < entries.size(); ++s) {
    const auto& se = *entries[s];
    std::vector<Importer> importers;
    for (size_t c = 0; c < out.scopes.size(); ++c) {
      auto& scope = out.scopes[c];
      const auto& import = work[s]->imports[c];
      if (!import) continue;
      scope.visible_services.push_back(static_cast<uint32_t>(s));
      importers.emplace_back(scope.id, &*import);
    }
    for (const auto& d : work[s]->destinations) {
      ServiceGrant grant{d.prefix, d.port, d.protocol, static_cast<uint32_t>(s), {}};
      ScopeSet scopes{};
      for (const auto& [scope_id, import] : importers) {
        if (!import->allows(d.service_port)) continue;
        addScope(scopes, scope_id);
        grant.scope_ids.push_back(scope_id);
      }
      if (grant.scope_ids.empty()) continue;
      table.grant(d.prefix, d.port, d.protocol, scopes, grant.service_id);
      out.grants.push_back(std::move(grant));
    }
    grantHosts(se, importers, hosts, static_cast<uint32_t>(s), out);
    redirectRoutes(se, work[s]->destinations, importers, out, slots, table, hosts, gateway_scopes);
  }
  grantGatewayTargets(slots, gateway_scopes, table, out);
  addAlwaysAllowed(options, table, out);
  table.emit(out.desired, previous_classes);
  out.host_classes = hosts.emit(out.desired, out.errors, previous_classes);
  addDnsServers(options, out.desired);
  cache.endCompile();

  dedupe(out.warnings);
  dedupe(out.errors);
  std::set<std::pair<std::string, std::string>> seen_issues;
  std::erase_if(out.gateway_issues,
                [&](const RoutingIssue& i) { return !seen_issues.insert({i.object, i.message}).second; });
  return out;
}

}  // namespace egressd::compiler
