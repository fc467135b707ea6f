#pragma once
// Finds the cgroup id of each local Workload (its cgroup directory's inode),
// and what else the kernel and the cgroup watcher need to know about those
// directories: the pods parents (bpf/lib/identity.h) and what to watch.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "policy/model.h"

namespace egressd::agent {

struct WorkloadCgroups {
  std::map<std::string, uint64_t> resolved;       // "ns/name" -> cgroup id
  std::map<std::string, std::string> paths;       // "ns/name" -> cgroup directory (resolved ones)
  std::map<std::string, std::string> unresolved;  // "ns/name" -> why not
  // "ns/name" -> the directory it names, resolved or not, when that is below
  // the root (a missing one may appear later: the watcher looks for it).
  std::map<std::string, std::string> wanted;
  std::string root;  // the canonical cgroup root they were resolved against
  // Kubernetes mode: the directories pod cgroups are created in
  // (kube::podQosDirectories()), existing or not. Those that exist are pods
  // parents; all are watched for new pods.
  std::vector<std::string> pod_dirs;

  // Same workloads on the same cgroups: nothing for the kernel to change.
  bool sameIds(const WorkloadCgroups& other) const { return resolved == other.resolved; }
};

// `cgroup_root` empty means the cgroup2 mount root. A workload must live at
// or below it: the hooks attached there see nothing else. A pod's cgroup is
// looked for where the kubelet makes it (kube::findPodCgroup()); until it
// exists the pod is unresolved, "waiting for its cgroup". `pods` (Kubernetes
// mode) fills pod_dirs.
WorkloadCgroups resolveWorkloadCgroups(const std::vector<policy::Workload>& workloads, const std::string& cgroup_root,
                                       bool pods = false);

// The reason given for a pod whose cgroup does not exist (yet).
inline constexpr const char* kWaitingForCgroup = "waiting for its cgroup";

// The pods parents: the parent directory of each wanted workload cgroup that
// exists, and the pod directories that exist, as directory -> cgroup id.
// Never the root itself: that would make every cgroup of the machine outside
// the workloads an unknown workload.
std::map<std::string, uint64_t> podsParents(const WorkloadCgroups& cgroups);

// What the cgroup watcher follows: directories whose children come and go
// (each wanted cgroup's parent and each pod directory, or its nearest
// existing ancestor while it is missing) and each resolved workload's
// cgroup.events (populated).
struct CgroupWatchSet {
  std::set<std::string> dirs;
  std::set<std::string> event_files;
  bool operator==(const CgroupWatchSet&) const = default;
};
CgroupWatchSet cgroupWatchSet(const WorkloadCgroups& cgroups);

// A kernel map of cgroup id -> value brought to `desired`: what to put and
// what to delete (the ids no longer desired).
struct CgroupMapDiff {
  std::map<uint64_t, uint32_t> put;
  std::vector<uint64_t> remove;
};
CgroupMapDiff diffCgroupMap(const std::map<uint64_t, uint32_t>& desired, const std::map<uint64_t, uint32_t>& live);

}  // namespace egressd::agent
