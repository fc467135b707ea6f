#include "netns/host_side.h"

#include <fcntl.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "bpf/errno_text.h"
#include "netns/in_netns.h"
#include "netns/rtnetlink.h"

namespace egressd::netns {
namespace {

using bpf::errnoMessage;
using bpf::UniqueFd;

// Namespaces the host side may live in: the agent's own first, then those
// named by `ip netns` (both mount points Debian uses).
std::vector<std::string> candidateNamespaces() {
  std::vector<std::string> out{"/proc/self/ns/net"};
  for (const char* dir : {"/run/netns", "/var/run/netns"}) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) out.push_back(entry.path().string());
  }
  return out;
}

Result<UniqueFd> openNetns(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errnoMessage("open " + path, errno));
  return fd;
}

}  // namespace

Result<HostSideInterface> findHostSideInterface(pid_t pid) {
  const std::string workload_path = "/proc/" + std::to_string(pid) + "/ns/net";
  auto workload_ns = openNetns(workload_path);
  if (!workload_ns) return fail(workload_ns.error());
  auto workload_inode = netnsInode(workload_ns->get());
  auto agent_inode = netnsInode("/proc/self/ns/net");
  if (!workload_inode) return fail(workload_inode.error());
  if (!agent_inode) return fail(agent_inode.error());
  if (*workload_inode == *agent_inode)
    return fail("process " + std::to_string(pid) +
                " shares the agent's network namespace (host network): no interface of its own");

  HostSideInterface out;
  out.workload_netns_inode = *workload_inode;
  // Inside the workload: its veth, and which candidate namespace holds the peer.
  auto st = runInNetns(workload_ns->get(), [&]() -> Status {
    auto links = listLinks();
    if (!links) return fail(links.error());
    const LinkInfo* veth = nullptr;
    for (const auto& link : *links) {
      if (!link.loopback && link.kind == "veth" && link.peer_netnsid >= 0) {
        veth = &link;
        break;
      }
    }
    if (!veth) return fail("no veth to another network namespace in " + workload_path);
    out.workload_ifname = veth->name;
    out.workload_ifindex = veth->ifindex;
    out.ifindex = veth->peer_ifindex;
    for (const auto& path : candidateNamespaces()) {
      auto candidate = openNetns(path);
      if (!candidate) continue;  // a name removed meanwhile
      auto id = netnsIdOf(candidate->get());
      if (id && *id == veth->peer_netnsid) {
        out.netns_fd = std::move(*candidate);
        return Ok{};
      }
    }
    return fail("the peer of " + veth->name + " in " + workload_path +
                " is in a network namespace that is neither the agent's nor named under /run/netns");
  });
  if (!st) return fail(st.error());
  auto inode = netnsInode(out.netns_fd.get());
  if (!inode) return fail(inode.error());
  out.netns_inode = *inode;
  out.in_agent_netns = *inode == *agent_inode;
  st = runInNetns(out.netns_fd.get(), [&]() -> Status {
    auto links = listLinks();
    if (!links) return fail(links.error());
    uint32_t master = 0;
    for (const auto& link : *links)
      if (link.ifindex == out.ifindex) {
        out.name = link.name;
        master = link.master_ifindex;
      }
    for (const auto& link : *links)
      if (master && link.ifindex == master && link.kind == "bridge") out.bridge_ifindex = master;
    if (out.name.empty()) return fail("interface " + std::to_string(out.ifindex) + " vanished");
    return Ok{};
  });
  if (!st) return fail(st.error());
  out.workload_netns_fd = std::move(*workload_ns);
  return out;
}

Result<WorkloadAddresses> readWorkloadAddresses(int workload_netns_fd, uint32_t workload_ifindex, bool watch) {
  WorkloadAddresses out;
  auto st = runInNetns(workload_netns_fd, [&]() -> Status {
    if (watch) {
      auto fd = watchAddresses();
      if (!fd) return fail(fd.error());
      out.watch = std::move(*fd);
    }
    auto addresses = listAddresses(workload_ifindex);
    if (!addresses) return fail(addresses.error());
    out.addresses = std::move(*addresses);
    return Ok{};
  });
  if (!st) return fail(st.error());
  return out;
}

}  // namespace egressd::netns
