#pragma once
// Which ServiceEntries a workload sees, as Istio decides it: first the
// ServiceEntry's exportTo (or the mesh default), then the selected Sidecar's
// egress hosts. A ServiceEntry's workloadSelector only picks endpoints and
// plays no part here.
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "policy/model.h"

namespace egressd::compiler {

bool exportedTo(const policy::ServiceEntry& entry, const std::string& workload_namespace,
                const policy::MeshConfig& mesh);

// Istio host matching in both directions: an import of "*.foo.com" takes
// "a.b.foo.com", and an import of "a.foo.com" takes (a narrowed copy of) the
// wildcard entry "*.foo.com". "*" matches everything.
bool hostsOverlap(const std::string& imported, const std::string& service_host);

// Ports of a ServiceEntry that a Sidecar imports: an egress listener without a
// port imports every port, one with a port only that port.
struct Import {
  bool all_ports = false;
  std::set<uint32_t> ports;
  bool allows(uint32_t port) const { return all_ports || ports.count(port) > 0; }
};

// nullopt when the Sidecar imports nothing of `entry`. No Sidecar, or one
// without egress, imports "*/*".
std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const policy::ServiceEntry& entry);

}  // namespace egressd::compiler
