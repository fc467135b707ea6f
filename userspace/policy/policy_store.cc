#include "policy/policy_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "policy/describe.h"

namespace egressd::policy {
namespace {

using Key = std::tuple<std::string, std::string, std::string>;  // kind, namespace, name

bool fromUnreadable(const SourceRef& source, const std::vector<std::string>& unreadable) {
  for (const std::string& path : unreadable) {
    if (source.file == path) return true;
    // A whole directory that could not be listed covers every file in it.
    if (source.file.size() > path.size() && source.file.compare(0, path.size(), path) == 0 &&
        source.file[path.size()] == '/') {
      return true;
    }
  }
  return false;
}

struct Merge {
  const ParsedDocuments& fresh;
  std::map<Key, size_t> rejected;  // -> index in report.rejected
  PolicyStore::ApplyReport& report;

  // fresh objects win; a previous version survives only if its object was
  // rejected now or its file is unreadable, and nothing fresh replaced it.
  template <typename T>
  std::vector<T> run(const std::string& kind, const std::vector<T>& previous, const std::vector<T>& now) {
    std::vector<T> next;
    std::map<Key, SourceRef> defined;
    for (const T& object : now) {
      Key key{kind, object.meta.namespace_, object.meta.name};
      if (auto [it, fresh_key] = defined.emplace(key, object.source); !fresh_key) {
        report.rejected.push_back({kind, object.meta.namespace_, object.meta.name, object.source,
                                   "duplicate: " + kind + " " + object.meta.namespace_ + "/" + object.meta.name +
                                       " is already defined at " + describe(it->second)});
        continue;
      }
      next.push_back(object);
    }
    for (const T& object : previous) {
      Key key{kind, object.meta.namespace_, object.meta.name};
      if (defined.count(key) != 0) continue;
      auto rejection = rejected.find(key);
      if (rejection != rejected.end()) {
        const std::string from = describe(object.source);  // empty for an API object
        report.rejected[rejection->second].reason +=
            " (the previous valid version" + (from.empty() ? "" : " from " + from) + " stays in force)";
        next.push_back(object);
      } else if (fromUnreadable(object.source, fresh.unreadable_files)) {
        next.push_back(object);
      }
    }
    std::sort(next.begin(), next.end(), [](const T& a, const T& b) {
      return std::tie(a.meta.namespace_, a.meta.name) < std::tie(b.meta.namespace_, b.meta.name);
    });
    return next;
  }
};

// Istio allows one selector-less Sidecar per namespace; with several, which
// one applies is undefined. Keep the first by name, reject the others.
std::vector<Sidecar> dropConflictingSidecars(std::vector<Sidecar> sidecars, PolicyStore::ApplyReport& report) {
  std::map<std::string, std::string> default_by_namespace;
  std::vector<Sidecar> kept;
  for (Sidecar& sidecar : sidecars) {  // sorted by namespace, name
    if (!sidecar.workload_selector) {
      auto [it, first] = default_by_namespace.emplace(sidecar.meta.namespace_, sidecar.meta.name);
      if (!first) {
        report.rejected.push_back({"Sidecar", sidecar.meta.namespace_, sidecar.meta.name, sidecar.source,
                                   "namespace " + sidecar.meta.namespace_ +
                                       " already has a Sidecar without workloadSelector (\"" + it->second +
                                       "\"); only one is allowed per namespace"});
        continue;
      }
    }
    kept.push_back(std::move(sidecar));
  }
  return kept;
}

// The parser only ever rejects the mesh ConfigMap ("istio", or "istio-REV"
// for a revision): other ConfigMaps are not read.
bool meshRejected(const std::vector<Rejection>& rejected) {
  return std::any_of(rejected.begin(), rejected.end(), [](const Rejection& r) {
    return r.kind == "IstioOperator" || r.kind == "MeshConfig" || r.kind == "ConfigMap";
  });
}

}  // namespace

PolicyStore::ApplyReport PolicyStore::apply(const ParsedDocuments& fresh) {
  ApplyReport report;
  report.rejected = fresh.rejected;
  report.warnings = fresh.warnings;

  Merge merge{fresh, {}, report};
  for (size_t i = 0; i < fresh.rejected.size(); ++i) {
    const Rejection& r = fresh.rejected[i];
    merge.rejected.emplace(Key{r.kind, r.namespace_, r.name}, i);
  }

  PolicySnapshot next;
  next.service_entries = merge.run("ServiceEntry", snapshot_.service_entries, fresh.service_entries);
  next.sidecars = dropConflictingSidecars(merge.run("Sidecar", snapshot_.sidecars, fresh.sidecars), report);
  next.workloads = merge.run("Workload", snapshot_.workloads, fresh.workloads);
  next.namespaces = merge.run("Namespace", snapshot_.namespaces, fresh.namespaces);
  next.gateways = merge.run("Gateway", snapshot_.gateways, fresh.gateways);
  next.virtual_services = merge.run("VirtualService", snapshot_.virtual_services, fresh.virtual_services);
  next.destination_rules = merge.run("DestinationRule", snapshot_.destination_rules, fresh.destination_rules);
  next.services = merge.run("Service", snapshot_.services, fresh.services);

  if (fresh.mesh) {
    next.mesh = *fresh.mesh;
    mesh_source_ = fresh.mesh_source;
  } else if (mesh_source_ &&
             (meshRejected(fresh.rejected) || fromUnreadable(*mesh_source_, fresh.unreadable_files))) {
    next.mesh = snapshot_.mesh;  // keep the previous valid mesh config
  } else {
    mesh_source_.reset();
  }

  snapshot_ = std::move(next);
  report.objects = snapshot_.service_entries.size() + snapshot_.sidecars.size() + snapshot_.workloads.size() +
                   snapshot_.namespaces.size() +
                   snapshot_.gateways.size() + snapshot_.virtual_services.size() +
                   snapshot_.destination_rules.size() + snapshot_.services.size();
  return report;
}

}  // namespace egressd::policy
