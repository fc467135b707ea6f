// The TC backstop (bpf/lib/tc_backstop.h, lib/tc_packet.h) under
// BPF_PROG_TEST_RUN: a table of Ethernet frames -> the verdict of
// egressd_tc_from_pod (what the workload sends) or egressd_tc_to_pod (what it
// receives), on the real Datapath's programs and maps.
//
// The programs read skb->ifindex, which a test run sets only for a device of
// the caller's network namespace: the test moves this thread into a fresh
// namespace (unshare(CLONE_NEWNET)), adds two veth pairs there, and moves
// back at the end; the namespace and its devices go with its last reference.
//
//   tct0 -> "pod"       scope 1, REGISTRY_ONLY:
//                         192.0.2.10/32  tcp/443, udp/9000
//                         2001:db8::10   udp/9000
//                         10.96.0.0/12   udp/any (port 0, as --cluster-cidr)
//                         10.0.0.0/24, 2001:db8:ffff::/64 (the pod network, its
//                                        own addresses in it) udp/any
//                       its addresses: 10.0.0.2, 2001:db8:ffff::2, fe80::2
//   tct2 -> "audit-pod" scope 2, REGISTRY_ONLY, nothing allowed, AUDIT flag;
//                       the same addresses; 2001:db8:eeee::1/64 on the node's side
//   tct4 -> "pod" again, a port of bridge tcbr (2001:db8:dddd::1/64)
//   tct1    (exists, not in tc_ifaces)
//
// Rows run in order; a few depend on the ones before them (the inbound rule,
// the flows entry), which the row says.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bpf/cgroup.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr int kNext = -1;  // TCX_NEXT / TC_ACT_UNSPEC
constexpr int kDrop = 2;   // TC_ACT_SHOT / TCX_DROP

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kAck = 0x10;

constexpr const char* kPod4 = "10.0.0.2";
constexpr const char* kPod6 = "2001:db8:ffff::2";

// ---- Frame building: addresses in text, checksums left zero (nothing on
// the test-run path verifies them).

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

std::vector<uint8_t> ethernet(uint16_t ethertype) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  put16(f, ethertype);
  return f;
}

// The frame with VLAN tags (TPID, VID 0) between the MAC addresses and its
// ethertype, outermost first.
std::vector<uint8_t> vlanTagged(std::vector<uint8_t> f, std::initializer_list<uint16_t> tpids) {
  std::vector<uint8_t> tags;
  for (uint16_t tpid : tpids) {
    put16(tags, tpid);
    put16(tags, 0);  // PCP 0, DEI 0, VID 0
  }
  f.insert(f.begin() + 12, tags.begin(), tags.end());
  return f;
}

std::array<uint8_t, 4> ip4(const char* text) {
  std::array<uint8_t, 4> a{};
  if (inet_pton(AF_INET, text, a.data()) != 1) std::abort();  // a bug in the table
  return a;
}

std::array<uint8_t, 16> ip6(const char* text) {
  std::array<uint8_t, 16> a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1) std::abort();
  return a;
}

// An address as tc_ifaces holds it: IPv4 v4-mapped.
std::array<uint8_t, 16> mapped(const char* text) {
  if (std::strchr(text, ':')) return ip6(text);
  std::array<uint8_t, 16> a{};
  a[10] = a[11] = 0xff;
  const auto v4 = ip4(text);
  std::copy(v4.begin(), v4.end(), a.begin() + 12);
  return a;
}

std::vector<uint8_t> udp(uint16_t sport, uint16_t dport, size_t payload = 16) {
  std::vector<uint8_t> h;
  put16(h, sport);
  put16(h, dport);
  put16(h, static_cast<uint16_t>(8 + payload));
  put16(h, 0);
  h.resize(8 + payload, 0xab);
  return h;
}

std::vector<uint8_t> tcp(uint16_t sport, uint16_t dport, uint8_t flags) {
  std::vector<uint8_t> h;
  put16(h, sport);
  put16(h, dport);
  h.insert(h.end(), 8, 0);    // seq, ack
  h.push_back(5 << 4);        // data offset
  h.push_back(flags);
  put16(h, 64240);            // window
  h.insert(h.end(), 4, 0);    // checksum, urgent
  return h;
}

std::vector<uint8_t> icmp6(uint8_t type) {
  std::vector<uint8_t> h = {type, 0, 0, 0};
  h.resize(24, 0);  // reserved + target, as an NS has
  return h;
}

// An ICMP/ICMPv6 echo request or reply: type, code, checksum, identifier,
// sequence, then a little payload.
std::vector<uint8_t> icmpEcho(uint8_t type, uint16_t id) {
  std::vector<uint8_t> h = {type, 0, 0, 0};
  put16(h, id);
  put16(h, 1);
  h.resize(16, 0x5a);
  return h;
}

struct Ip4Options {
  uint16_t frag_off = 0;  // host order: flags (MF = 0x2000) | offset in 8-byte units
  uint8_t option_words = 0;
  std::vector<uint8_t> options{};  // written first, the rest of option_words NOPs
};

