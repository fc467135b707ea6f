// Verdicts of the real programs on real sockets: CIDR, port, protocol,
// family, hook (connect vs unconnected sendto), outbound mode, ALWAYS.
#include <cerrno>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint32_t kRegistryOnly = 1;
constexpr uint32_t kAllowAny = 2;

// One REGISTRY_ONLY and one ALLOW_ANY workload over the same registry:
//  class 1  192.0.2.0/24     tcp/443, udp/53         scope 1
//  class 2  192.0.2.200/32   tcp/80                  scope 1 (longest match: no 443)
//  class 3  2001:db8::/64    tcp/443, udp/5353       scope 1
//  class 4  198.51.100.0/24  tcp/8080                ALWAYS (no scope bits)
//  203.0.113.0/24, 2001:db8:1::/64: not in the registry
class EnforcementTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(kRegistryOnly, EGRESSD_MODE_REGISTRY_ONLY);
    addScope(kAllowAny, EGRESSD_MODE_ALLOW_ANY);
    addPrefix("192.0.2.0/24", 1);
    addPort(1, 443, IPPROTO_TCP, {kRegistryOnly});
    addPort(1, 53, IPPROTO_UDP, {kRegistryOnly});
    addPrefix("192.0.2.200/32", 2);
    addPort(2, 80, IPPROTO_TCP, {kRegistryOnly});
    addPrefix("2001:db8::/64", 3);
    addPort(3, 443, IPPROTO_TCP, {kRegistryOnly});
    addPort(3, 5353, IPPROTO_UDP, {kRegistryOnly});
    addPrefix("198.51.100.0/24", 4);
    addPort(4, 8080, IPPROTO_TCP, {}, EGRESSD_PORT_F_ALWAYS);
    strict_ = tree_->make("strict");
    open_ = tree_->make("open");
    addWorkload(strict_, kRegistryOnly);
    addWorkload(open_, kAllowAny);
  }

  std::string strict_;
  std::string open_;
};

Probe tcp4(const char* a, uint16_t p) { return {AF_INET, SOCK_STREAM, a, p}; }
Probe udp4(const char* a, uint16_t p) { return {AF_INET, SOCK_DGRAM, a, p}; }
Probe tcp6(const std::string& a, uint16_t p) { return {AF_INET6, SOCK_STREAM, a, p}; }
Probe udp6(const std::string& a, uint16_t p) { return {AF_INET6, SOCK_DGRAM, a, p}; }
Probe sendto4(const char* a, uint16_t p) { return {AF_INET, SOCK_DGRAM, a, p, Op::kSendto}; }
Probe sendto6(const std::string& a, uint16_t p) { return {AF_INET6, SOCK_DGRAM, a, p, Op::kSendto}; }
std::string mapped(const char* v4) { return std::string("::ffff:") + v4; }

TEST_F(EnforcementTest, RegistryOnlyScope) {
  expectProbes(strict_, {
      {"cidr+port match", tcp4(kNetA, 443), 0},
      {"port not allowed", tcp4(kNetA, 80), EPERM},
      {"tcp port, udp socket", udp4(kNetA, 443), EPERM},
      {"udp port, udp connect", udp4(kNetA, 53), 0},
      {"udp port, tcp socket", tcp4(kNetA, 53), EPERM},
      {"cidr not in registry", tcp4(kNetC, 443), EPERM},
      {"longest prefix decides (allowed)", tcp4(kNetAHigh, 80), 0},
      {"longest prefix decides (denied)", tcp4(kNetAHigh, 443), EPERM},
      {"ipv6 match", tcp6(kNet6, 443), 0},
      {"ipv6 port not allowed", tcp6(kNet6, 80), EPERM},
      {"ipv6 not in registry", tcp6(kNet6Other, 443), EPERM},
      {"ipv6 udp connect", udp6(kNet6, 5353), 0},
      {"v4-mapped on AF_INET6 allowed", tcp6(mapped(kNetA), 443), 0},
      {"v4-mapped on AF_INET6 denied", tcp6(mapped(kNetC), 443), EPERM},
      {"v4-mapped port not allowed", tcp6(mapped(kNetA), 80), EPERM},
      {"ALWAYS entry", tcp4(kNetB, 8080), 0},
      {"ALWAYS entry, other port", tcp4(kNetB, 443), EPERM},
      {"ALWAYS entry via v4-mapped", tcp6(mapped(kNetB), 8080), 0},
  });
}

