#include "agent/workload_cgroups.h"

#include <filesystem>

#include "bpf/datapath.h"

namespace egressd::agent {

WorkloadCgroups resolveWorkloadCgroups(const std::vector<policy::Workload>& workloads, const std::string& cgroup_root) {
  namespace fs = std::filesystem;
  const fs::path root = fs::weakly_canonical(cgroup_root.empty() ? bpf::cgroup2MountRoot() : cgroup_root);
  WorkloadCgroups out;
  for (const auto& workload : workloads) {
    const std::string id = workload.meta.namespace_ + "/" + workload.meta.name;
    fs::path path = workload.cgroup;
    if (path.is_relative()) path = root / path;
    path = fs::weakly_canonical(path);
    auto [root_end, unused] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
    if (root_end != root.end()) {
      out.unresolved[id] = "cgroup " + path.string() + " is outside --cgroup-root " + root.string();
      continue;
    }
    auto cgroup_id = bpf::cgroupIdOf(path.string());
    if (!cgroup_id) {
      out.unresolved[id] = cgroup_id.error();
      continue;
    }
    out.resolved[id] = *cgroup_id;
    out.paths[id] = path.string();
  }
  return out;
}

}  // namespace egressd::agent
