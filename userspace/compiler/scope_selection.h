#pragma once
// Which Sidecar governs a workload, as Istio picks it: a selector match in the
// workload's namespace, else that namespace's selector-less Sidecar, else the
// root namespace's selector-less Sidecar. Never merged.
#include <string>
#include <vector>

#include "policy/model.h"

namespace egressd::compiler {

const policy::Sidecar* selectSidecar(const policy::PolicySnapshot& policy, const policy::Workload& workload,
                                     std::vector<std::string>& warnings);

// "production|istio-system/default", or "production|" without a Sidecar.
std::string scopeKey(const std::string& workload_namespace, const policy::Sidecar* sidecar);

}  // namespace egressd::compiler
