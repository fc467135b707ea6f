#pragma once
// A workload's host-side interface: the veth peer of the interface in the
// workload's network namespace, wherever that peer lives. On a Kubernetes
// node it is in the agent's own namespace; in a lab, in a named one.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bpf/unique_fd.h"
#include "common/result.h"
#include "netns/rtnetlink.h"

namespace egressd::netns {

struct HostSideInterface {
  bpf::UniqueFd netns_fd;        // where the interface lives (attach from there)
  uint64_t netns_inode = 0;
  bool in_agent_netns = false;
  uint32_t ifindex = 0;
  std::string name;
  uint32_t bridge_ifindex = 0;   // the bridge the interface is a port of; 0: none
  bpf::UniqueFd workload_netns_fd;
  uint64_t workload_netns_inode = 0;
  std::string workload_ifname;   // its peer, inside the workload ("eth0")
  uint32_t workload_ifindex = 0;
};

// The workload's own addresses on its interface, read inside its namespace,
// and (with watch) a socket there that hears when they change, opened before
// they are read so that no change falls between the two.
struct WorkloadAddresses {
  std::vector<Address> addresses;
  bpf::UniqueFd watch;
};
Result<WorkloadAddresses> readWorkloadAddresses(int workload_netns_fd, uint32_t workload_ifindex, bool watch);

// Finds it from a process of the workload. Fails with a reason a user can act
// on: the process shares the agent's namespace (hostNetwork), the workload
// has no veth, or the peer's namespace is neither the agent's nor one named
// under /run/netns.
Result<HostSideInterface> findHostSideInterface(pid_t pid);

}  // namespace egressd::netns
