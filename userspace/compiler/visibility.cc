#include "compiler/visibility.h"

#include <algorithm>

namespace egressd::compiler {
namespace {

// a ⊆ b in Istio's host semantics ("*.foo.com" covers any deeper name).
bool hostSubsetOf(const std::string& a, const std::string& b) {
  if (b == "*" || a == b) return true;
  if (b.size() > 1 && b[0] == '*') {
    const std::string_view suffix(b.data() + 1, b.size() - 1);  // ".foo.com"
    return a.size() > suffix.size() && std::string_view(a).ends_with(suffix);
  }
  return false;
}

bool namespaceImported(const std::string& import_ns, const std::string& entry_ns,
                       const std::string& workload_namespace) {
  if (import_ns == "*") return true;
  if (import_ns == "~") return false;
  if (import_ns == ".") return entry_ns == workload_namespace;
  return import_ns == entry_ns;
}

}  // namespace

bool exportedTo(const policy::ServiceEntry& entry, const std::string& workload_namespace,
                const policy::MeshConfig& mesh) {
  const auto& export_to = !entry.export_to.empty() ? entry.export_to : mesh.default_service_export_to;
  if (export_to.empty()) return true;  // Istio's default is "*"
  const std::string& own = entry.meta.namespace_;
  return std::any_of(export_to.begin(), export_to.end(), [&](const std::string& target) {
    if (target == "*") return true;
    if (target == "~") return false;
    if (target == ".") return own == workload_namespace;
    return target == workload_namespace;
  });
}

bool hostsOverlap(const std::string& imported, const std::string& service_host) {
  return hostSubsetOf(service_host, imported) || hostSubsetOf(imported, service_host);
}

std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const policy::ServiceEntry& entry) {
  if (!sidecar || sidecar->egress.empty()) return Import{.all_ports = true, .ports = {}};
  Import import;
  bool any = false;
  for (const auto& listener : sidecar->egress) {
    const bool matched = std::any_of(listener.hosts.begin(), listener.hosts.end(), [&](const std::string& h) {
      const auto slash = h.find('/');
      if (slash == std::string::npos) return false;  // rejected upstream
      const std::string import_ns = h.substr(0, slash);
      const std::string import_host = h.substr(slash + 1);
      if (!namespaceImported(import_ns, entry.meta.namespace_, workload_namespace)) return false;
      return std::any_of(entry.hosts.begin(), entry.hosts.end(),
                         [&](const std::string& se_host) { return hostsOverlap(import_host, se_host); });
    });
    if (!matched) continue;
    any = true;
    if (listener.port) {
      import.ports.insert(*listener.port);
    } else {
      import.all_ports = true;
    }
  }
  if (!any) return std::nullopt;
  return import;
}

}  // namespace egressd::compiler
