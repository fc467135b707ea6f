#pragma once
// Real sockets from a real workload: a forked child in its own network
// namespace (lo up, a veth pair holding documentation addresses, listeners on
// every TCP port probed) joins a cgroup and reports each connect()/sendto()
// errno. Nothing leaves the machine: every allowed destination is local.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace egressd::ktest {

// Addresses local to the probe namespace (on veth eg0).
inline constexpr const char* kNetA = "192.0.2.1";      // 192.0.2.0/24
inline constexpr const char* kNetAHigh = "192.0.2.200";
inline constexpr const char* kNetB = "198.51.100.1";   // 198.51.100.0/24
inline constexpr const char* kNetC = "203.0.113.1";    // 203.0.113.0/24
inline constexpr const char* kNet6 = "2001:db8::1";    // 2001:db8::/64
inline constexpr const char* kNet6Other = "2001:db8:1::1";

// kPeername: TCP connect, then check getpeername() returns exactly (addr,
// port), and whether the connection landed on the `via_port` listener as
// `expect_via` says. Errno-like results: EADDRNOTAVAIL = getpeername showed
// another peer; EXDEV = landed (or not) against expect_via.
// kConnect: connect(), and for UDP one send() after it, where a denied
// destination fails (bpf/lib/udp_connect.h). UDP only:
//   kUdpConnectOnly    connect() and close, no send (getaddrinfo's sorting)
//   kUdpReconnect      connect(), connect() to then_addr:then_port, send()
//   kUdpConnectSendto  connect(), sendto(then_addr:then_port)
// kSocket: socket() alone (family may be AF_PACKET), then close.
enum class Op { kConnect, kSendto, kPeername, kUdpConnectOnly, kUdpReconnect, kUdpConnectSendto, kSocket };

struct Probe {
  int family;  // AF_INET or AF_INET6 (the socket's family)
  int type;    // SOCK_STREAM or SOCK_DGRAM
  std::string addr;  // numeric; "::ffff:a.b.c.d" for v4-mapped
  uint16_t port;
  Op op = Op::kConnect;
  int protocol = 0;  // e.g. IPPROTO_ICMP for a ping socket
  uint16_t via_port = 0;  // kPeername: an extra listener (the gateway's port)
  bool expect_via = false;
  uint16_t bind_port = 0;  // bind the socket to this local port first (a server's)
  std::string then_addr{};  // kUdpReconnect, kUdpConnectSendto
  uint16_t then_port = 0;
};

std::string describe(const Probe& probe);

struct ProbeRun {
  std::string error;        // the child could not set up; empty on success
  std::vector<int> errnos;  // per probe: 0 = success, else errno
};

// cgroup_dir empty: the child stays in the caller's cgroup.
ProbeRun runProbes(const std::string& cgroup_dir, const std::vector<Probe>& probes);

// Convenience: one probe's errno (or -1 if the child failed to set up).
int probeErrno(const std::string& cgroup_dir, const Probe& probe);

}  // namespace egressd::ktest
