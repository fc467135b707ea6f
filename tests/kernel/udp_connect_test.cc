// Connected UDP sockets are decided at connect() and recorded at their sends
// (bpf/lib/udp_connect.h), on real sockets: a connect() that never sends
// (glibc's getaddrinfo() does that for every address it sorts) records
// nothing, allowed or denied; to a denied destination it passes, and each
// send() there fails with EPERM and counts as one denial on the connect hook
// and the flow; a reconnect somewhere allowed, or a sendto() to an allowed
// address, passes; audit passes and records the sends; an allowed connect is
// counted once, at its first datagram, or at once when its `udp_pending`
// slot is another socket's.
#include <bpf/bpf.h>

#include <cerrno>

#include "bpf/cgroup.h"
#include "bpf/unique_fd.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint16_t kDnsPort = 53;

class UdpConnectTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
    addPrefix("192.0.2.0/24", 1);  // kNetA: udp/53 allowed
    addPort(1, kDnsPort, IPPROTO_UDP, {1});
  }

  // A workload in scope 1; dir_ is its cgroup.
  uint64_t workload(const std::string& name, uint32_t flags = 0) {
    dir_ = tree_->make(name);
    addWorkload(dir_, 1, flags);
    auto id = bpf::cgroupIdOf(dir_);
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : 0;
  }

  // The flow (cgroup, ip, port, udp), or a zeroed value when there is none.
  egressd_flow_value udpFlow(uint64_t cgroup, const std::string& ip, uint16_t port) {
    egressd_flow_value v{};
    lookupFlow(flowKey(cgroup, ip, port, IPPROTO_UDP), &v);
    return v;
  }

  // Every `udp_pending` slot held, as by sockets between connect and send.
  void holdEverySlot() {
    bpf::UniqueFd fd(bpf_obj_get((bpffs_dir_ + "/udp_pending").c_str()));
    ASSERT_TRUE(fd.valid()) << "open pinned map udp_pending";
    for (uint32_t i = 0; i < EGRESSD_UDP_PENDING_SLOTS; ++i) {
      egressd_udp_pending_slot slot{};
      slot.cookie = (uint64_t{1} << 40) + i;  // no socket's: ours are small
      ASSERT_EQ(bpf_map_update_elem(fd.get(), &i, &slot, BPF_ANY), 0) << "slot " << i;
    }
  }

  std::string dir_;
};

Probe udp(int family, const std::string& addr, Op op = Op::kConnect, const std::string& then_addr = "") {
  Probe p{family, SOCK_DGRAM, addr, kDnsPort, op};
  p.then_addr = then_addr;
  p.then_port = kDnsPort;
  return p;
}

TEST_F(UdpConnectTest, DeniedDestinationIsHeldAtTheSocketsSends) {
  const uint64_t pod = workload("pod");
  const auto denied4_before = counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).denied;
  const auto denied6_before = counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_NOT_IN_REGISTRY).denied;
  const auto sendmsg4_before = counter(EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_NOT_IN_REGISTRY).denied;
  expectProbes(dir_, {
      {"connect, no send (getaddrinfo)", udp(AF_INET, kNetC, Op::kUdpConnectOnly), 0},
      {"connect, no send, IPv6", udp(AF_INET6, kNet6Other, Op::kUdpConnectOnly), 0},
      {"connect, send", udp(AF_INET, kNetC), EPERM},
      {"connect, send, IPv6", udp(AF_INET6, kNet6Other), EPERM},
      {"connect, send, v4-mapped", udp(AF_INET6, std::string("::ffff:") + kNetB), EPERM},
      {"reconnect to an allowed address, send", udp(AF_INET, kNetC, Op::kUdpReconnect, kNetA), 0},
      {"sendto an allowed address on the connected socket", udp(AF_INET, kNetC, Op::kUdpConnectSendto, kNetA), 0},
      {"sendto the denied address on the connected socket", udp(AF_INET, kNetC, Op::kUdpConnectSendto, kNetC), EPERM},
      {"allowed: connect, send", udp(AF_INET, kNetA), 0},
  });
  // One denial per send that failed, none for connects, on the hook that
  // decided the connect: connect4 for kNetC's "connect, send", connect6 for
  // the IPv6 one. sendmsg4 decides the sendto() to kNetC, and the v4-mapped
  // socket's send too: the kernel hands that to udp_sendmsg with an address.
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).denied - denied4_before, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_NOT_IN_REGISTRY).denied - denied6_before, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_NOT_IN_REGISTRY).denied - sendmsg4_before, 2u);
  const auto c = udpFlow(pod, kNetC, kDnsPort);
  EXPECT_EQ(c.connects_denied, 2u);  // the send after connect, and sendmsg4's sendto
  EXPECT_EQ(c.connects_allowed, 0u);
  EXPECT_EQ(udpFlow(pod, kNet6Other, kDnsPort).connects_denied, 1u);
  EXPECT_EQ(udpFlow(pod, kNetB, kDnsPort).connects_denied, 1u);
  // kNetA: the reconnect, the sendto and the plain connect.
  EXPECT_EQ(udpFlow(pod, kNetA, kDnsPort).connects_allowed, 3u);
}

