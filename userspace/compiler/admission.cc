#include "compiler/admission.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "compiler/destinations.h"
#include "compiler/scope_selection.h"

namespace egressd::compiler {
namespace {

std::string nameOf(const policy::ObjectMeta& meta) { return meta.namespace_ + "/" + meta.name; }

constexpr const char* kWorkloadEffect = "denied: no scope in the kernel (reason unknown_scope, --fail-mode)";
constexpr const char* kServiceEntryEffect = "not in force: what only it allows is denied";

// Which map a compile overflows, if any, and its capacity.
std::optional<std::pair<std::string, size_t>> overflow(const DesiredState& d, const MapCapacities& c) {
  if (d.prefixes.size() > c.prefixes) return std::pair{std::string("dest_prefixes"), c.prefixes};
  if (d.ports.size() > c.ports) return std::pair{std::string("dest_ports"), c.ports};
  if (d.dns_names.size() > c.dns_names) return std::pair{std::string("dns_names"), c.dns_names};
  return std::nullopt;
}

// Workloads in the rule's order take a place in `workloads`, and their
// scope one in `scopes`, while there is one. Those left out leave `cgroups`.
void admitWorkloads(const policy::PolicySnapshot& policy, const CompileOptions& options,
                    std::map<std::string, uint64_t>& cgroups, const MapCapacities& capacities,
                    std::vector<NotEnforced>& out) {
  std::vector<const policy::Workload*> order;
  for (const auto& w : policy.workloads)
    if (cgroups.count(nameOf(w.meta)) && !podExclusion(policy, w, options)) order.push_back(&w);
  if (order.size() <= capacities.workloads && order.size() <= capacities.scopes) return;  // cannot overflow
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return olderFirst(a->meta, a->source, b->meta, b->source);
  });
  std::set<std::string> scopes;
  size_t admitted = 0;
  std::vector<std::string> unused_warnings;
  for (const auto* w : order) {
    const std::string key = scopeKey(w->meta.namespace_, selectSidecar(policy, *w, unused_warnings));
    const char* kind = w->pod ? "Pod" : "Workload";
    if (!scopes.count(key) && scopes.size() >= capacities.scopes) {
      out.push_back({kind, nameOf(w->meta), "scopes", capacities.scopes, kWorkloadEffect});
    } else if (admitted >= capacities.workloads) {
      out.push_back({kind, nameOf(w->meta), "workloads", capacities.workloads, kWorkloadEffect});
    } else {
      scopes.insert(key);
      ++admitted;
      continue;
    }
    cgroups.erase(nameOf(w->meta));
  }
}

// What one entry adds, counted against what the entries before it added:
// distinct prefixes, (prefix or host, port, protocol) entries, host names.
// A lower bound for ports (the compiler folds covering prefixes' ports into
// longer ones); the compile after it has the last word.
struct Footprint {
  std::set<std::tuple<std::string, uint16_t, uint8_t>> ports;
  std::set<std::string> prefixes, names;
};

}  // namespace

bool olderFirst(const policy::ObjectMeta& a, const policy::SourceRef& a_source, const policy::ObjectMeta& b,
                const policy::SourceRef& b_source) {
  // Files ("" timestamp) first, then by time; within files, path and line.
  return std::tie(a.creation_timestamp, a_source.file, a_source.line, a.namespace_, a.name) <
         std::tie(b.creation_timestamp, b_source.file, b_source.line, b.namespace_, b.name);
}

