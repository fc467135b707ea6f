#pragma once
// Istio's visibility rules, in one place: which ServiceEntries (and
// VirtualServices) a workload sees, as Istio's sidecar scope decides it.
// First the object's exportTo (or the mesh default), then the selected
// Sidecar's egress hosts ("ns/host" imports, "~ns/host" exclusions), then the
// host-collision rule (one namespace's copy of a hostname). A ServiceEntry's
// workloadSelector only picks endpoints and plays no part here. Selector
// matching and host overlap live here too, for every caller.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/model.h"

namespace egressd::compiler {

// Every selector label is on the workload (an empty selector matches all).
bool selectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels);

// exportTo of an object in `object_namespace` ("*", ".", "~", names); an
// empty list is `mesh_default`, and an empty default is "*".
bool exportedTo(const std::vector<std::string>& export_to, const std::vector<std::string>& mesh_default,
                const std::string& object_namespace, const std::string& workload_namespace);
bool exportedTo(const policy::ServiceEntry& entry, const std::string& workload_namespace,
                const policy::MeshConfig& mesh);

// Istio host matching in both directions: an import of "*.foo.com" takes
// "a.b.foo.com", and an import of "a.foo.com" takes (a narrowed copy of) the
// wildcard entry "*.foo.com". "*" matches everything.
bool hostsOverlap(const std::string& imported, const std::string& service_host);

// A Sidecar egress host: "ns/host" imports, "~ns/host" excludes ("~/host":
// from every namespace). `ns` is "*", "." (the workload's namespace) or a name.
struct EgressHost {
  bool exclude = false;
  std::string ns;
  std::string host;
};
std::optional<EgressHost> parseEgressHost(const std::string& text);

struct PortSet {
  bool all = false;
  std::set<uint32_t> ports;
  bool allows(uint32_t port) const { return all || ports.count(port) > 0; }
  void add(const std::optional<uint32_t>& port) {
    if (port) {
      ports.insert(*port);
    } else {
      all = true;
    }
  }
};

// What a Sidecar imports of one object: per host of the object, the ports
// (an egress listener without a port imports every port, one with a port
// only that port). Each host is a service of its own, as in Istio.
struct Import {
  std::map<std::string, PortSet> hosts;
  // Some imported host has this port (addresses are shared by the hosts).
  bool allows(uint32_t port) const;
  bool allowsHost(const std::string& host, uint32_t port) const;
};

// nullopt when the Sidecar imports nothing of the object. No Sidecar, or one
// without egress, imports "*/*".
std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const std::string& object_namespace, const std::vector<std::string>& hosts);
std::optional<Import> sidecarImport(const policy::Sidecar* sidecar, const std::string& workload_namespace,
                                    const policy::ServiceEntry& entry);

// What one scope imports of one entry before the host-collision rule:
// exportTo, then the Sidecar's imports and exclusions.
std::optional<Import> entryImport(const policy::ServiceEntry& entry, const policy::Sidecar* sidecar,
                                  const std::string& workload_namespace, const policy::MeshConfig& mesh);

// What one scope (workload namespace + Sidecar) imports of each entry,
// index-aligned with `entries`: exportTo, Sidecar imports and exclusions,
// then Istio's host-collision rule: a hostname imported from several
// namespaces is kept only from the workload's own namespace if it is one of
// them, else from one other namespace (the lowest name: Istio's choice is
// arbitrary); a warning names each dropped copy.
std::vector<std::optional<Import>> scopeImports(const std::vector<const policy::ServiceEntry*>& entries,
                                                const policy::Sidecar* sidecar,
                                                const std::string& workload_namespace,
                                                const policy::MeshConfig& mesh, std::vector<std::string>& warnings);

}  // namespace egressd::compiler