std::vector<uint8_t> ipv4(const char* src, const char* dst, uint8_t protocol, const std::vector<uint8_t>& l4,
                          Ip4Options o = {}) {
  auto f = ethernet(ETH_P_IP);
  const size_t hlen = 20 + 4u * o.option_words;
  f.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
  f.push_back(0);
  put16(f, static_cast<uint16_t>(hlen + l4.size()));
  put16(f, 0x1234);  // id
  put16(f, o.frag_off);
  f.push_back(64);
  f.push_back(protocol);
  put16(f, 0);
  for (auto b : ip4(src)) f.push_back(b);
  for (auto b : ip4(dst)) f.push_back(b);
  f.insert(f.end(), o.options.begin(), o.options.end());
  f.resize(f.size() + 4u * o.option_words - o.options.size(), 1);  // NOPs
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

std::vector<uint8_t> ipv6(const char* src, const char* dst, uint8_t nexthdr, const std::vector<uint8_t>& l4,
                          uint8_t hop_limit = 255) {
  auto f = ethernet(ETH_P_IPV6);
  f.insert(f.end(), {0x60, 0, 0, 0});
  put16(f, static_cast<uint16_t>(l4.size()));
  f.push_back(nexthdr);
  f.push_back(hop_limit);
  for (auto b : ip6(src)) f.push_back(b);
  for (auto b : ip6(dst)) f.push_back(b);
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

std::vector<uint8_t> arpRequest() {
  auto f = ethernet(ETH_P_ARP);
  f.insert(f.end(), {0, 1, 0x08, 0, 6, 4, 0, 1});
  f.insert(f.end(), {0x02, 0, 0, 0, 0, 0x02});
  for (auto b : ip4(kPod4)) f.push_back(b);
  f.insert(f.end(), 6, 0);
  for (auto b : ip4("10.0.0.1")) f.push_back(b);
  return f;
}

// A hop-by-hop options header (8 bytes, PadN) and then `l4` as `nexthdr`.
std::vector<uint8_t> hopByHop(uint8_t nexthdr, const std::vector<uint8_t>& l4) {
  std::vector<uint8_t> h = {nexthdr, 0, 1, 4, 0, 0, 0, 0};
  h.insert(h.end(), l4.begin(), l4.end());
  return h;
}

std::vector<uint8_t> truncated(std::vector<uint8_t> f, size_t length) {
  f.resize(length);
  return f;
}

std::vector<uint8_t> withIhl(std::vector<uint8_t> f, uint8_t ihl) {
  f[14] = static_cast<uint8_t>(0x40 | ihl);
  return f;
}

// ---- The table.

enum class Dir { kFromPod, kToPod };
enum class Iface { kPod, kAudit, kUnmapped, kBridged };

struct TcCase {
  std::string description;
  std::vector<uint8_t> frame;
  Dir dir;
  int expected;  // kNext or kDrop
  Iface iface = Iface::kPod;
  uint32_t gso_segs = 0;            // ctx gso_segs (0: one packet)
  std::function<void()> before{};   // state the row depends on
};

const char* dirName(Dir d) { return d == Dir::kFromPod ? "from pod" : "to pod"; }

class TcBackstopTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    enterFreshNetns();
    if (HasFatalFailure()) return;

    addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
    addScope(2, EGRESSD_MODE_REGISTRY_ONLY);
    addPrefix("192.0.2.10/32", 1);
    addPort(1, 443, IPPROTO_TCP, {1});
    addPort(1, 9000, IPPROTO_UDP, {1});
    addPrefix("2001:db8::10/128", 2);
    addPort(2, 9000, IPPROTO_UDP, {1});
    addPrefix("10.96.0.0/12", 3);
    addPort(3, 0, IPPROTO_UDP, {1});
    addPrefix("10.0.0.0/24", 4);
    addPrefix("2001:db8:ffff::/64", 4);
    addPort(4, 0, IPPROTO_UDP, {1});

    const auto pod = tree_->make("pod");
    const auto audit = tree_->make("audit-pod");
    addWorkload(pod, 1);
    addWorkload(audit, 2, EGRESSD_WORKLOAD_F_AUDIT);
    auto pod_id = bpf::cgroupIdOf(pod);
    auto audit_id = bpf::cgroupIdOf(audit);
    ASSERT_TRUE(pod_id.ok()) << pod_id.error();
    ASSERT_TRUE(audit_id.ok()) << audit_id.error();
    pod_cgroup_ = *pod_id;
    audit_cgroup_ = *audit_id;

    const std::vector<std::array<uint8_t, 16>> own = {mapped(kPod4), mapped(kPod6), mapped("fe80::2")};
    ASSERT_TRUE(datapath_->putTcIface(pod_if_, {pod_cgroup_, own}).ok());
    ASSERT_TRUE(datapath_->putTcIface(audit_if_, {audit_cgroup_, own}).ok());
    ASSERT_TRUE(datapath_->putTcIface(bridged_if_, {pod_cgroup_, own, bridge_if_}).ok());
  }

  // Entries of tc_inbound whose peer is addr.
  int inboundEntriesFrom(const char* addr) {
    const int fd = bpf_obj_get((bpffs_dir_ + "/tc_inbound").c_str());
    EXPECT_GE(fd, 0) << std::strerror(errno);
    int count = 0;
    egressd_tc_inbound_key key{}, next{};
    const void* prev = nullptr;
    const auto want = mapped(addr);
    while (fd >= 0 && bpf_map_get_next_key(fd, prev, &next) == 0) {
      key = next;
      prev = &key;
      count += std::memcmp(key.addr, want.data(), sizeof(key.addr)) == 0 ? 1 : 0;
    }
    if (fd >= 0) ::close(fd);
    return count;
  }

  void TearDown() override {
    leaveNetns();
    DatapathTest::TearDown();
  }

  // This thread only; the namespace dies with its last reference (the
  // thread's), so leaving it removes the veths too.
  void enterFreshNetns() {
    home_netns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(home_netns_, 0) << std::strerror(errno);
    ASSERT_EQ(0, ::unshare(CLONE_NEWNET)) << std::strerror(errno);
    // tct0 is on 2001:db8:ffff::/64 with 2001:db8:1::/64 behind a gateway,
    // tct2 on 2001:db8:eeee::/64 (another link of the node), tct4 a port of
    // bridge tcbr on 2001:db8:dddd::/64; forwarding on: what the ND rows'
    // route lookups see.
    ASSERT_EQ(0, std::system("ip link add tct0 type veth peer name tct1 && "
                             "ip link add tct2 type veth peer name tct3 && "
                             "ip link add tct4 type veth peer name tct5 && "
                             "ip link add tcbr type bridge && ip link set tct4 master tcbr && "
                             "for i in tct0 tct1 tct2 tct3 tct4 tct5 tcbr; do ip link set $i up; done && "
                             "ip -6 addr add 2001:db8:ffff::1/64 dev tct0 nodad && "
                             "ip -6 addr add 2001:db8:eeee::1/64 dev tct2 nodad && "
                             "ip -6 addr add 2001:db8:dddd::1/64 dev tcbr nodad && "
                             "ip -6 route add 2001:db8:1::/64 via 2001:db8:ffff::fe dev tct0 && "
                             "sysctl -qw net.ipv6.conf.all.forwarding=1"));
    pod_if_ = if_nametoindex("tct0");
    unmapped_if_ = if_nametoindex("tct1");
    audit_if_ = if_nametoindex("tct2");
    bridged_if_ = if_nametoindex("tct4");
    bridge_if_ = if_nametoindex("tcbr");
    ASSERT_GT(pod_if_, 1u);
    ASSERT_GT(unmapped_if_, 1u);
    ASSERT_GT(audit_if_, 1u);
    ASSERT_GT(bridged_if_, 1u);
    ASSERT_GT(bridge_if_, 1u);
  }

  void leaveNetns() {
    if (home_netns_ < 0) return;
    EXPECT_EQ(0, ::setns(home_netns_, CLONE_NEWNET)) << std::strerror(errno);
    ::close(home_netns_);
    home_netns_ = -1;
  }

  uint32_t ifindexOf(Iface i) const {
    switch (i) {
      case Iface::kPod: return pod_if_;
      case Iface::kAudit: return audit_if_;
      case Iface::kBridged: return bridged_if_;
      case Iface::kUnmapped: break;
    }
    return unmapped_if_;
  }

  int run(const TcCase& c) {
    const int prog = datapath_->tcProgramFd(c.dir == Dir::kFromPod ? bpf::TcHook::kIngress : bpf::TcHook::kEgress);
    __sk_buff ctx{};
    ctx.ifindex = ifindexOf(c.iface);
    ctx.gso_segs = c.gso_segs;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c.frame.data(),
                .data_size_in = static_cast<uint32_t>(c.frame.size()), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
                .repeat = 1);
    const int rc = bpf_prog_test_run_opts(prog, &opts);
    EXPECT_EQ(0, rc) << c.description << ": " << std::strerror(errno);
    return rc == 0 ? static_cast<int>(opts.retval) : 0;
  }

  void putFlow(const egressd_flow_key& k, const egressd_flow_value& v) {
    const int fd = bpf_obj_get((bpffs_dir_ + "/flows").c_str());
    ASSERT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(0, bpf_map_update_elem(fd, &k, &v, BPF_ANY)) << std::strerror(errno);
    ::close(fd);
  }

  int home_netns_ = -1;
  uint32_t pod_if_ = 0;
  uint32_t audit_if_ = 0;
  uint32_t unmapped_if_ = 0;
  uint32_t bridged_if_ = 0;
  uint32_t bridge_if_ = 0;
  uint64_t pod_cgroup_ = 0;
  uint64_t audit_cgroup_ = 0;
};

