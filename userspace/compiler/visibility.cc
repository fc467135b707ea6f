#include "compiler/visibility.h"

#include <algorithm>

#include "policy/hosts.h"

namespace egressd::compiler {
namespace {

bool namespaceMatches(const std::string& import_ns, const std::string& object_ns,
                      const std::string& workload_namespace) {
  if (import_ns == "*") return true;
  if (import_ns == ".") return object_ns == workload_namespace;
  return import_ns == object_ns;
}

// Istio's selectServices for one listener and one host of an object: an
// exclusion in the object's namespace, or in "*", wins over every import.
bool listenerImports(const policy::SidecarEgress& listener, const std::string& workload_namespace,
                     const std::string& object_ns, const std::string& host) {
  bool imported = false;
  for (const std::string& text : listener.hosts) {
    const auto entry = parseEgressHost(text);
    if (!entry || !namespaceMatches(entry->ns, object_ns, workload_namespace)) continue;
    if (entry->exclude) {
      if (policy::isHostSubset(host, entry->host)) return false;
    } else if (hostsOverlap(entry->host, host)) {
      imported = true;
    }
  }
  return imported;
}

std::string nsName(const policy::ObjectMeta& meta) { return meta.namespace_ + "/" + meta.name; }

}  // namespace

bool selectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

bool exportedTo(const std::vector<std::string>& export_to, const std::vector<std::string>& mesh_default,
                const std::string& object_namespace, const std::string& workload_namespace) {
  const auto& targets = !export_to.empty() ? export_to : mesh_default;
  if (targets.empty()) return true;  // Istio's default is "*"
  return std::any_of(targets.begin(), targets.end(), [&](const std::string& target) {
    if (target == "*") return true;
    if (target == "~") return false;
    if (target == ".") return object_namespace == workload_namespace;
    return target == workload_namespace;
  });
}

bool exportedTo(const policy::ServiceEntry& entry, const std::string& workload_namespace,
                const policy::MeshConfig& mesh) {
  return exportedTo(entry.export_to, mesh.default_service_export_to, entry.meta.namespace_, workload_namespace);
}

bool hostsOverlap(const std::string& imported, const std::string& service_host) {
  return policy::isHostSubset(service_host, imported) || policy::isHostSubset(imported, service_host);
}

std::optional<EgressHost> parseEgressHost(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;  // rejected by validation
  EgressHost out;
  out.ns = text.substr(0, slash);
  out.host = text.substr(slash + 1);
  if (!out.ns.empty() && out.ns.front() == '~') {
    out.exclude = true;
    out.ns.erase(0, 1);
    if (out.ns.empty()) out.ns = "*";
  }
  return out;
}

bool Import::allows(uint32_t port) const {
  return std::any_of(hosts.begin(), hosts.end(), [&](const auto& h) { return h.second.allows(port); });
}

bool Import::allowsHost(const std::string& host, uint32_t port) const {
  auto it = hosts.find(host);
  return it != hosts.end() && it->second.allows(port);
}

std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const std::string& object_namespace, const std::vector<std::string>& hosts) {
  Import import;
  for (const std::string& host : hosts) {
    if (!sidecar || sidecar->egress.empty()) {
      import.hosts[host].all = true;
      continue;
    }
    for (const auto& listener : sidecar->egress) {
      if (listenerImports(listener, workload_namespace, object_namespace, host)) import.hosts[host].add(listener.port);
    }
  }
  if (import.hosts.empty()) return std::nullopt;
  return import;
}

std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const policy::ServiceEntry& entry) {
  return sidecarImport(sidecar, workload_namespace, entry.meta.namespace_, entry.hosts);
}

std::optional<Import> entryImport(const policy::ServiceEntry& entry, const policy::Sidecar* sidecar,
                                  const std::string& workload_namespace, const policy::MeshConfig& mesh) {
  if (!exportedTo(entry, workload_namespace, mesh)) return std::nullopt;
  return sidecarImport(sidecar, workload_namespace, entry);
}

std::vector<std::optional<Import>> scopeImports(const std::vector<const policy::ServiceEntry*>& entries,
                                                const policy::Sidecar* sidecar,
                                                const std::string& workload_namespace,
                                                const policy::MeshConfig& mesh, std::vector<std::string>& warnings) {
  std::vector<std::optional<Import>> imports(entries.size());
  std::map<std::string, std::set<std::string>> namespaces_of;  // hostname -> namespaces importing it
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = *entries[i];
    imports[i] = entryImport(entry, sidecar, workload_namespace, mesh);
    if (!imports[i]) continue;
    for (const auto& [host, ports] : imports[i]->hosts) namespaces_of[host].insert(entry.meta.namespace_);
  }
  for (const auto& [host, namespaces] : namespaces_of) {
    if (namespaces.size() < 2) continue;
    const std::string kept = namespaces.count(workload_namespace) ? workload_namespace : *namespaces.begin();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!imports[i] || entries[i]->meta.namespace_ == kept || !imports[i]->hosts.erase(host)) continue;
      warnings.push_back("ServiceEntry " + nsName(entries[i]->meta) + ": host '" + host +
                         "' is also imported from namespace " + kept + " by workloads of namespace " +
                         workload_namespace + "; as in Istio only that copy is used there");
      if (imports[i]->hosts.empty()) imports[i].reset();
    }
  }
  return imports;
}

}  // namespace egressd::compiler
