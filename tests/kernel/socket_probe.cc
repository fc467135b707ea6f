#include "kernel/socket_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

namespace egressd::ktest {
namespace {

constexpr const char* kNetnsSetup =
    "set -e; exec >/dev/null 2>&1;"
    "ip link set lo up;"
    "ip link add eg0 type veth peer name eg1;"
    "ip link set eg1 up; ip link set eg0 up;"
    "ip addr add 192.0.2.1/24 dev eg0;"
    "ip addr add 192.0.2.200/24 dev eg0;"
    "ip addr add 198.51.100.1/24 dev eg0;"
    "ip addr add 203.0.113.1/24 dev eg0;"
    "ip -6 addr add 2001:db8::1/64 dev eg0 nodad;"
    "ip -6 addr add 2001:db8:1::1/64 dev eg0 nodad;"
    "sysctl -qw net.ipv4.ping_group_range='0 2147483647'";  // ping sockets in this netns

// The wildcard address on `port`, as a server socket is bound.
int bindLocal(int fd, int family, uint16_t port) {
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    return ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  sa.sin6_addr = in6addr_any;
  return ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
}

// Dual-stack [::]:port listener: accepts IPv4, IPv6 and v4-mapped peers.
int listenOn(uint16_t port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  const int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  return bindLocal(fd, AF_INET6, port) == 0 && ::listen(fd, 64) == 0 ? fd : -1;
}

// Listener fd per port, so a kPeername probe can tell where it landed.
std::map<uint16_t, int>& listeners() {
  static std::map<uint16_t, int> fds;  // the probe child only
  return fds;
}

// After a successful connect: the peer the app sees, and where it landed.
int checkPeer(int fd, const Probe& probe, const sockaddr_storage& want, socklen_t want_len) {
  sockaddr_storage got{};
  socklen_t got_len = sizeof(got);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&got), &got_len) != 0) return errno;
  const size_t cmp = probe.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (got_len != want_len || std::memcmp(&got, &want, cmp) != 0) return EADDRNOTAVAIL;
  if (!probe.via_port) return 0;
  pollfd p{listeners().at(probe.via_port), POLLIN, 0};
  const bool landed = ::poll(&p, 1, probe.expect_via ? 1000 : 100) == 1;
  if (landed) ::close(::accept(p.fd, nullptr, nullptr));
  return landed == probe.expect_via ? 0 : EXDEV;
}

// addr:port as a sockaddr of the given family; false if addr doesn't parse.
bool toSockaddr(int family, const std::string& addr, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    len = sizeof(*sa);
    return ::inet_pton(AF_INET, addr.c_str(), &sa->sin_addr) == 1;
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(port);
  len = sizeof(*sa);
  return ::inet_pton(AF_INET6, addr.c_str(), &sa->sin6_addr) == 1;
}

// The UDP ops after connect() (Op's comment); 0 or the first errno.
int udpAfterConnect(int fd, const Probe& probe) {
  if (probe.op == Op::kUdpConnectOnly) return 0;
  if (probe.op == Op::kUdpReconnect || probe.op == Op::kUdpConnectSendto) {
    sockaddr_storage then{};
    socklen_t len = 0;
    if (!toSockaddr(probe.family, probe.then_addr, probe.then_port, then, len)) return EINVAL;
    const auto* sa = reinterpret_cast<const sockaddr*>(&then);
    if (probe.op == Op::kUdpConnectSendto) return ::sendto(fd, "x", 1, 0, sa, len) < 0 ? errno : 0;
    if (::connect(fd, sa, len) != 0) return errno;
  }
  return ::send(fd, "x", 1, 0) < 0 ? errno : 0;
}

int runOne(const Probe& probe) {
  const int fd = ::socket(probe.family, probe.type | SOCK_CLOEXEC, probe.protocol);
  if (fd < 0) return errno;
  if (probe.op == Op::kSocket) {
    ::close(fd);
    return 0;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!toSockaddr(probe.family, probe.addr, probe.port, ss, len)) {
    ::close(fd);
    return EINVAL;
  }
  if (probe.bind_port && bindLocal(fd, probe.family, probe.bind_port) != 0) {
    const int err = errno;
    ::close(fd);
    return err;
  }
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  const int rc = probe.op == Op::kSendto ? static_cast<int>(::sendto(fd, "x", 1, 0, sa, len)) : ::connect(fd, sa, len);
  int err = rc < 0 ? errno : 0;
  // A connected UDP socket is held at its sends (bpf/lib/udp_connect.h).
  const bool udp = probe.type == SOCK_DGRAM && (probe.protocol == 0 || probe.protocol == IPPROTO_UDP);
  if (err == 0 && probe.op != Op::kSendto && probe.op != Op::kPeername && udp) err = udpAfterConnect(fd, probe);
  if (err == 0 && probe.op == Op::kPeername) err = checkPeer(fd, probe, ss, len);
  ::close(fd);
  return err;
}

