#include "kube/pod_cgroups.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace egressd::kube {
namespace {

namespace fs = std::filesystem;

const char* qosDirName(PodQos qos) { return qos == PodQos::kBurstable ? "burstable" : "besteffort"; }

void addCandidates(std::vector<std::string>& out, const std::string& uid, PodQos qos) {
  std::string systemd_uid = uid;
  std::replace(systemd_uid.begin(), systemd_uid.end(), '-', '_');
  if (qos == PodQos::kGuaranteed) {
    out.push_back("kubepods.slice/kubepods-pod" + systemd_uid + ".slice");
    out.push_back("kubepods/pod" + uid);
    return;
  }
  const std::string q = qosDirName(qos);
  out.push_back("kubepods.slice/kubepods-" + q + ".slice/kubepods-" + q + "-pod" + systemd_uid + ".slice");
  out.push_back("kubepods/" + q + "/pod" + uid);
}

bool isDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

}  // namespace

PodQos parsePodQos(std::string_view qos_class) {
  if (qos_class == "Guaranteed") return PodQos::kGuaranteed;
  if (qos_class == "Burstable") return PodQos::kBurstable;
  if (qos_class == "BestEffort") return PodQos::kBestEffort;
  return PodQos::kUnknown;
}

Result<std::vector<std::string>> podCgroupCandidates(std::string_view uid, PodQos qos) {
  const bool safe = !uid.empty() && std::all_of(uid.begin(), uid.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
  if (!safe) return fail("pod uid \"" + std::string(uid) + "\" is not a UID (letters, digits and '-' only)");
  std::vector<std::string> out;
  const std::string id(uid);
  if (qos == PodQos::kUnknown) {
    for (PodQos each : {PodQos::kBurstable, PodQos::kBestEffort, PodQos::kGuaranteed}) addCandidates(out, id, each);
  } else {
    addCandidates(out, id, qos);
  }
  return out;
}

namespace {

// Relative candidates (kubepods.slice/..., kubepods/...) as absolute paths
// under the root; --cgroup-root may be the kubepods directory itself: its
// candidates then start one level up, and the other driver's are dropped.
std::vector<std::string> underRoot(const std::string& cgroup_root, const std::vector<std::string>& relatives) {
  fs::path base = fs::path(cgroup_root).lexically_normal();
  if (!base.has_filename()) base = base.parent_path();  // "/sys/fs/cgroup/" -> "/sys/fs/cgroup"
  const std::string name = base.filename().string();
  const bool root_is_kubepods = name == "kubepods.slice" || name == "kubepods";
  std::vector<std::string> out;
  for (const std::string& relative : relatives) {
    const std::string top = relative.substr(0, relative.find('/'));
    if (root_is_kubepods && top != name) continue;
    out.push_back(((root_is_kubepods ? base.parent_path() : base) / relative).string());
  }
  return out;
}

}  // namespace

std::vector<std::string> podQosDirectories(const std::string& cgroup_root) {
  return underRoot(cgroup_root, {"kubepods.slice", "kubepods.slice/kubepods-burstable.slice",
                                 "kubepods.slice/kubepods-besteffort.slice", "kubepods", "kubepods/burstable",
                                 "kubepods/besteffort"});
}

namespace {

// The uid in a pod cgroup's name, or "": "kubepods-burstable-pod<uid_>.slice",
// "kubepods-pod<uid_>.slice" (systemd), "pod<uid>" (cgroupfs).
std::string uidOfPodDirectory(const std::string& name) {
  std::string uid;
  if (name.rfind("kubepods-", 0) == 0 && name.size() > 6 && name.compare(name.size() - 6, 6, ".slice") == 0) {
    const size_t pod = name.rfind("-pod");
    if (pod == std::string::npos) return "";
    uid = name.substr(pod + 4, name.size() - 6 - (pod + 4));
    std::replace(uid.begin(), uid.end(), '_', '-');
  } else if (name.rfind("pod", 0) == 0) {
    uid = name.substr(3);
  }
  const bool valid = !uid.empty() && std::all_of(uid.begin(), uid.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
  return valid ? uid : "";
}

}  // namespace

std::vector<FoundPodCgroup> listPodCgroups(const std::string& cgroup_root) {
  std::vector<FoundPodCgroup> out;
  for (const std::string& dir : podQosDirectories(cgroup_root)) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      const std::string uid = uidOfPodDirectory(it->path().filename().string());
      if (!uid.empty()) out.push_back({it->path().string(), uid});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

Result<PodCgroup> findPodCgroup(const std::string& cgroup_root, std::string_view uid, PodQos qos) {
  auto candidates = podCgroupCandidates(uid, qos);
  if (!candidates) return fail(candidates.error());
  PodCgroup out;
  for (const std::string& path : underRoot(cgroup_root, *candidates)) {
    out.looked_at.push_back(path);
    if (isDirectory(path)) {
      out.path = path;
      break;
    }
  }
  return out;
}

Status checkPodCgroupRootIsV2(const std::string& cgroup_root) {
  if (cgroup_root.empty()) {
    return fail("no cgroup2 mount on this node: its pods live in a cgroup v1 hierarchy, and egressd enforces pods "
                "through cgroup v2 only (boot with systemd.unified_cgroup_hierarchy=1)");
  }
  struct statfs st {};
  if (::statfs(cgroup_root.c_str(), &st) != 0) {
    return fail("--cgroup-root " + cgroup_root + ": " + std::strerror(errno));
  }
  if (st.f_type != CGROUP2_SUPER_MAGIC) {
    return fail("--cgroup-root " + cgroup_root +
                " is not on a cgroup v2 mount: this node's pods live in a cgroup v1 (or hybrid) hierarchy, and "
                "egressd enforces pods through cgroup v2 only (boot with systemd.unified_cgroup_hierarchy=1, or "
                "point --cgroup-root at the cgroup2 mount that holds kubepods)");
  }
  return Ok{};
}

}  // namespace egressd::kube
