#pragma once
// Just enough rtnetlink to find a workload's interfaces: the links of the
// calling thread's network namespace, and the id a namespace has there.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/unique_fd.h"
#include "common/result.h"

namespace egressd::netns {

struct LinkInfo {
  uint32_t ifindex = 0;
  std::string name;
  std::string kind;            // IFLA_INFO_KIND: "veth", "bridge", ... (empty for lo)
  uint32_t peer_ifindex = 0;   // IFLA_LINK: a veth's peer, in the peer's namespace
  int32_t peer_netnsid = -1;   // IFLA_LINK_NETNSID; -1: the peer is in this namespace
  uint32_t master_ifindex = 0; // IFLA_MASTER: the bridge (or bond) it is a port of
  bool loopback = false;
};

// Every link of the calling thread's network namespace.
Result<std::vector<LinkInfo>> listLinks();

// An interface address, IPv4 v4-mapped (::ffff:a.b.c.d).
using Address = std::array<uint8_t, 16>;

// The addresses of interface ifindex in the calling thread's namespace:
// every scope (link-local too) and state (tentative too), as the kernel may
// use any of them as a source.
Result<std::vector<Address>> listAddresses(uint32_t ifindex);

// A socket in the calling thread's namespace that hears its address changes
// (IPv4 and IPv6), non-blocking; it stays in that namespace.
Result<bpf::UniqueFd> watchAddresses();
// Reads what such a socket received: whether anything came (an overflow of
// its buffer counts: changes were lost, so something came).
bool drainAddressEvents(int fd);

// The id the calling thread's namespace has given the namespace open as
// netns_fd (RTM_GETNSID), or -1 if it has none.
Result<int32_t> netnsIdOf(int netns_fd);

}  // namespace egressd::netns
