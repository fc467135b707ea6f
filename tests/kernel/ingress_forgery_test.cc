// Forgeries a workload with NET_RAW can deliver to its own sockets without
// lo, on real sockets and the real programs: a raw-socket broadcast (IPv4)
// or multicast (IPv6) with a trusted resolver's or a peer's source address.
// The node loops a copy back to its own sockets (pkt_type PACKET_LOOPBACK, on
// eth0, no socket on the way out, so no egress hook saw it). It must teach
// the ingress hook nothing: no learned DNS answer (issue 12 item 4), no
// inbound UDP peer a server may then answer (item 7). The same answer or
// datagram sent as a unicast from a peer namespace (the "resolver", a real
// client) is learned: the control that shows the forgery did reach the socket
// and the hook.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "bpf/cgroup.h"
#include <bpf/libbpf.h>

#include "compiler/host_classes.h"
#include "dns/punt_learner.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr const char* kResolver4 = "192.0.2.53";
constexpr const char* kResolver6 = "2001:db8::53";
constexpr const char* kPod4 = "192.0.2.1";
constexpr const char* kPeer4 = "203.0.113.9";  // an outside client, not in the registry
constexpr const char* kPeer6 = "2001:db8:9::9";
constexpr uint16_t kClientPort = 40053;
constexpr uint16_t kServerPort = 7001;
constexpr uint16_t kPeerPort = 4000;
constexpr uint32_t kScope = 1;

std::vector<uint8_t> qname(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// A query (answer_ip empty) or its answer with one A/AAAA record.
std::vector<uint8_t> dnsMessage(uint16_t id, const std::string& name, bool v6, const std::string& answer_ip = "") {
  std::vector<uint8_t> m;
  put16(m, id);
  put16(m, answer_ip.empty() ? 0x0100 : 0x8180);
  put16(m, 1);
  put16(m, answer_ip.empty() ? 0 : 1);
  put16(m, 0);
  put16(m, 0);
  auto q = qname(name);
  m.insert(m.end(), q.begin(), q.end());
  put16(m, v6 ? 28 : 1);
  put16(m, 1);
  if (answer_ip.empty()) return m;
  m.push_back(0xc0);
  m.push_back(12);
  put16(m, v6 ? 28 : 1);
  put16(m, 1);
  m.insert(m.end(), {0, 0, 1, 0x2c});  // TTL 300
  uint8_t addr[16];
  inet_pton(v6 ? AF_INET6 : AF_INET, answer_ip.c_str(), addr);
  put16(m, v6 ? 16 : 4);
  m.insert(m.end(), addr, addr + (v6 ? 16 : 4));
  return m;
}

uint16_t checksum(const std::vector<uint8_t>& b) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.size() % 2) sum += b.back() << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t c = static_cast<uint16_t>(~sum);
  return c ? c : 0xffff;
}

