// verdict_counters: every decision lands in exactly one (hook, reason) slot.
#include <cerrno>
#include <map>
#include <utility>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

TEST_F(DatapathTest, CountersIncrementExactly) {
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  addPrefix("192.0.2.0/24", 1);
  addPort(1, 443, IPPROTO_TCP, {1});
  addPrefix("198.51.100.0/24", 2);
  addPort(2, 53, IPPROTO_UDP, {}, EGRESSD_PORT_F_ALWAYS);
  const auto pod = tree_->make("pod");
  addWorkload(pod, 1);

  expectProbes(pod, {
      {"registry match x2", {AF_INET, SOCK_STREAM, kNetA, 443}, 0},
      {"registry match x2", {AF_INET, SOCK_STREAM, kNetA, 443}, 0},
      {"not in registry", {AF_INET, SOCK_STREAM, kNetC, 443}, EPERM},
      {"v4-mapped not in registry", {AF_INET6, SOCK_STREAM, "::ffff:203.0.113.1", 443}, EPERM},
      {"loopback v6", {AF_INET6, SOCK_STREAM, "::1", 443}, 0},
      {"sendto always", {AF_INET, SOCK_DGRAM, kNetB, 53, Op::kSendto}, 0},
      {"sendto6 denied", {AF_INET6, SOCK_DGRAM, kNet6, 53, Op::kSendto}, EPERM},
  });
  expectProbes(tree_->make("outsider"), {{"outsider", {AF_INET, SOCK_DGRAM, kNetC, 53, Op::kSendto}, 0}});

  using Slot = std::pair<egressd_hook, egressd_reason>;
  const std::map<Slot, std::pair<uint64_t, uint64_t>> expected = {
      {{EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_REGISTRY_MATCH}, {2, 0}},
      {{EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY}, {0, 1}},
      {{EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_NOT_IN_REGISTRY}, {0, 1}},
      {{EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_LOOPBACK}, {1, 0}},
      {{EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_ALWAYS_ALLOWED}, {1, 0}},
      {{EGRESSD_HOOK_SENDMSG6, EGRESSD_REASON_NOT_IN_REGISTRY}, {0, 1}},
      {{EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_NOT_WORKLOAD}, {1, 0}},
  };
  auto counts = datapath_->readCounters();
  ASSERT_TRUE(counts.ok()) << counts.error();
  ASSERT_EQ(counts->size(), size_t{EGRESSD_HOOK_COUNT} * EGRESSD_REASON_COUNT);
  for (const auto& c : *counts) {
    const auto it = expected.find({c.hook, c.reason});
    const auto want = it == expected.end() ? std::pair<uint64_t, uint64_t>{0, 0} : it->second;
    EXPECT_EQ(c.allowed, want.first) << "hook " << c.hook << " reason " << c.reason;
    EXPECT_EQ(c.denied, want.second) << "hook " << c.hook << " reason " << c.reason;
  }
}

}  // namespace
}  // namespace egressd::ktest
