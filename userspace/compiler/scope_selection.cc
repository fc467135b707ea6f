#include "compiler/scope_selection.h"

#include <algorithm>

#include "compiler/visibility.h"

namespace egressd::compiler {
namespace {

// Istio takes the oldest of several candidates; we have no creation time, so
// the lowest name wins (deterministic) and the user is told.
const policy::Sidecar* pickOne(std::vector<const policy::Sidecar*> candidates, const std::string& what,
                               std::vector<std::string>& warnings) {
  if (candidates.empty()) return nullptr;
  std::sort(candidates.begin(), candidates.end(),
            [](const auto* a, const auto* b) { return a->meta.name < b->meta.name; });
  if (candidates.size() > 1) {
    std::string names;
    for (const auto* s : candidates) names += (names.empty() ? "" : ", ") + s->meta.name;
    warnings.push_back("Sidecar " + candidates.front()->meta.namespace_ + "/" + candidates.front()->meta.name +
                       " chosen among several " + what + " (" + names + "): Istio would pick the oldest");
  }
  return candidates.front();
}

}  // namespace

const policy::Sidecar* selectSidecar(const policy::PolicySnapshot& policy, const policy::Workload& workload,
                                     std::vector<std::string>& warnings) {
  const std::string& ns = workload.meta.namespace_;
  std::vector<const policy::Sidecar*> selected, ns_default, root_default;
  for (const auto& sidecar : policy.sidecars) {
    if (sidecar.meta.namespace_ == ns) {
      if (!sidecar.workload_selector) {
        ns_default.push_back(&sidecar);
      } else if (selectorMatches(*sidecar.workload_selector, workload.meta.labels)) {
        selected.push_back(&sidecar);
      }
    } else if (sidecar.meta.namespace_ == policy.mesh.root_namespace && !sidecar.workload_selector) {
      root_default.push_back(&sidecar);
    }
  }
  const std::string who = "for workload " + ns + "/" + workload.meta.name;
  if (!selected.empty()) return pickOne(std::move(selected), "selecting Sidecars " + who, warnings);
  if (!ns_default.empty()) return pickOne(std::move(ns_default), "selector-less Sidecars " + who, warnings);
  return pickOne(std::move(root_default), "root-namespace Sidecars " + who, warnings);
}

std::string scopeKey(const std::string& workload_namespace, const policy::Sidecar* sidecar) {
  std::string key = workload_namespace + "|";
  if (sidecar) key += sidecar->meta.namespace_ + "/" + sidecar->meta.name;
  return key;
}

}  // namespace egressd::compiler