TEST_F(EnforcementTest, UnconnectedUdpSendto) {
  expectProbes(strict_, {
      {"sendmsg4 allowed", sendto4(kNetA, 53), 0},
      {"sendmsg4 wrong port", sendto4(kNetA, 54), EPERM},
      {"sendmsg4 not in registry", sendto4(kNetC, 53), EPERM},
      {"sendmsg6 allowed", sendto6(kNet6, 5353), 0},
      {"sendmsg6 wrong port", sendto6(kNet6, 5354), EPERM},
      {"sendmsg6 not in registry", sendto6(kNet6Other, 5353), EPERM},
      {"v4-mapped sendto allowed (sendmsg4)", sendto6(mapped(kNetA), 53), 0},
      {"v4-mapped sendto denied (sendmsg4)", sendto6(mapped(kNetC), 53), EPERM},
  });
}

TEST_F(EnforcementTest, LoopbackAlwaysAllowed) {
  expectProbes(strict_, {
      {"127.0.0.1", tcp4("127.0.0.1", 443), 0},
      {"127.0.0.1 any port", tcp4("127.0.0.1", 80), 0},
      {"127/8", udp4("127.1.2.3", 9), 0},
      {"::1", tcp6("::1", 443), 0},
      {"v4-mapped loopback", tcp6("::ffff:127.0.0.1", 443), 0},
      {"sendto 127.0.0.1", sendto4("127.0.0.1", 9), 0},
      {"sendto ::1", sendto6("::1", 9), 0},
      {"0.0.0.0 means loopback", tcp4("0.0.0.0", 443), 0},
  });
}

TEST_F(EnforcementTest, AllowAnyScope) {
  expectProbes(open_, {
      {"not in registry", tcp4(kNetC, 443), 0},
      {"registry entry of another scope", tcp4(kNetA, 443), 0},
      {"ipv6 not in registry", tcp6(kNet6Other, 443), 0},
      {"sendto not in registry", sendto4(kNetC, 53), 0},
      {"sendto6 not in registry", sendto6(kNet6Other, 53), 0},
  });
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_ALLOW_ANY).allowed, 2u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_ALLOW_ANY).allowed, 1u);
}

// Sockets that are neither TCP nor UDP (here an ICMP ping socket, which
// reaches connect4 on 6.x) match no registry entry: only ALLOW_ANY or
// loopback lets them through.
TEST_F(EnforcementTest, OtherProtocolsMatchNoRegistryEntry) {
  const Probe ping_a = {AF_INET, SOCK_DGRAM, kNetA, 443, Op::kConnect, IPPROTO_ICMP};
  const Probe ping_lo = {AF_INET, SOCK_DGRAM, "127.0.0.1", 0, Op::kConnect, IPPROTO_ICMP};
  expectProbes(strict_, {{"ping, registry only", ping_a, EPERM}, {"ping loopback", ping_lo, 0}});
  expectProbes(open_, {{"ping, allow any", ping_a, 0}});
}

TEST_F(EnforcementTest, AuditWorkloadIsAllowedAndRecorded) {
  const auto audited = tree_->make("audited");
  addWorkload(audited, kRegistryOnly, EGRESSD_WORKLOAD_F_AUDIT);
  expectProbes(audited, {{"would be denied", tcp4(kNetC, 443), 0}});
  const auto c = counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY);
  EXPECT_EQ(c.allowed, 1u);
  EXPECT_EQ(c.denied, 0u);
}

TEST_F(EnforcementTest, PolicyChangesApplyToTheNextConnect) {
  expectProbes(strict_, {{"before", tcp4(kNetC, 443), EPERM}});
  addPrefix("203.0.113.0/24", 5);
  addPort(5, 443, IPPROTO_TCP, {kRegistryOnly});
  expectProbes(strict_, {{"after put", tcp4(kNetC, 443), 0}});
  ASSERT_TRUE(datapath_->maps().deletePrefix(prefixKey("203.0.113.0/24")).ok());
  expectProbes(strict_, {{"after delete", tcp4(kNetC, 443), EPERM}});
}

}  // namespace
}  // namespace egressd::ktest

namespace egressd::ktest {
namespace {

// Port 0 is "any port" (--cluster-cidr): probed only when the exact port has
// no entry, and the compiler folds it into the exact entries of its class.
TEST_F(EnforcementTest, AnyPortEntryIsProbedWhenTheExactPortHasNone) {
  addPrefix("203.0.113.0/24", 5);
  addPort(5, 0, IPPROTO_TCP, {}, EGRESSD_PORT_F_ALWAYS);
  addPort(5, 443, IPPROTO_TCP, {kRegistryOnly}, EGRESSD_PORT_F_ALWAYS);
  expectProbes(strict_, {
      {"any port, tcp", tcp4(kNetC, 9999), 0},
      {"exact port entry", tcp4(kNetC, 443), 0},
      {"any port is per protocol", udp4(kNetC, 9999), EPERM},
      {"any port via v4-mapped", tcp6(mapped(kNetC), 22), 0},
  });
}

}  // namespace
}  // namespace egressd::ktest
