#include "agent/workload_cgroups.h"

#include <filesystem>

#include "bpf/datapath.h"
#include "kube/pod_cgroups.h"

namespace egressd::agent {
namespace {

namespace fs = std::filesystem;

// Is `path` at or below `root` (both canonical)?
bool isAtOrBelow(const fs::path& path, const fs::path& root) {
  auto [root_end, unused] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return root_end == root.end();
}

}  // namespace

WorkloadCgroups resolveWorkloadCgroups(const std::vector<policy::Workload>& workloads, const std::string& cgroup_root,
                                       bool pods) {
  const fs::path root = fs::weakly_canonical(cgroup_root.empty() ? bpf::cgroup2MountRoot() : cgroup_root);
  WorkloadCgroups out;
  out.root = root.string();
  if (pods) out.pod_dirs = kube::podQosDirectories(out.root);
  for (const auto& workload : workloads) {
    const std::string id = workload.meta.namespace_ + "/" + workload.meta.name;
    fs::path path = workload.cgroup;
    if (workload.pod) {
      auto found = kube::findPodCgroup(out.root, workload.pod->uid, kube::parsePodQos(workload.pod->qos_class));
      if (!found) {
        out.unresolved[id] = found.error();
        continue;
      }
      if (found->path.empty()) {
        std::string looked;
        for (const auto& each : found->looked_at) looked += (looked.empty() ? "" : ", ") + each;
        out.unresolved[id] = std::string(kWaitingForCgroup) + " (looked at " + looked + ")";
        continue;
      }
      path = found->path;
    }
    if (path.is_relative()) path = root / path;
    path = fs::weakly_canonical(path);
    if (!isAtOrBelow(path, root)) {
      out.unresolved[id] = "cgroup " + path.string() + " is outside --cgroup-root " + root.string();
      continue;
    }
    out.wanted[id] = path.string();
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

std::map<std::string, uint64_t> podsParents(const WorkloadCgroups& cgroups) {
  const fs::path root = cgroups.root;
  std::map<std::string, uint64_t> out;
  for (const auto& [name, path] : cgroups.wanted) {
    const fs::path parent = fs::path(path).parent_path();
    if (parent == root || !isAtOrBelow(parent, root) || out.count(parent.string())) continue;
    if (auto id = bpf::cgroupIdOf(parent.string()); id) out[parent.string()] = *id;
  }
  for (const auto& dir : cgroups.pod_dirs) {
    if (out.count(dir) || fs::path(dir) == root) continue;
    if (auto id = bpf::cgroupIdOf(dir); id) out[dir] = *id;
  }
  return out;
}

CgroupWatchSet cgroupWatchSet(const WorkloadCgroups& cgroups) {
  const fs::path root = cgroups.root;
  CgroupWatchSet out;
  std::vector<fs::path> parents;
  for (const auto& [name, path] : cgroups.wanted) parents.push_back(fs::path(path).parent_path());
  for (const auto& dir : cgroups.pod_dirs) parents.push_back(dir);
  for (fs::path dir : parents) {
    std::error_code ec;
    while (dir != root && isAtOrBelow(dir, root) && !fs::is_directory(dir, ec)) dir = dir.parent_path();
    out.dirs.insert(dir.string());
  }
  for (const auto& [name, path] : cgroups.paths) out.event_files.insert(path + "/cgroup.events");
  return out;
}

CgroupMapDiff diffCgroupMap(const std::map<uint64_t, uint32_t>& desired, const std::map<uint64_t, uint32_t>& live) {
  CgroupMapDiff out;
  for (const auto& [id, value] : desired) {
    auto it = live.find(id);
    if (it == live.end() || it->second != value) out.put[id] = value;
  }
  for (const auto& [id, value] : live)
    if (!desired.count(id)) out.remove.push_back(id);
  return out;
}

}  // namespace egressd::agent