// A raw UDP datagram from src:sport to dst:dport, with a source address this
// namespace doesn't own, as a workload with NET_RAW writes it. IPv6 goes to
// `dst` on eg0 (a multicast group); IPv4 may be a broadcast.
int rawSend(bool v6, const char* src, uint16_t sport, const char* dst, uint16_t dport,
            const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> udp;
  put16(udp, sport);
  put16(udp, dport);
  put16(udp, static_cast<uint16_t>(8 + payload.size()));
  put16(udp, 0);
  udp.insert(udp.end(), payload.begin(), payload.end());
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) return errno;
  std::vector<uint8_t> pkt;
  int rc;
  if (v6) {
    in6_addr s{}, d{};
    inet_pton(AF_INET6, src, &s);
    inet_pton(AF_INET6, dst, &d);
    std::vector<uint8_t> pseudo(s.s6_addr, s.s6_addr + 16);
    pseudo.insert(pseudo.end(), d.s6_addr, d.s6_addr + 16);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(udp.size() >> 8), static_cast<uint8_t>(udp.size()), 0, 0, 0,
                                 IPPROTO_UDP});
    pseudo.insert(pseudo.end(), udp.begin(), udp.end());
    const uint16_t c = checksum(pseudo);
    udp[6] = static_cast<uint8_t>(c >> 8);
    udp[7] = static_cast<uint8_t>(c);
    pkt = {0x60, 0, 0, 0};
    put16(pkt, static_cast<uint16_t>(udp.size()));
    pkt.push_back(IPPROTO_UDP);
    pkt.push_back(64);
    pkt.insert(pkt.end(), s.s6_addr, s.s6_addr + 16);
    pkt.insert(pkt.end(), d.s6_addr, d.s6_addr + 16);
    pkt.insert(pkt.end(), udp.begin(), udp.end());
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = d;
    sa.sin6_scope_id = if_nametoindex("eg0");
    rc = static_cast<int>(::sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)));
  } else {
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
    in_addr s{}, d{};
    inet_pton(AF_INET, src, &s);
    inet_pton(AF_INET, dst, &d);
    pkt = {0x45, 0};
    put16(pkt, static_cast<uint16_t>(20 + udp.size()));
    pkt.insert(pkt.end(), {0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0});
    const auto* sb = reinterpret_cast<const uint8_t*>(&s);
    const auto* db = reinterpret_cast<const uint8_t*>(&d);
    pkt.insert(pkt.end(), sb, sb + 4);
    pkt.insert(pkt.end(), db, db + 4);
    pkt.insert(pkt.end(), udp.begin(), udp.end());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr = d;
    rc = static_cast<int>(::sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)));
  }
  const int err = rc < 0 ? errno : 0;
  ::close(fd);
  return err;
}

int udpSocket(bool v6, uint16_t port) {
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    len = sizeof(*sa);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    len = sizeof(*sa);
  }
  return ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? fd : -1;
}

int sendTo(int fd, const char* ip, uint16_t port, const std::vector<uint8_t>& payload) {
  sockaddr_storage ss{};
  socklen_t len;
  if (std::strchr(ip, ':')) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sa->sin6_addr);
    len = sizeof(*sa);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa->sin_addr);
    len = sizeof(*sa);
  }
  return ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0 ? errno : 0;
}

// Whether a datagram reached fd within a second (the forgery was delivered).
bool received(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return false;
  uint8_t buf[2048];
  return ::recv(fd, buf, sizeof(buf), 0) > 0;
}

