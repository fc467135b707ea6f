#include "bpf/kernel_features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "bpf/errno_text.h"
#include "bpf/unique_fd.h"

namespace egressd::bpf {
namespace {

enum class Probe { kProgType, kMapType, kHelper, kAttachType };

// One row per feature: how to probe it, what it is, since when. The
// releases are those of mainline Linux.
struct FeatureProbe {
  Probe probe;
  bpf_prog_type prog_type;    // kProgType, kHelper, kAttachType
  int id;                     // map type, helper id or attach type
  const char* name;
  const char* since;
};

constexpr bpf_prog_type kNoProg = BPF_PROG_TYPE_UNSPEC;

const FeatureProbe kProbes[] = {
    {Probe::kProgType, BPF_PROG_TYPE_CGROUP_SKB, 0, "cgroup_skb programs (DNS learning)", "4.10"},
    {Probe::kProgType, BPF_PROG_TYPE_SCHED_CLS, 0, "TC programs (the packet backstop)", "4.1"},
    {Probe::kAttachType, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, "cgroup/connect4", "4.17"},
    {Probe::kAttachType, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, "cgroup/sendmsg4", "4.18"},
    {Probe::kAttachType, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME,
     "cgroup/getpeername4 (gateway redirect)", "5.8"},
    {Probe::kAttachType, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, "cgroup/sock_create", "4.10"},
    {Probe::kAttachType, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, "cgroup/sock_release", "5.9"},
    {Probe::kMapType, kNoProg, BPF_MAP_TYPE_LPM_TRIE, "LPM trie maps", "4.11"},
    {Probe::kMapType, kNoProg, BPF_MAP_TYPE_LRU_HASH, "LRU hash maps", "4.10"},
    {Probe::kMapType, kNoProg, BPF_MAP_TYPE_SK_STORAGE, "socket storage maps", "5.2"},
    {Probe::kMapType, kNoProg, BPF_MAP_TYPE_RINGBUF, "BPF ring buffer", "5.8"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_ancestor_cgroup_id,
     "bpf_get_current_ancestor_cgroup_id in cgroup/connect", "5.6"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_netns_cookie, "bpf_get_netns_cookie in cgroup/sock_create",
     "5.7"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get, "bpf_sk_storage_get in cgroup/connect",
     "5.8"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_ktime_get_boot_ns, "bpf_ktime_get_boot_ns", "5.8"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve in cgroup/connect",
     "5.8"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_skb_ancestor_cgroup_id,
     "bpf_skb_ancestor_cgroup_id in cgroup_skb", "5.7"},
    {Probe::kHelper, BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_ktime_get_coarse_ns, "bpf_ktime_get_coarse_ns in cgroup_skb (flows, inbound UDP)",
     "5.11"},
    {Probe::kHelper, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_fib_lookup, "bpf_fib_lookup in TC", "4.18"},
};

// "5.11" -> {5, 11}; {0, 0} when unreadable.
std::pair<int, int> majorMinor(const std::string& version) {
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

// A program that only returns 1, loaded with an expected attach type:
// kernels before that attach type refuse it (EINVAL).
int probeAttachType(bpf_prog_type type, int attach_type) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = static_cast<bpf_attach_type>(attach_type));
  UniqueFd fd(bpf_prog_load(type, nullptr, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts));
  if (fd.valid()) return 1;
  return errno == EINVAL ? 0 : -errno;
}

int runProbe(const FeatureProbe& p) {
  switch (p.probe) {
    case Probe::kProgType:
      return libbpf_probe_bpf_prog_type(p.prog_type, nullptr);
    case Probe::kMapType:
      return libbpf_probe_bpf_map_type(static_cast<bpf_map_type>(p.id), nullptr);
    case Probe::kHelper:
      return libbpf_probe_bpf_helper(p.prog_type, static_cast<bpf_func_id>(p.id), nullptr);
    case Probe::kAttachType:
      return probeAttachType(p.prog_type, p.id);
  }
  return -EINVAL;
}

}  // namespace

const std::vector<KernelFeature>& requiredKernelFeatures() {
  static const std::vector<KernelFeature> features = [] {
    std::vector<KernelFeature> out;
    for (const auto& p : kProbes) out.push_back({p.name, p.since});
    return out;
  }();
  return features;
}

Result<std::vector<KernelFeature>> missingKernelFeatures() {
  // libbpf's type probes read any failed load as "missing", EPERM too: first
  // make sure this process may load a program at all.
  if (int loads = probeAttachType(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT); loads < 0)
    return fail(errnoMessage("cannot probe the kernel's BPF features (load a cgroup/connect4 program)", -loads));
  std::vector<KernelFeature> missing;
  for (const auto& p : kProbes) {
    const int supported = runProbe(p);
    if (supported < 0)
      return fail(errnoMessage(std::string("cannot probe the kernel's BPF features (") + p.name + ")", -supported));
    if (supported == 0) missing.push_back({p.name, p.since});
  }
  return missing;
}

bool olderThanTested(const std::string& release) {
  const auto have = majorMinor(release);
  return have.first != 0 && have < majorMinor(kOldestTestedKernel);
}

Status kernelSupport(const std::string& release, const std::vector<KernelFeature>& missing) {
  if (missing.empty()) return Ok{};
  std::string names;
  std::pair<int, int> newest{0, 0};
  std::string newest_text;
  for (const auto& f : missing) {
    names += (names.empty() ? "" : ", ") + f.name + " (" + f.since + ")";
    if (majorMinor(f.since) > newest) {
      newest = majorMinor(f.since);
      newest_text = f.since;
    }
  }
  return fail("kernel " + release + " lacks what egressd needs: " + names + "; these come with Linux " +
              newest_text + " (the oldest kernel egressd is tested on is " + kOldestTestedKernel +
              "; docs/KERNELS.md)");
}

}  // namespace egressd::bpf