TEST_F(UdpConnectTest, AuditRecordsTheSendsNotTheConnect) {
  const uint64_t pod = workload("audited", EGRESSD_WORKLOAD_F_AUDIT);
  expectProbes(dir_, {
      {"connect, no send", udp(AF_INET, kNetC, Op::kUdpConnectOnly), 0},
      {"connect, send", udp(AF_INET, kNetC), 0},
      {"connect, send again", udp(AF_INET, kNetC), 0},
  });
  const auto c = udpFlow(pod, kNetC, kDnsPort);
  EXPECT_EQ(c.connects_audited, 2u);
  EXPECT_EQ(c.connects_denied, 0u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).allowed, 2u);
}

TEST_F(UdpConnectTest, AllowedConnectIsRecordedAtItsFirstDatagram) {
  const uint64_t pod = workload("pod");
  const auto before = counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_REGISTRY_MATCH).allowed;
  expectProbes(dir_, {
      {"connect, no send", udp(AF_INET, kNetA, Op::kUdpConnectOnly), 0},
      {"connect, no send, again", udp(AF_INET, kNetA, Op::kUdpConnectOnly), 0},
  });
  EXPECT_EQ(udpFlow(pod, kNetA, kDnsPort).connects_allowed, 0u) << "no flow without a datagram";
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_REGISTRY_MATCH).allowed - before, 0u);
  expectProbes(dir_, {
      {"connect, send", udp(AF_INET, kNetA), 0},
      {"another socket: connect, send", udp(AF_INET, kNetA), 0},
      {"connect allowed, reconnect denied, send", udp(AF_INET, kNetA, Op::kUdpReconnect, kNetC), EPERM},
  });
  // One per socket that sent (two), not per datagram; the reconnected
  // socket's allowed connect left with its reconnect.
  EXPECT_EQ(udpFlow(pod, kNetA, kDnsPort).connects_allowed, 2u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_REGISTRY_MATCH).allowed - before, 2u);
  EXPECT_EQ(udpFlow(pod, kNetC, kDnsPort).connects_denied, 1u);
  EXPECT_EQ(flowCounter(EGRESSD_FLOW_UDP_PENDING_FALLBACK), 0u);
  EXPECT_EQ(mapFillEntries("udp_pending"), 0u) << "every socket sent or closed: no slot held";
  EXPECT_EQ(mapFillEntries("udp_connect_verdicts"), std::nullopt) << "socket storage has no capacity to report";
}

TEST_F(UdpConnectTest, HeldSlotRecordsTheAllowedConnectAtOnce) {
  const uint64_t pod = workload("pod");
  holdEverySlot();
  expectProbes(dir_, {
      {"connect, no send", udp(AF_INET, kNetA, Op::kUdpConnectOnly), 0},
      {"connect, send", udp(AF_INET, kNetA), 0},
  });
  EXPECT_EQ(udpFlow(pod, kNetA, kDnsPort).connects_allowed, 2u) << "both recorded at connect";
  EXPECT_EQ(flowCounter(EGRESSD_FLOW_UDP_PENDING_FALLBACK), 2u);
  EXPECT_EQ(mapFillEntries("udp_pending"), uint32_t{EGRESSD_UDP_PENDING_SLOTS});
}

}  // namespace
}  // namespace egressd::ktest