// Runs `body` in a forked child: a fresh network namespace whose eg0
// (192.0.2.1/24, 2001:db8::1/64) is a veth to a peer namespace holding the
// resolver (192.0.2.53, 2001:db8::53) and an outside client (203.0.113.9),
// joined to cgroup_dir. `peer(fn)` runs fn in the peer namespace, outside
// every workload, and returns its result; with wait_for_peer false it returns
// at once, and peerWait() takes the result. The child's exit status is body's
// result (0 = all its steps went as planned).
using Peer = std::function<int(const std::function<int()>&)>;
int inPod(const std::string& cgroup_dir, const std::function<int(const Peer&)>& body, bool wait_for_peer = true) {
  const std::string peer_ns = "egdk-peer-" + std::to_string(::getpid());
  std::string home_cgroup;  // the peer's processes are no workload's
  {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("0::", 0) == 0) home_cgroup = bpf::cgroup2MountRoot() + line.substr(3);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(20);
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(100);
    const std::string setup =
        "set -e; exec >/dev/null 2>&1; ip link set lo up; ip netns add " + peer_ns +
        "; ip link add eg0 type veth peer name eg1 netns " + peer_ns +
        "; ip addr add 192.0.2.1/24 dev eg0; ip -6 addr add 2001:db8::1/64 dev eg0 nodad; ip link set eg0 up"
        "; ip route add default dev eg0; ip -6 route add default dev eg0; ip -n " + peer_ns + " link set lo up; ip -n " + peer_ns +
        " addr add 192.0.2.53/24 dev eg1; ip -n " + peer_ns + " -6 addr add 2001:db8::53/64 dev eg1 nodad; ip -n " +
        peer_ns + " addr add 203.0.113.9/32 dev lo; ip -n " + peer_ns + " link set eg1 up";
    const int setup_rc = std::system(setup.c_str());
    int rc = 101;
    if (setup_rc == 0) {
      std::ofstream procs(cgroup_dir + "/cgroup.procs");
      procs << 0 << std::flush;
      Peer peer = [&](const std::function<int()>& fn) {
        const pid_t p = ::fork();
        if (p == 0) {
          const int ns = ::open(("/run/netns/" + peer_ns).c_str(), O_RDONLY | O_CLOEXEC);
          if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(102);
          std::ofstream home(home_cgroup + "/cgroup.procs");
          home << 0 << std::flush;
          if (!home) ::_exit(105);
          ::_exit(fn());
        }
        if (!wait_for_peer) return static_cast<int>(-p);  // running: the caller waits (peerWait)
        int st = 0;
        ::waitpid(p, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 103;
      };
      rc = procs ? body(peer) : 104;
    }
    std::system(("ip netns del " + peer_ns + " >/dev/null 2>&1").c_str());
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// A peer started with wait_for_peer = false: its exit status.
int peerWait(int started) {
  int st = 0;
  ::waitpid(static_cast<pid_t>(-started), &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 103;
}

class IngressForgeryTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(kScope, EGRESSD_MODE_REGISTRY_ONLY);
    pod_ = tree_->make("pod");
    addWorkload(pod_, kScope);
    // The resolvers may be asked (UDP 53), and *.example.org is learnable.
    addPrefix("192.0.2.53/32", 10);
    addPrefix("2001:db8::53/128", 10);
    addPort(10, 53, IPPROTO_UDP, {kScope});
    addPort(10, 53, IPPROTO_TCP, {kScope});
    for (const char* r : {kResolver4, kResolver6}) {
      egressd_dns_server_key key{};
      std::memcpy(key.addr, prefixKey(r).addr, sizeof(key.addr));
      key.port = 53;
      egressd_dns_server_value value{};
      mapPut("dns_servers", &key, &value);
    }
    compiler::HostTable table;
    compiler::ScopeSet scopes{};
    scopes[kScope / 64] |= 1ull << (kScope % 64);
    table.grant(*compiler::normalizeHost("*.example.org"), 80, IPPROTO_TCP, scopes, 0);
    std::vector<std::string> errors;
    table.emit(desired_, errors);
    ASSERT_TRUE(errors.empty());
    for (const auto& [key, value] : desired_.dns_names) mapPut("dns_names", &key, &value);
  }

  void mapPut(const std::string& map, const void* key, const void* value) {
    const int fd = bpf_obj_get((bpffs_dir_ + "/" + map).c_str());
    ASSERT_GE(fd, 0) << map << ": " << std::strerror(errno);
    EXPECT_EQ(0, bpf_map_update_elem(fd, key, value, BPF_ANY)) << map << ": " << std::strerror(errno);
    ::close(fd);
  }

  std::set<std::string> learnedIps() {
    std::set<std::string> out;
    auto entries = datapath_->readDnsLearned();
    EXPECT_TRUE(entries.ok());
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      char buf[INET6_ADDRSTRLEN] = {};
      static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(e.key.addr, mapped, 12) == 0)
        inet_ntop(AF_INET, e.key.addr + 12, buf, sizeof(buf));
      else
        inet_ntop(AF_INET6, e.key.addr, buf, sizeof(buf));
      out.insert(buf);
    }
    return out;
  }

  std::string pod_;
  DesiredState desired_;
};

