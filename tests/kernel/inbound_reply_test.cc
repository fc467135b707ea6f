// Answers of a workload's UDP server (bpf/lib/inbound.h), on real sockets:
// with an `inbound_udp` entry (workload, peer, peer port, local port) younger
// than the window, a UDP sendto()/connect() from that local port to that peer
// passes as inbound_reply; another local port, peer port or peer, an entry
// past the window, an unbound socket, or TCP: denied as before. The entries
// are written here as the ingress hook writes them (the e2e case
// udp_server_answers drives the hook itself with real datagrams).
#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/cgroup.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint16_t kServerPort = 7001;
constexpr uint64_t kSecond = 1000000000ull;

uint64_t monotonicCoarseNs() {  // bpf_ktime_get_coarse_ns()'s clock
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kSecond + static_cast<uint64_t>(ts.tv_nsec);
}

class InboundReplyTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(1, EGRESSD_MODE_REGISTRY_ONLY);  // nothing registered: every UDP peer denied
    server_ = tree_->make("server");
    addWorkload(server_, 1);
    auto id = bpf::cgroupIdOf(server_);
    ASSERT_TRUE(id.ok()) << id.error();
    cgroup_id_ = *id;
  }

  // As egressd_note_inbound_udp() records a datagram `age_ns` ago.
  void noteInbound(const char* peer, uint16_t peer_port, uint16_t local_port, uint64_t age_ns) {
    egressd_inbound_udp_key key{};
    key.cgroup_id = cgroup_id_;
    const auto mapped = prefixKey(peer);
    std::memcpy(key.addr, mapped.addr, sizeof(key.addr));
    key.remote_port = peer_port;
    key.local_port = local_port;
    const uint64_t when = monotonicCoarseNs() - age_ns;
    const int fd = bpf_obj_get((bpffs_dir_ + "/inbound_udp").c_str());
    ASSERT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(0, bpf_map_update_elem(fd, &key, &when, BPF_ANY)) << std::strerror(errno);
    ::close(fd);
  }

  std::string server_;
  uint64_t cgroup_id_ = 0;
};

Probe from(Probe p, uint16_t local_port) {
  p.bind_port = local_port;
  return p;
}

TEST_F(InboundReplyTest, ServerAnswersOnlyThePeerThatWroteToItsPort) {
  noteInbound(kNetC, 4000, kServerPort, 0);
  noteInbound(kNetC, 4001, kServerPort, 121 * kSecond);  // past the 120 s window
  noteInbound(kNet6Other, 4000, kServerPort, 0);
  const Probe sendto4{AF_INET, SOCK_DGRAM, kNetC, 4000, Op::kSendto};
  const Probe sendto6{AF_INET6, SOCK_DGRAM, kNet6Other, 4000, Op::kSendto};
  const Probe mapped6{AF_INET6, SOCK_DGRAM, std::string("::ffff:") + kNetC, 4000, Op::kSendto};
  const auto before = counter(EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_INBOUND_REPLY).allowed;
  expectProbes(server_, {
      {"answer from the server port", from(sendto4, kServerPort), 0},
      {"answer over connect() then send", from({AF_INET, SOCK_DGRAM, kNetC, 4000}, kServerPort), 0},
      {"IPv6 answer", from(sendto6, kServerPort), 0},
      {"v4-mapped answer on an AF_INET6 socket", from(mapped6, kServerPort), 0},
      {"another local port", from(sendto4, kServerPort + 1), EPERM},
      {"an unbound (ephemeral) socket", sendto4, EPERM},
      {"another port of the peer", from({AF_INET, SOCK_DGRAM, kNetC, 4002, Op::kSendto}, kServerPort), EPERM},
      {"another peer", from({AF_INET, SOCK_DGRAM, kNetA, 4000, Op::kSendto}, kServerPort), EPERM},
      {"the peer's last datagram is past the window",
       from({AF_INET, SOCK_DGRAM, kNetC, 4001, Op::kSendto}, kServerPort), EPERM},
      {"TCP is never an answer here", from({AF_INET, SOCK_STREAM, kNetC, 4000}, kServerPort), EPERM},
  });
  // sendto4 and the v4-mapped sendto (sendmsg4) are counted as answers.
  EXPECT_EQ(counter(EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_INBOUND_REPLY).allowed - before, 2u);
}

}  // namespace
}  // namespace egressd::ktest