AdmittedCompile compileWithinCapacity(const policy::PolicySnapshot& policy,
                                      const std::map<std::string, uint64_t>& workload_cgroups,
                                      const CompileOptions& options, const ScopeIds& previous,
                                      const GatewayIds& previous_gateways, const ClassIds& previous_classes,
                                      const MapCapacities& capacities, EntryCache* entry_cache) {
  AdmittedCompile out;
  std::map<std::string, uint64_t> cgroups = workload_cgroups;
  admitWorkloads(policy, options, cgroups, capacities, out.not_enforced);
  // Workloads left out leave the policy the compiler sees too (a local
  // Workload without a cgroup id is a compile error).
  std::optional<policy::PolicySnapshot> trimmed;
  if (!out.not_enforced.empty()) {
    trimmed = policy;
    std::erase_if(trimmed->workloads, [&](const policy::Workload& w) {
      return workload_cgroups.count(nameOf(w.meta)) && !cgroups.count(nameOf(w.meta));
    });
  }
  auto compile = [&](const policy::PolicySnapshot& p) {
    return compilePolicy(p, cgroups, options, previous, previous_gateways, previous_classes, entry_cache);
  };
  out.compiled = compile(trimmed ? *trimmed : policy);
  auto over = overflow(out.compiled.desired, capacities);
  if (!over) return out;

  // ServiceEntries in the rule's order, while their footprint fits.
  if (!trimmed) trimmed = policy;
  std::vector<const policy::ServiceEntry*> order;
  for (const auto& se : trimmed->service_entries) order.push_back(&se);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return olderFirst(a->meta, a->source, b->meta, b->source);
  });
  // Room the always-allowed entries take whatever the entries.
  const size_t reserved = options.cluster_cidrs.size() + options.dns_servers.size();
  Footprint used;
  std::vector<const policy::ServiceEntry*> admitted;
  std::vector<std::pair<const policy::ServiceEntry*, std::pair<std::string, size_t>>> left_out;
  for (const auto* se : order) {
    std::vector<std::string> unused_warnings, unused_errors;
    Footprint next = used;
    for (const auto& d : serviceEntryDestinations(*se, options.resolved_endpoints, unused_warnings, unused_errors)) {
      const std::string prefix(reinterpret_cast<const char*>(&d.prefix), sizeof(d.prefix));
      next.prefixes.insert(prefix);
      next.ports.insert({prefix, d.port, d.protocol});
    }
    for (const auto& host : se->hosts) {
      next.names.insert(host);
      for (const auto& port : se->ports) next.ports.insert({"host:" + host, static_cast<uint16_t>(port.number), 0});
    }
    std::optional<std::pair<std::string, size_t>> full;
    if (next.prefixes.size() + reserved > capacities.prefixes) full = {"dest_prefixes", capacities.prefixes};
    else if (next.ports.size() + reserved > capacities.ports) full = {"dest_ports", capacities.ports};
    else if (next.names.size() > capacities.dns_names) full = {"dns_names", capacities.dns_names};
    if (full) {
      left_out.emplace_back(se, *full);
      continue;
    }
    used = std::move(next);
    admitted.push_back(se);
  }
  // The compile decides: while a map still overflows (covering prefixes fold
  // their ports into longer ones), the youngest eighth of those admitted
  // goes too.
  for (int round = 0;; ++round) {
    std::set<const policy::ServiceEntry*> keep(admitted.begin(), admitted.end());
    policy::PolicySnapshot p = *trimmed;
    std::vector<policy::ServiceEntry> entries;
    for (const auto& se : trimmed->service_entries)
      if (keep.count(&se)) entries.push_back(se);
    p.service_entries = std::move(entries);
    out.compiled = compile(p);
    over = overflow(out.compiled.desired, capacities);
    if (!over || admitted.empty() || round == 16) break;
    const size_t drop = std::max<size_t>(1, admitted.size() / 8);
    for (size_t i = 0; i < drop; ++i) {
      left_out.emplace_back(admitted.back(), *over);
      admitted.pop_back();
    }
  }
  std::stable_sort(left_out.begin(), left_out.end(), [](const auto& a, const auto& b) {
    return olderFirst(a.first->meta, a.first->source, b.first->meta, b.first->source);
  });
  for (const auto& [se, full] : left_out)
    out.not_enforced.push_back({"ServiceEntry", nameOf(se->meta), full.first, full.second, kServiceEntryEffect});
  return out;
}

}  // namespace egressd::compiler