// Item 4. The query goes out for real; the forged answer is a raw IPv4
// broadcast (subnet, limited) or multicast "from" the resolver, whose
// looped-back copy reaches the querying socket. (IPv6 has no broadcast, and
// its multicast is looped back after the egress hook, which drops a
// resolver's source as spoofed.) The control is a unicast answer to a second
// query, sent from the resolver's namespace.
TEST_F(IngressForgeryTest, LoopedBackBroadcastAnswerIsNotLearned) {
  struct Forgery {
    const char* dst;
    const char* ip;
  };
  const std::vector<Forgery> forgeries = {
      {"192.0.2.255", "198.51.100.61"}, {"255.255.255.255", "198.51.100.62"}, {"224.0.0.1", "198.51.100.63"}};
  const std::string real = "198.51.100.77";
  const int rc = inPod(pod_, [&](const Peer& peer) {
    const int fd = udpSocket(false, kClientPort);
    if (fd < 0) return 1;
    uint16_t id = 0x1110;
    for (const auto& f : forgeries) {
      ++id;
      if (sendTo(fd, kResolver4, 53, dnsMessage(id, "forged.example.org", false))) return 2;
      // The copy that leaves is dropped as spoofed (sendto fails with
      // EPERM); the looped-back copy has no socket and is delivered.
      rawSend(false, kResolver4, 53, f.dst, kClientPort, dnsMessage(id, "forged.example.org", false, f.ip));
      if (!received(fd)) return 3;  // the forgery did reach the socket
    }
    if (sendTo(fd, kResolver4, 53, dnsMessage(0x2222, "real.example.org", false))) return 4;
    const int answered = peer([&] {
      const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(53);
      inet_pton(AF_INET, kResolver4, &sa.sin_addr);
      if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 10;
      return sendTo(s, kPod4, kClientPort, dnsMessage(0x2222, "real.example.org", false, real)) ? 11 : 0;
    });
    if (answered) return 20 + answered;
    return received(fd) ? 0 : 5;
  });
  ASSERT_EQ(rc, 0) << "a step in the pod failed (see the returns in the test)";
  const auto ips = learnedIps();
  EXPECT_TRUE(ips.count(real)) << "the resolver's own unicast answer is learned";
  for (const auto& f : forgeries) EXPECT_FALSE(ips.count(f.ip)) << "learned from a looped-back answer to " << f.dst;
}

// Item 7. A raw broadcast (IPv4) or multicast (IPv6) "from" an outside
// client to the server's port is looped back to the server socket; the
// server then answers that client. Only a unicast from the client (sent from
// the peer namespace) makes it a peer the server may answer.
TEST_F(IngressForgeryTest, LoopedBackBroadcastIsNoInboundPeer) {
  const int rc = inPod(pod_, [&](const Peer& peer) {
    const int server = udpSocket(false, kServerPort);
    const int server6 = udpSocket(true, kServerPort + 1);
    if (server < 0 || server6 < 0) return 1;
    if (rawSend(false, kPeer4, kPeerPort, "192.0.2.255", kServerPort, {'h', 'i'})) return 2;  // not a resolver: not spoofed
    if (rawSend(true, kPeer6, kPeerPort, "ff02::1", kServerPort + 1, {'h', 'i'})) return 3;
    if (!received(server) || !received(server6)) return 4;  // the forgeries did reach the servers
    if (sendTo(server, kPeer4, kPeerPort, {'o', 'k'}) != EPERM) return 5;  // answered a forged peer
    if (sendTo(server6, kPeer6, kPeerPort, {'o', 'k'}) != EPERM) return 6;
    // The control: the client really writes (from 203.0.113.9:4001).
    const int wrote = peer([&] {
      const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(kPeerPort + 1);
      inet_pton(AF_INET, kPeer4, &sa.sin_addr);
      if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 10;
      return sendTo(s, kPod4, kServerPort, {'h', 'i'}) ? 11 : 0;
    });
    if (wrote) return 20 + wrote;
    if (!received(server)) return 7;
    return sendTo(server, kPeer4, kPeerPort + 1, {'o', 'k'}) == 0 ? 0 : 8;  // a real peer is answered
  });
  EXPECT_EQ(rc, 0) << (rc == 5 || rc == 6 ? "a server answered a peer forged by a looped-back broadcast/multicast"
                                          : "a step in the pod failed (see the returns in the test)");
}