bool writeAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Child: reports a setup error string (length-prefixed) or "" + errnos.
[[noreturn]] void childMain(int out, const std::string& cgroup_dir, const std::vector<Probe>& probes) {
  ::alarm(20);  // a hung probe must not hang the suite
  auto report_error = [&](const std::string& message) {
    const uint32_t n = static_cast<uint32_t>(message.size());
    writeAll(out, &n, sizeof(n));
    writeAll(out, message.data(), n);
    ::_exit(1);
  };
  if (::unshare(CLONE_NEWNET) != 0) report_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
  if (std::system(kNetnsSetup) != 0) report_error("network namespace setup with ip(8) failed");
  std::set<uint16_t> tcp_ports;
  for (const auto& p : probes) {
    if (p.type == SOCK_STREAM) tcp_ports.insert(p.port);
    if (p.via_port) tcp_ports.insert(p.via_port);
  }
  for (uint16_t port : tcp_ports)
    if ((listeners()[port] = listenOn(port)) < 0) report_error("listen on port " + std::to_string(port) + ": " + std::strerror(errno));
  if (!cgroup_dir.empty()) {
    std::ofstream procs(cgroup_dir + "/cgroup.procs");
    procs << 0 << std::flush;  // "0": the writing process
    if (!procs) report_error("join cgroup " + cgroup_dir);
  }
  std::vector<int> errnos;
  for (const auto& p : probes) errnos.push_back(runOne(p));
  const uint32_t none = 0;
  writeAll(out, &none, sizeof(none));
  writeAll(out, errnos.data(), errnos.size() * sizeof(int));
  ::_exit(0);
}

bool readAll(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string describe(const Probe& probe) {
  if (probe.op == Op::kSocket)
    return "socket(" + std::to_string(probe.family) + ", " + std::to_string(probe.type) + ", " +
           std::to_string(probe.protocol) + ")";
  std::string s = probe.op == Op::kSendto     ? "sendto "
                  : probe.op == Op::kPeername ? "peername "
                                              : "connect ";
  s += probe.protocol == IPPROTO_ICMP ? "icmp" : probe.type == SOCK_STREAM ? "tcp" : "udp";
  s += probe.family == AF_INET ? "4 " : "6 ";
  s += (probe.family == AF_INET6 ? "[" + probe.addr + "]" : probe.addr) + ":" + std::to_string(probe.port);
  if (probe.bind_port) s += " from :" + std::to_string(probe.bind_port);
  const std::string then = probe.then_addr + ":" + std::to_string(probe.then_port);
  if (probe.op == Op::kUdpConnectOnly) s += ", no send";
  if (probe.op == Op::kUdpReconnect) s += ", then connect " + then + " and send";
  if (probe.op == Op::kUdpConnectSendto) s += ", then sendto " + then;
  return s;
}

ProbeRun runProbes(const std::string& cgroup_dir, const std::vector<Probe>& probes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {std::string("pipe: ") + std::strerror(errno), {}};
  const pid_t pid = ::fork();
  if (pid < 0) return {std::string("fork: ") + std::strerror(errno), {}};
  if (pid == 0) {
    ::close(fds[0]);
    childMain(fds[1], cgroup_dir, probes);
  }
  ::close(fds[1]);
  ProbeRun run;
  uint32_t error_len = 0;
  if (!readAll(fds[0], &error_len, sizeof(error_len))) {
    run.error = "probe child died without reporting";
  } else if (error_len > 0) {
    run.error.resize(error_len);
    if (!readAll(fds[0], run.error.data(), error_len)) run.error = "probe child: truncated error";
  } else {
    run.errnos.resize(probes.size());
    if (!readAll(fds[0], run.errnos.data(), probes.size() * sizeof(int))) run.error = "probe child: truncated report";
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (run.error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) run.error = "probe child failed";
  return run;
}

int probeErrno(const std::string& cgroup_dir, const Probe& probe) {
  const auto run = runProbes(cgroup_dir, {probe});
  return run.error.empty() ? run.errnos.at(0) : -1;
}

}  // namespace egressd::ktest
