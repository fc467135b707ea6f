#pragma once
// Which version of each networking.istio.io kind the API server serves.
// Istio's CRDs serve v1, v1beta1 and v1alpha3 (older installs fewer); egressd
// prefers v1, then v1beta1, then v1alpha3. A kind whose CRD is not installed
// is absent from the answer (an empty set for its source), and the caller asks
// again later so that installing Istio afterwards is noticed.
#include <map>
#include <set>
#include <string>

#include "common/result.h"
#include "kube/transport.h"

namespace egressd::kube {

inline constexpr const char* kIstioNetworkingGroup = "networking.istio.io";

// kind -> version, for the kinds found.
using ServedVersions = std::map<std::string, std::string>;

// Pure: the preferred version of each kind, from the kinds each version serves.
ServedVersions preferredVersions(const std::map<std::string, std::set<std::string>>& kinds_by_version);

// GET /apis/networking.istio.io and each known version's resource list. An
// error (no answer, 5xx, 401...) means "unknown": keep what was known before.
Result<ServedVersions> discoverIstioNetworking(Transport& transport, const CancelCheck& cancelled);

}  // namespace egressd::kube