// A raw TCP segment from src:sport to dst:dport (checksummed), as a blind
// forger with the resolver's address sends it into a connection.
int rawTcp4(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint32_t seq,
            const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> tcp;
  put16(tcp, sport);
  put16(tcp, dport);
  tcp.insert(tcp.end(), {static_cast<uint8_t>(seq >> 24), static_cast<uint8_t>(seq >> 16),
                         static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)});
  tcp.insert(tcp.end(), {0, 0, 0, 1, 0x50, 0x18});  // ack 1, 20-byte header, PSH|ACK
  put16(tcp, 65535);
  put16(tcp, 0);  // checksum
  put16(tcp, 0);
  tcp.insert(tcp.end(), payload.begin(), payload.end());
  in_addr s{}, d{};
  inet_pton(AF_INET, src, &s);
  inet_pton(AF_INET, dst, &d);
  std::vector<uint8_t> pseudo(reinterpret_cast<uint8_t*>(&s), reinterpret_cast<uint8_t*>(&s) + 4);
  pseudo.insert(pseudo.end(), reinterpret_cast<uint8_t*>(&d), reinterpret_cast<uint8_t*>(&d) + 4);
  pseudo.insert(pseudo.end(), {0, IPPROTO_TCP});
  put16(pseudo, static_cast<uint16_t>(tcp.size()));
  pseudo.insert(pseudo.end(), tcp.begin(), tcp.end());
  const uint16_t c = checksum(pseudo);
  tcp[16] = static_cast<uint8_t>(c >> 8);
  tcp[17] = static_cast<uint8_t>(c);
  const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_TCP);  // the kernel writes the IP header
  if (fd < 0) return errno;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = d;
  const int rc = static_cast<int>(::sendto(fd, tcp.data(), tcp.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)));
  ::close(fd);
  return rc < 0 ? errno : 0;
}

class MemoryLearned : public dns::LearnedStore {
 public:
  Result<std::optional<egressd_dns_learned_value>> lookup(const egressd_dns_learned_key& key) override {
    for (const auto& [k, v] : entries)
      if (std::memcmp(&k, &key, sizeof(key)) == 0) return std::optional<egressd_dns_learned_value>{v};
    return std::optional<egressd_dns_learned_value>{};
  }
  Status put(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override {
    entries.emplace_back(key, value);
    return Ok{};
  }
  std::set<std::string> ips() const {
    std::set<std::string> out;
    for (const auto& [k, v] : entries) {
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, k.addr + 12, buf, sizeof(buf));
      out.insert(buf);
    }
    return out;
  }
  std::vector<std::pair<egressd_dns_learned_key, egressd_dns_learned_value>> entries;
};

