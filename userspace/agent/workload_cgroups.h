#pragma once
// Finds the cgroup id of each local Workload (its cgroup directory's inode).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/model.h"

namespace egressd::agent {

struct WorkloadCgroups {
  std::map<std::string, uint64_t> resolved;       // "ns/name" -> cgroup id
  std::map<std::string, std::string> paths;       // "ns/name" -> cgroup directory (resolved ones)
  std::map<std::string, std::string> unresolved;  // "ns/name" -> why not
};

// `cgroup_root` empty means the cgroup2 mount root. A workload must live at
// or below it: the hooks attached there see nothing else.
WorkloadCgroups resolveWorkloadCgroups(const std::vector<policy::Workload>& workloads, const std::string& cgroup_root);

}  // namespace egressd::agent