TEST_F(TcBackstopTest, PacketTableGivesItsVerdicts) {
  using D = Dir;
  const auto denied_udp = ipv4(kPod4, "198.51.100.20", IPPROTO_UDP, udp(40000, 9999));
  const auto denied_udp_l3 = denied_udp.size() - 14;
  const auto flow_key = flowKey(pod_cgroup_, "198.51.100.20", 9999, IPPROTO_UDP);
  uint64_t dropped_before_allow = 0;

  const std::vector<TcCase> table = {
      // Rule 1: not IP, or on the link.
      {"ARP request passes", arpRequest(), D::kFromPod, kNext},
      {"IPv4 limited broadcast (DHCP) passes", ipv4("0.0.0.0", "255.255.255.255", IPPROTO_UDP, udp(68, 67)),
       D::kFromPod, kNext},
      {"IPv4 multicast 224.0.0.251 passes", ipv4(kPod4, "224.0.0.251", IPPROTO_UDP, udp(5353, 5353)), D::kFromPod,
       kNext},
      {"ICMPv6 NS (135) to solicited-node multicast passes",
       ipv6("fe80::2", "ff02::1:ff00:1", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"ICMPv6 NS (135) unicast to an on-link neighbour's global address (NUD) passes",
       ipv6(kPod6, "2001:db8:ffff::3", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"ICMPv6 NA (136) to the node's own global address passes",
       ipv6(kPod6, "2001:db8:ffff::1", IPPROTO_ICMPV6, icmp6(136)), D::kFromPod, kNext},
      {"ICMPv6 NS (135) to 2001:db8:9::1 (no route: can't leave) passes",
       ipv6(kPod6, "2001:db8:9::1", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"ICMPv6 NS (135) to 2001:db8:1::1, routed on through a gateway, dropped",
       ipv6(kPod6, "2001:db8:1::1", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kDrop},
      {"ICMPv6 NS (135) to an on-link neighbour with hop limit 64 (not valid ND) dropped",
       ipv6(kPod6, "2001:db8:ffff::3", IPPROTO_ICMPV6, icmp6(135), 64), D::kFromPod, kDrop},
      {"ICMPv6 RA (134) to 2001:db8:1::1 dropped", ipv6(kPod6, "2001:db8:1::1", IPPROTO_ICMPV6, icmp6(134)),
       D::kFromPod, kDrop},
      {"ICMPv6 RS (133) to ff02::2 passes", ipv6("fe80::2", "ff02::2", IPPROTO_ICMPV6, icmp6(133)), D::kFromPod,
       kNext},
      {"IPv6 UDP to link-local fe80::1 passes", ipv6("fe80::2", "fe80::1", IPPROTO_UDP, udp(40000, 9999)),
       D::kFromPod, kNext},
      {"IPv6 UDP to link-local febf::1 (top of fe80::/10) passes",
       ipv6("fe80::2", "febf::1", IPPROTO_UDP, udp(40000, 9999)), D::kFromPod, kNext},
      {"IPv6 UDP to ff02::1 passes", ipv6("fe80::2", "ff02::1", IPPROTO_UDP, udp(40000, 9999)), D::kFromPod, kNext},
      {"IPv6 UDP to ff0e::1 (global-scope multicast, routable) dropped",
       ipv6(kPod6, "ff0e::1", IPPROTO_UDP, udp(40000, 9999)), D::kFromPod, kDrop},
      {"IPv4 UDP to 239.255.255.250 (not link-local multicast) dropped",
       ipv4(kPod4, "239.255.255.250", IPPROTO_UDP, udp(40000, 1900)), D::kFromPod, kDrop},

      // Neighbour discovery leaves by the interface it came in on (issue 12 item 2).
      {"ICMPv6 NS (135) to 2001:db8:eeee::5, on the node's other link tct2, dropped",
       ipv6(kPod6, "2001:db8:eeee::5", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kDrop},
      {"ICMPv6 NA (136) to 2001:db8:eeee::5, on the node's other link tct2, dropped",
       ipv6(kPod6, "2001:db8:eeee::5", IPPROTO_ICMPV6, icmp6(136)), D::kFromPod, kDrop},
      {"ICMPv6 NS (135) to the node's own 2001:db8:eeee::1 (on another link, but local) passes",
       ipv6(kPod6, "2001:db8:eeee::1", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"ICMPv6 NS (135) from its link-local fe80::2 to an on-link neighbour (NUD) passes",
       ipv6("fe80::2", "2001:db8:ffff::3", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"bridge port: ICMPv6 NS (135) to 2001:db8:dddd::5, on its bridge's link, passes",
       ipv6(kPod6, "2001:db8:dddd::5", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext, Iface::kBridged},
      {"bridge port: ICMPv6 NS (135) to 2001:db8:ffff::3, on another link, dropped",
       ipv6(kPod6, "2001:db8:ffff::3", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kDrop, Iface::kBridged},
      {"DAD: ICMPv6 NS (135) from :: to solicited-node ff02::1:ff00:2 passes",
       ipv6("::", "ff02::1:ff00:2", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kNext},
      {"MLDv2 report (143) from :: to ff02::16 passes", ipv6("::", "ff02::16", IPPROTO_ICMPV6, icmp6(143)),
       D::kFromPod, kNext},
      {"ICMPv6 NS (135) from :: to an on-link neighbour's global address dropped (spoofed)",
       ipv6("::", "2001:db8:ffff::3", IPPROTO_ICMPV6, icmp6(135)), D::kFromPod, kDrop},

      // Its own addresses only, and never to itself through the node
      // (issue 12 items 5 and 8). 10.0.0.0/24 is allowed, as a cluster CIDR is.
      {"IPv4 UDP from a spoofed 10.96.0.99 to allowed 10.96.0.7:5353 dropped",
       ipv4("10.96.0.99", "10.96.0.7", IPPROTO_UDP, udp(53, 5353)), D::kFromPod, kDrop},
      {"IPv4 UDP from 0.0.0.0 to allowed 192.0.2.10:9000 dropped (spoofed)",
       ipv4("0.0.0.0", "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)), D::kFromPod, kDrop},
      {"IPv6 UDP from a spoofed 2001:db8:7::7 to allowed [2001:db8::10]:9000 dropped",
       ipv6("2001:db8:7::7", "2001:db8::10", IPPROTO_UDP, udp(40000, 9000)), D::kFromPod, kDrop},
      {"IPv4 forged DNS answer from the resolver 10.96.0.10:53 to its own 10.0.0.2 dropped",
       ipv4("10.96.0.10", kPod4, IPPROTO_UDP, udp(53, 40000)), D::kFromPod, kDrop},
      {"IPv4 UDP from a spoofed peer 203.0.113.30:4000 to its own 10.0.0.2:5300 dropped",
       ipv4("203.0.113.30", kPod4, IPPROTO_UDP, udp(4000, 5300)), D::kFromPod, kDrop},
      {"hairpin: IPv4 UDP from its own 10.0.0.2 to its own 10.0.0.2:5300 dropped",
       ipv4(kPod4, kPod4, IPPROTO_UDP, udp(4000, 5300)), D::kFromPod, kDrop},
      {"hairpin: IPv6 UDP from its own to its own [2001:db8:ffff::2]:5300 dropped",
       ipv6(kPod6, kPod6, IPPROTO_UDP, udp(4000, 5300)), D::kFromPod, kDrop},
      {"IPv4 UDP to another pod 10.0.0.3:5300 passes", ipv4(kPod4, "10.0.0.3", IPPROTO_UDP, udp(4000, 5300)),
       D::kFromPod, kNext},
      {"IPv6 UDP to another pod [2001:db8:ffff::3]:5300 passes",
       ipv6(kPod6, "2001:db8:ffff::3", IPPROTO_UDP, udp(4000, 5300)), D::kFromPod, kNext},
      {"IPv4 UDP from a spoofed 198.51.100.7 to 255.255.255.255 passes (link scope: never routed)",
       ipv4("198.51.100.7", "255.255.255.255", IPPROTO_UDP, udp(4000, 5300)), D::kFromPod, kNext},
      {"to pod: UDP from its own 10.0.0.2:4001 to :5300 passes (not recorded as a peer)",
       ipv4(kPod4, kPod4, IPPROTO_UDP, udp(4001, 5300)), D::kToPod, kNext},
      {"to pod: SYN from its own [2001:db8:ffff::2]:4001 to :8080 passes (not recorded as a peer)",
       ipv6(kPod6, kPod6, IPPROTO_TCP, tcp(4001, 8080, kSyn)), D::kToPod, kNext},

      // VLAN tags: a pod's veth carries none (issue 12 item 3).
      {"802.1Q tag (VID 0) around IPv4 UDP to allowed 192.0.2.10:9000 dropped (malformed)",
       vlanTagged(ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)), {ETH_P_8021Q}), D::kFromPod, kDrop},
      {"802.1Q tag (VID 0) around IPv4 UDP to 198.51.100.21:9999 dropped",
       vlanTagged(ipv4(kPod4, "198.51.100.21", IPPROTO_UDP, udp(40000, 9999)), {ETH_P_8021Q}), D::kFromPod, kDrop},
      {"two 802.1Q tags (VID 0) around IPv4 UDP to 198.51.100.21:9999 dropped",
       vlanTagged(ipv4(kPod4, "198.51.100.21", IPPROTO_UDP, udp(40000, 9999)), {ETH_P_8021Q, ETH_P_8021Q}),
       D::kFromPod, kDrop},
      {"two 802.1Q tags (VID 0) around IPv6 UDP to [2001:db8:1::21]:9999 dropped",
       vlanTagged(ipv6(kPod6, "2001:db8:1::21", IPPROTO_UDP, udp(40000, 9999)), {ETH_P_8021Q, ETH_P_8021Q}),
       D::kFromPod, kDrop},
      {"802.1ad outer, 802.1Q inner around IPv4 UDP to 198.51.100.21:9999 dropped",
       vlanTagged(ipv4(kPod4, "198.51.100.21", IPPROTO_UDP, udp(40000, 9999)), {ETH_P_8021AD, ETH_P_8021Q}),
       D::kFromPod, kDrop},
      {"0x9100 outer tag around IPv4 UDP to 198.51.100.21:9999 dropped",
       vlanTagged(ipv4(kPod4, "198.51.100.21", IPPROTO_UDP, udp(40000, 9999)), {0x9100}), D::kFromPod, kDrop},
      {"802.1Q tag around an ARP request dropped", vlanTagged(arpRequest(), {ETH_P_8021Q}), D::kFromPod, kDrop},
      {"to pod: 802.1Q-tagged IPv4 passes (never dropped inbound)",
       vlanTagged(ipv4("198.51.100.30", kPod4, IPPROTO_UDP, udp(9999, 40000)), {ETH_P_8021Q}), D::kToPod, kNext},

      // Rule 4: the registry, as at connect().
      {"IPv4 UDP to allowed 192.0.2.10:9000 passes", ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)),
       D::kFromPod, kNext},
      {"IPv4 UDP to 198.51.100.20:9999 dropped", denied_udp, D::kFromPod, kDrop},
      {"TCP SYN to allowed 192.0.2.10:443 passes", ipv4(kPod4, "192.0.2.10", IPPROTO_TCP, tcp(40001, 443, kSyn)),
       D::kFromPod, kNext},
      {"TCP SYN to 192.0.2.10:444 dropped", ipv4(kPod4, "192.0.2.10", IPPROTO_TCP, tcp(40001, 444, kSyn)),
       D::kFromPod, kDrop},
      {"TCP to 192.0.2.10:9000 (a UDP-only port) dropped",
       ipv4(kPod4, "192.0.2.10", IPPROTO_TCP, tcp(40001, 9000, kSyn)), D::kFromPod, kDrop},
      {"IPv4 with options (ihl 7), UDP to 192.0.2.10:9000 passes",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000), {.option_words = 2}), D::kFromPod, kNext},
      {"IPv4 with options (ihl 7), UDP to 192.0.2.10:9999 dropped",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9999), {.option_words = 2}), D::kFromPod, kDrop},
      // IPv4 source routing: a router would forward to the option's next
      // address, not to the destination decided on (issue 12, "also observed").
      {"LSRR via allowed 192.0.2.10 to a denied 198.51.100.21 dropped",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000),
            {.option_words = 3, .options = {1, 0x83, 7, 4, 198, 51, 100, 21}}),
       D::kFromPod, kDrop},
      {"SSRR to allowed 192.0.2.10 dropped",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000), {.option_words = 2, .options = {0x89, 7, 4, 192, 0, 2, 10}}),
       D::kFromPod, kDrop},
      {"Router Alert (IGMP's) to allowed 192.0.2.10:9000 passes",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000), {.option_words = 1, .options = {0x94, 4, 0, 0}}),
       D::kFromPod, kNext},
      {"a timestamp option whose data holds 0x83 dropped (every option byte is compared: fail closed)",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000),
            {.option_words = 3, .options = {0x44, 12, 5, 0, 0x83, 0x83, 0x83, 0x83, 0, 0, 0, 0}}),
       D::kFromPod, kDrop},
      {"40 bytes of options (NOPs), UDP to allowed 192.0.2.10:9000 passes",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000), {.option_words = 10}), D::kFromPod, kNext},
      {"LSRR in the last option byte of 40 dropped",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000),
            {.option_words = 10, .options = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                             1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x83}}),
       D::kFromPod, kDrop},
      {"ICMP echo to allowed host 192.0.2.10 dropped (no ICMP entries)",
       ipv4(kPod4, "192.0.2.10", IPPROTO_ICMP, {8, 0, 0, 0, 0, 1, 0, 1}), D::kFromPod, kDrop},
      {"IPv4 UDP to loopback 127.0.0.1 passes", ipv4(kPod4, "127.0.0.1", IPPROTO_UDP, udp(40000, 9999)),
       D::kFromPod, kNext},
      {"UDP to any-port class 10.96.0.5:12345 passes", ipv4(kPod4, "10.96.0.5", IPPROTO_UDP, udp(40000, 12345)),
       D::kFromPod, kNext},
      {"IPv6 UDP to allowed [2001:db8::10]:9000 passes", ipv6(kPod6, "2001:db8::10", IPPROTO_UDP, udp(40000, 9000)),
       D::kFromPod, kNext},
      {"IPv6 UDP to [2001:db8:1::20]:9000 dropped", ipv6(kPod6, "2001:db8:1::20", IPPROTO_UDP, udp(40000, 9000)),
       D::kFromPod, kDrop},
      {"ICMPv6 echo (128) to 2001:db8:1::20 dropped (not ND)",
       ipv6(kPod6, "2001:db8:1::20", IPPROTO_ICMPV6, icmp6(128)), D::kFromPod, kDrop},

      // Fail closed.
      // (A test run refuses a frame whose IP header itself is cut short,
      // EINVAL, so those are the header's length field and L4 cut short.)
      {"IPv4 ihl 4 to allowed 192.0.2.10:9000 dropped",
       withIhl(ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)), 4), D::kFromPod, kDrop},
      {"IPv4 ihl 15 (options past the end) to allowed 192.0.2.10:9000 dropped",
       withIhl(ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000, 0)), 15), D::kFromPod, kDrop},
      {"truncated UDP header (2 bytes) to allowed 192.0.2.10:9000 dropped",
       truncated(ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)), 14 + 20 + 2), D::kFromPod, kDrop},
      {"truncated TCP header (8 bytes) to allowed 192.0.2.10:443 dropped",
       truncated(ipv4(kPod4, "192.0.2.10", IPPROTO_TCP, tcp(40001, 443, kSyn)), 14 + 20 + 8), D::kFromPod, kDrop},
      {"truncated UDP header after IPv6 to allowed [2001:db8::10]:9000 dropped",
       truncated(ipv6(kPod6, "2001:db8::10", IPPROTO_UDP, udp(40000, 9000)), 14 + 40 + 3), D::kFromPod, kDrop},
      {"IPv6 hop-by-hop then UDP to allowed [2001:db8::10]:9000 dropped (extensions not walked)",
       ipv6(kPod6, "2001:db8::10", 0, hopByHop(IPPROTO_UDP, udp(40000, 9000))), D::kFromPod, kDrop},

      // IPv4 fragments: the first carries the ports, the later ones none.
      {"IPv4 first fragment (MF) UDP to 192.0.2.10:9000 passes",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000), {.frag_off = 0x2000}), D::kFromPod, kNext},
      {"IPv4 later fragment to denied 198.51.100.20 dropped",
       ipv4(kPod4, "198.51.100.20", IPPROTO_UDP, std::vector<uint8_t>(24, 0xcd), {.frag_off = 0x0003}),
       D::kFromPod, kDrop},
      {"IPv4 later fragment to 192.0.2.10 (exact ports only) dropped (documented)",
       ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, std::vector<uint8_t>(24, 0xcd), {.frag_off = 0x0003}), D::kFromPod,
       kDrop},
      {"IPv4 later fragment to any-port class 10.96.0.5 passes",
       ipv4(kPod4, "10.96.0.5", IPPROTO_UDP, std::vector<uint8_t>(24, 0xcd), {.frag_off = 0x2003}), D::kFromPod,
       kNext},

      // Interfaces that are no workload's, and the other direction.
      {"unmapped ifindex: denied UDP passes", denied_udp, D::kFromPod, kNext, Iface::kUnmapped},
      {"unmapped ifindex: IPv4 ihl 4 passes",
       withIhl(ipv4(kPod4, "192.0.2.10", IPPROTO_UDP, udp(40000, 9000)), 4), D::kFromPod, kNext, Iface::kUnmapped},
      {"to pod: UDP from a denied peer passes (never dropped inbound)",
       ipv4("198.51.100.30", kPod4, IPPROTO_UDP, udp(9999, 40000)), D::kToPod, kNext},
      {"to pod: IPv4 ihl 4 passes", withIhl(ipv4("198.51.100.30", kPod4, IPPROTO_UDP, udp(1, 2)), 4), D::kToPod,
       kNext},

      // Rule 3: answers to connections that came in.
      {"SYN-ACK from :8080 to 203.0.113.5:5555 before any SYN dropped (a flow with a drop now exists)",
       ipv4(kPod4, "203.0.113.5", IPPROTO_TCP, tcp(8080, 5555, kSyn | kAck)), D::kFromPod, kDrop},
      {"to pod: SYN from 203.0.113.5:5555 to :8080 passes (recorded despite that flow)",
       ipv4("203.0.113.5", kPod4, IPPROTO_TCP, tcp(5555, 8080, kSyn)), D::kToPod, kNext},
      {"after that SYN: SYN-ACK from :8080 to 203.0.113.5:5555 passes",
       ipv4(kPod4, "203.0.113.5", IPPROTO_TCP, tcp(8080, 5555, kSyn | kAck)), D::kFromPod, kNext},
      {"after that SYN: SYN-ACK from :8080 to 203.0.113.5:5556 (other port) dropped",
       ipv4(kPod4, "203.0.113.5", IPPROTO_TCP, tcp(8080, 5556, kSyn | kAck)), D::kFromPod, kDrop},
      {"after that SYN: SYN-ACK from :8080 to 203.0.113.5:5555 on the audit iface (other ifindex) passes, audited",
       ipv4(kPod4, "203.0.113.5", IPPROTO_TCP, tcp(8080, 5555, kSyn | kAck)), D::kFromPod, kNext, Iface::kAudit},
      {"to pod: a bare ACK from 203.0.113.6:5555 passes (not recorded)",
       ipv4("203.0.113.6", kPod4, IPPROTO_TCP, tcp(5555, 8080, kAck)), D::kToPod, kNext},
      {"after that ACK: reply from :8080 to 203.0.113.6:5555 dropped",
       ipv4(kPod4, "203.0.113.6", IPPROTO_TCP, tcp(8080, 5555, kAck)), D::kFromPod, kDrop},
      {"to pod: UDP from 203.0.113.7:4000 to :53 passes (recorded)",
       ipv4("203.0.113.7", kPod4, IPPROTO_UDP, udp(4000, 53)), D::kToPod, kNext},
      {"after that: UDP answer from :53 to 203.0.113.7:4000 passes",
       ipv4(kPod4, "203.0.113.7", IPPROTO_UDP, udp(53, 4000)), D::kFromPod, kNext},

      // Rule 3 for ICMP: an echo request that came in lets its own reply out.
      {"to pod: ICMP echo request id 77 from 203.0.113.9 passes (recorded)",
       ipv4("203.0.113.9", kPod4, IPPROTO_ICMP, icmpEcho(8, 77)), D::kToPod, kNext},
      {"after that: echo reply id 77 to 203.0.113.9 passes",
       ipv4(kPod4, "203.0.113.9", IPPROTO_ICMP, icmpEcho(0, 77)), D::kFromPod, kNext},
      {"echo reply id 78 to 203.0.113.9 (no such request) dropped",
       ipv4(kPod4, "203.0.113.9", IPPROTO_ICMP, icmpEcho(0, 78)), D::kFromPod, kDrop},
      {"echo reply id 77 to 203.0.113.10 (another peer) dropped",
       ipv4(kPod4, "203.0.113.10", IPPROTO_ICMP, icmpEcho(0, 77)), D::kFromPod, kDrop},
      {"echo request id 77 to 203.0.113.9 (not a reply) dropped",
       ipv4(kPod4, "203.0.113.9", IPPROTO_ICMP, icmpEcho(8, 77)), D::kFromPod, kDrop},
      {"echo reply id 77 to 203.0.113.9 cut after 4 bytes dropped (malformed)",
       truncated(ipv4(kPod4, "203.0.113.9", IPPROTO_ICMP, icmpEcho(0, 77)), 14 + 20 + 4), D::kFromPod, kDrop},
      {"to pod: ICMPv6 echo request (128) id 5 from 2001:db8:5::9 passes (recorded)",
       ipv6("2001:db8:5::9", kPod6, IPPROTO_ICMPV6, icmpEcho(128, 5)), D::kToPod, kNext},
      {"after that: ICMPv6 echo reply (129) id 5 passes",
       ipv6(kPod6, "2001:db8:5::9", IPPROTO_ICMPV6, icmpEcho(129, 5)), D::kFromPod, kNext},
      {"ICMPv6 echo reply (129) id 6 dropped", ipv6(kPod6, "2001:db8:5::9", IPPROTO_ICMPV6, icmpEcho(129, 6)),
       D::kFromPod, kDrop},

      // Rule 2: a flow that passed connect() passes, and is counted.
      {"flows entry connects_allowed=1: UDP to 198.51.100.20:9999 passes", denied_udp, D::kFromPod, kNext,
       Iface::kPod, 0,
       [&] {
         egressd_flow_value v{};
         ASSERT_TRUE(lookupFlow(flow_key, &v)) << "the earlier drop made the flow";
         dropped_before_allow = v.packets_dropped;
         v.connects_allowed = 1;
         putFlow(flow_key, v);
       }},
      {"flows entry: the same packet again as 3 GSO segments passes", denied_udp, D::kFromPod, kNext, Iface::kPod,
       3},

      // Audit workload: passes and counts what it would have dropped.
      {"audit: UDP to 198.51.100.20:9999 passes", denied_udp, D::kFromPod, kNext, Iface::kAudit},
      {"audit: IPv4 ihl 4 passes", withIhl(denied_udp, 4), D::kFromPod, kNext, Iface::kAudit},
  };

  uint64_t drops = 0;
  for (const auto& c : table) {
    SCOPED_TRACE(c.description);
    if (c.before) c.before();
    if (HasFatalFailure()) return;
    const int got = run(c);
    EXPECT_EQ(got, c.expected) << c.description << " (" << dirName(c.dir) << ", " << c.frame.size() << " bytes)";
    if (c.expected == kDrop) ++drops;
  }

  // Every drop counted once, nothing else counted as one.
  EXPECT_EQ(flowCounter(EGRESSD_FLOW_TC_DROPPED), drops);
  // The audit interface's three rows: the two denied ones and the SYN-ACK
  // whose SYN came in on the other interface.
  EXPECT_EQ(flowCounter(EGRESSD_FLOW_TC_AUDITED), 3u);

  // The allowed flow: the exact IP length per packet, GSO segments as packets.
  egressd_flow_value v{};
  ASSERT_TRUE(lookupFlow(flow_key, &v));
  EXPECT_EQ(v.connects_allowed, 1u);
  EXPECT_EQ(v.bytes_out, 2 * denied_udp_l3);
  EXPECT_EQ(v.packets_out, 1u + 3u);
  EXPECT_EQ(v.packets_dropped, dropped_before_allow);
  EXPECT_EQ(dropped_before_allow, 1u) << "one drop before connects_allowed was set";

  // The audited flow is the audit workload's, with its bytes out.
  egressd_flow_value a{};
  ASSERT_TRUE(lookupFlow(flowKey(audit_cgroup_, "198.51.100.20", 9999, IPPROTO_UDP), &a));
  EXPECT_EQ(a.bytes_out, denied_udp_l3);
  EXPECT_EQ(a.packets_dropped, 0u);
  EXPECT_EQ(a.last_reason, uint32_t{EGRESSD_REASON_NOT_IN_REGISTRY});

  // Each refusal under its own reason.
  egressd_flow_value r{};
  ASSERT_TRUE(lookupFlow(flowKey(pod_cgroup_, "10.96.0.7", 5353, IPPROTO_UDP), &r));
  EXPECT_EQ(r.last_reason, uint32_t{EGRESSD_REASON_SPOOFED_ADDRESS});
  EXPECT_EQ(r.packets_dropped, 1u);
  ASSERT_TRUE(lookupFlow(flowKey(pod_cgroup_, kPod6, 5300, IPPROTO_UDP), &r));
  EXPECT_EQ(r.last_reason, uint32_t{EGRESSD_REASON_HAIRPIN});
  ASSERT_TRUE(lookupFlow(flowKey(pod_cgroup_, "::", 0, 0), &r)) << "the VLAN frames' flow (headers unread: no address)";
  EXPECT_EQ(r.last_reason, uint32_t{EGRESSD_REASON_MALFORMED_PACKET});
  // Nothing it sent itself became a peer it may answer.
  EXPECT_EQ(inboundEntriesFrom(kPod4), 0);
  EXPECT_EQ(inboundEntriesFrom(kPod6), 0);

  // Inbound bytes land on an existing flow: the first row's allowed flow
  // was made by the backstop (rule 4), so an answer counts on it.
  const auto answer = ipv4("192.0.2.10", kPod4, IPPROTO_UDP, udp(9000, 40000, 100));
  EXPECT_EQ(kNext, run({"to pod: answer from 192.0.2.10:9000", answer, D::kToPod, kNext}));
  egressd_flow_value in{};
  ASSERT_TRUE(lookupFlow(flowKey(pod_cgroup_, "192.0.2.10", 9000, IPPROTO_UDP), &in));
  EXPECT_EQ(in.bytes_in, answer.size() - 14);
  EXPECT_EQ(in.packets_in, 1u);
}

}  // namespace
}  // namespace egressd::ktest