// Item 6. The workload asks a real resolver over TCP. Before the answer, a
// forger with the resolver's address (here the resolver's own namespace:
// what a hairpinned AF_PACKET frame looks like to the pod) injects a segment
// into that connection, at a sequence number it can't know, answering the
// same question with its own address. The kernel hands the connection's SYN,
// query, SYN-ACK and both answer segments to the agent (dns_punt); the
// agent's learner, fed exactly what the kernel punted, learns the real answer
// and not the forged one.
TEST_F(IngressForgeryTest, ForgedTcpSegmentIsNotLearned) {
  const std::string forged = "198.51.100.66", real = "198.51.100.77";
  const int rc = inPod(
      pod_,
      [&](const Peer& peer) {
        const int server = peer([&] {
          ::alarm(5);  // never outlives a failed client
          const int l = ::socket(AF_INET, SOCK_STREAM, 0);
          const int on = 1;
          ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
          sockaddr_in sa{};
          sa.sin_family = AF_INET;
          sa.sin_port = htons(53);
          inet_pton(AF_INET, kResolver4, &sa.sin_addr);
          if (::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(l, 1) != 0) return 10;
          sockaddr_in client{};
          socklen_t client_len = sizeof(client);
          const int c = ::accept(l, reinterpret_cast<sockaddr*>(&client), &client_len);
          uint8_t buf[512];
          if (c < 0 || ::recv(c, buf, sizeof(buf), 0) <= 2) return 11;
          const uint16_t id = static_cast<uint16_t>(buf[2] << 8 | buf[3]);
          auto frame = [](const std::vector<uint8_t>& m) {
            std::vector<uint8_t> out;
            put16(out, static_cast<uint16_t>(m.size()));
            out.insert(out.end(), m.begin(), m.end());
            return out;
          };
          if (rawTcp4(kResolver4, 53, kPod4, ntohs(client.sin_port), 0x12345678,
                      frame(dnsMessage(id, "tcp.example.org", false, forged))))
            return 12;
          ::usleep(100 * 1000);
          const auto answer = frame(dnsMessage(id, "tcp.example.org", false, real));
          if (::send(c, answer.data(), answer.size(), 0) != static_cast<ssize_t>(answer.size())) return 13;
          ::recv(c, buf, sizeof(buf), 0);  // until the client closes
          return 0;
        });
        ::usleep(200 * 1000);  // the resolver listens
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(53);
        inet_pton(AF_INET, kResolver4, &sa.sin_addr);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return 1;
        std::vector<uint8_t> q;
        const auto query = dnsMessage(0x3333, "tcp.example.org", false);
        put16(q, static_cast<uint16_t>(query.size()));
        q.insert(q.end(), query.begin(), query.end());
        if (::send(fd, q.data(), q.size(), 0) != static_cast<ssize_t>(q.size())) return 2;
        uint8_t buf[512];
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1 || ::recv(fd, buf, sizeof(buf), 0) <= 0) return 3;
        ::close(fd);
        const int served = peerWait(server);
        return served ? 20 + served : 0;
      },
      false);
  ASSERT_EQ(rc, 0) << "a step in the pod failed (see the returns in the test)";

  MemoryLearned store;
  dns::PuntStats stats;
  dns::PuntLearner learner{store, dns::TtlBounds{5, 3600}, stats};
  struct Ctx {
    dns::PuntLearner* learner;
    const DesiredState* desired;
    std::vector<uint32_t> flags;
  } ctx{&learner, &desired_, {}};
  auto* rb = ring_buffer__new(
      datapath_->dnsPuntFd(),
      [](void* c, void* data, size_t size) {
        auto* x = static_cast<Ctx*>(c);
        egressd_dns_punt punt;
        std::memcpy(&punt, data, std::min(size, sizeof(punt)));
        x->flags.push_back(punt.flags);
        x->learner->onPunt(punt, *x->desired, 1);
        return 0;
      },
      &ctx, nullptr);
  ASSERT_NE(rb, nullptr);
  ring_buffer__consume(rb);
  ring_buffer__free(rb);
  constexpr uint32_t kTcp = EGRESSD_DNS_PUNT_F_TCP, kOut = EGRESSD_DNS_PUNT_F_EGRESS, kSyn = EGRESSD_DNS_PUNT_F_SYN;
  const std::vector<uint32_t> want_first = {kTcp | kOut | kSyn, kTcp | kSyn};  // SYN, SYN-ACK
  ASSERT_GE(ctx.flags.size(), 5u) << "SYN, SYN-ACK, query, forged and real answer segments";
  EXPECT_EQ(std::vector<uint32_t>(ctx.flags.begin(), ctx.flags.begin() + 2), want_first);
  EXPECT_EQ(std::count(ctx.flags.begin(), ctx.flags.end(), kTcp | kOut), 1) << "one query segment";
  EXPECT_EQ(std::count(ctx.flags.begin(), ctx.flags.end(), kTcp), 2) << "the forged and the real answer";
  EXPECT_EQ(store.ips(), std::set<std::string>{real}) << "only the real answer is learned";
}

}  // namespace
}  // namespace egressd::ktest
