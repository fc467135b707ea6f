#pragma once
// Where the kubelet puts a pod's pod-level cgroup (v2), from the Pod's
// metadata.uid and status.qosClass, for both cgroup drivers:
//
//   systemd:  kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid, - as _>.slice
//             kubepods.slice/kubepods-pod<uid, - as _>.slice            (Guaranteed)
//   cgroupfs: kubepods/<qos>/pod<uid>
//             kubepods/pod<uid>                                         (Guaranteed)
//
// with <qos> besteffort or burstable. The container runtime's scopes
// (cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope, or <id>
// under cgroupfs) live below the pod directory; the pod is the directory the
// hooks key on, never one of its containers. The paths are built, not
// searched for, so a container scope is never taken for the pod.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace egressd::kube {

enum class PodQos { kUnknown, kGuaranteed, kBurstable, kBestEffort };

// status.qosClass as the API writes it ("Guaranteed", "Burstable",
// "BestEffort"); anything else (not set yet) is kUnknown.
PodQos parsePodQos(std::string_view qos_class);

// The pod-level directory's candidates relative to the kubepods root's
// parent, systemd layout first: one per driver for a known QoS class, every
// class's for kUnknown. Fails when `uid` could name another path (only
// letters, digits and '-' are accepted: a UUID, or a static pod's hash).
Result<std::vector<std::string>> podCgroupCandidates(std::string_view uid, PodQos qos);

struct PodCgroup {
  std::string path;                    // absolute; empty: not there (yet)
  std::vector<std::string> looked_at;  // absolute paths tried, for a message
};

// Looks for the pod's directory under `cgroup_root` (the directory holding
// kubepods.slice or kubepods; the kubepods directory itself works too).
// Not finding it is not an error: the kubelet may not have made it yet.
Result<PodCgroup> findPodCgroup(const std::string& cgroup_root, std::string_view uid, PodQos qos);

// The directories the kubelet creates pod cgroups in, both drivers, as
// absolute paths under `cgroup_root` (as findPodCgroup() reads it), whether
// they exist or not: the kubepods directory and its burstable and besteffort
// ones. Kubernetes mode makes those that exist pods parents (a pod cgroup no
// Pod names yet is an unknown workload) and watches them for new pods.
std::vector<std::string> podQosDirectories(const std::string& cgroup_root);

// A pod-level cgroup found in a QoS directory, by its name alone.
struct FoundPodCgroup {
  std::string path;  // absolute
  std::string uid;   // with '-' (the systemd layout's '_' turned back)
};

// Every pod-level cgroup in the directories of podQosDirectories() that
// exist: what is there, whether a Pod names it or not (egressctl workloads
// lists those none names as unknown cgroups).
std::vector<FoundPodCgroup> listPodCgroups(const std::string& cgroup_root);

// Pods are enforced through cgroup v2 only: fails, saying so, when
// `cgroup_root` is not on a cgroup2 mount (a node whose pods live in a v1 or
// hybrid hierarchy), or is empty (no cgroup2 mount found).
Status checkPodCgroupRootIsV2(const std::string& cgroup_root);

}  // namespace egressd::kube
