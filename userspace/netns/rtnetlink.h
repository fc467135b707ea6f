#pragma once
// Just enough rtnetlink to find a workload's interfaces: the links of the
// calling thread's network namespace, and the id a namespace has there.
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace egressd::netns {

struct LinkInfo {
  uint32_t ifindex = 0;
  std::string name;
  std::string kind;            // IFLA_INFO_KIND: "veth", "bridge", ... (empty for lo)
  uint32_t peer_ifindex = 0;   // IFLA_LINK: a veth's peer, in the peer's namespace
  int32_t peer_netnsid = -1;   // IFLA_LINK_NETNSID; -1: the peer is in this namespace
  bool loopback = false;
};

// Every link of the calling thread's network namespace.
Result<std::vector<LinkInfo>> listLinks();

// The id the calling thread's namespace has given the namespace open as
// netns_fd (RTM_GETNSID), or -1 if it has none.
Result<int32_t> netnsIdOf(int netns_fd);

}  // namespace egressd::netns
