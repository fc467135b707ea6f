// Full maps and missing state (docs/LIMITS.md), on real sockets in real
// cgroups: each policy map filled to its capacity directly, then the entry
// that no longer fits. What it would have allowed is refused and counted,
// never let through; a workload with no `workloads` entry is denied through
// its pods_parents entry (EGRESSD_PODS_WORKLOAD), whatever its place in the
// cgroup tree; --fail-mode open audits it instead.
#include <cerrno>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

using CgroupMap = bpf::Datapath::CgroupMap;

constexpr uint32_t kStrict = 1;
constexpr uint32_t kAllowedClass = 3;
constexpr uint32_t kAlwaysClass = 4;

const Probe kAllowed = {AF_INET, SOCK_STREAM, kNetA, 443};
const Probe kUnregistered = {AF_INET, SOCK_STREAM, kNetC, 443};
const Probe kAlways = {AF_INET, SOCK_STREAM, kNetB, 8080};
const Probe kLoopback = {AF_INET, SOCK_STREAM, "127.0.0.1", 443};

uint64_t idOf(const std::string& dir) {
  auto id = bpf::cgroupIdOf(dir);
  EXPECT_TRUE(id.ok()) << id.error();
  return id.ok() ? *id : 0;
}

// Ids no cgroup has (kernfs ids stay far below bit 40).
uint64_t fakeCgroup(uint32_t i) { return (1ULL << 40) + i; }

// Writes `put(i)` for i = 0, 1, ... until one fails; returns how many fit.
template <typename Put>
uint32_t fill(uint32_t limit, Put put) {
  uint32_t i = 0;
  while (i < limit && put(i).ok()) ++i;
  return i;
}

class FailModeTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    policy();
  }
  void reopen(bool fail_open) {
    datapath_.reset();
    auto opts = options();
    opts.fail_open = fail_open;
    opts.raw_socket_gate = true;
    auto opened = bpf::Datapath::open(opts);
    ASSERT_TRUE(opened.ok()) << opened.error();
    datapath_ = std::move(*opened);
    policy();
  }
  void policy() {
    addScope(kStrict, EGRESSD_MODE_REGISTRY_ONLY);
    addPrefix("192.0.2.0/24", kAllowedClass);
    addPort(kAllowedClass, 443, IPPROTO_TCP, {kStrict});
    addPrefix("198.51.100.0/24", kAlwaysClass);
    addPort(kAlwaysClass, 8080, IPPROTO_TCP, {}, EGRESSD_PORT_F_ALWAYS);
  }
  // `workloads` at its capacity with cgroups that are not this test's.
  void fillWorkloads() {
    const uint32_t filled = fill(EGRESSD_MAX_WORKLOADS + 1, [&](uint32_t i) {
      return datapath_->maps().putWorkload({fakeCgroup(i)}, {kStrict, 0});
    });
    ASSERT_LE(filled, uint32_t{EGRESSD_MAX_WORKLOADS});
    ASSERT_FALSE(datapath_->maps().putWorkload({fakeCgroup(filled)}, {kStrict, 0}).ok()) << "not full";
  }
  Status putWorkload(const std::string& dir) {
    return datapath_->maps().putWorkload({idOf(dir)}, {kStrict, 0});
  }
  Status mark(const std::string& dir) {
    return datapath_->putCgroupMap(CgroupMap::kPodsParents, idOf(dir), EGRESSD_PODS_WORKLOAD);
  }
};

// The attack: more workloads than `workloads` holds. The one that finds no
// room, a cgroup right below the hooks' root (no pods parent above it, as a
// file-mode Workload can be), was untouched: free egress. Its pods_parents
// entry now denies it, counted, while loopback and ALWAYS entries pass.
TEST_F(FailModeTest, WorkloadThatFindsNoRoomIsDeniedNotUntouched) {
  const auto web = tree_->make("web");
  const auto container = tree_->make("web/container");
  fillWorkloads();
  ASSERT_FALSE(putWorkload(web).ok()) << "the workloads map took one more than its capacity";
  // Without its pods_parents entry (the agent before this change): untouched.
  expectProbes(web, {{"no entry anywhere: untouched (the old hole)", kUnregistered, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_WORKLOAD).allowed, 1u);

  ASSERT_TRUE(mark(web).ok());
  expectProbes(web, {{"unregistered destination", kUnregistered, EPERM},
                     {"a destination its scope allows: its scope is not known", kAllowed, EPERM},
                     {"ALWAYS entry (cluster CIDR, trusted DNS)", kAlways, 0},
                     {"loopback", kLoopback, 0}});
  expectProbes(container, {{"its container", kUnregistered, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_SCOPE).denied, 3u);
  egressd_flow_value flow{};
  ASSERT_TRUE(lookupFlow(flowKey(idOf(web), kNetC, 443, IPPROTO_TCP), &flow)) << "recorded under the workload";
  EXPECT_EQ(flow.connects_denied, 2u);
  EXPECT_EQ(flow.last_reason, uint32_t{EGRESSD_REASON_UNKNOWN_SCOPE});

  // Room again (a stale entry removed), its entry written: its own policy.
  ASSERT_TRUE(datapath_->maps().deleteWorkload({fakeCgroup(0)}).ok());
  ASSERT_TRUE(putWorkload(web).ok());
  expectProbes(web, {{"written: allowed", kAllowed, 0}, {"written: unregistered", kUnregistered, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_REGISTRY_MATCH).allowed, 1u);
}

// A workload written with a scope whose slot is not active (more scopes than
// the array holds, or a slot cleared under it): denied, counted.
TEST_F(FailModeTest, ScopeNotActiveIsDenied) {
  const auto web = tree_->make("web");
  addWorkload(web, 7);  // slot 7 was never written
  expectProbes(web, {{"inactive scope", kAllowed, EPERM}, {"inactive scope, ALWAYS", kAlways, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_SCOPE).denied, 1u);
  // The scope array has no slot EGRESSD_MAX_SCOPES: it cannot be written.
  EXPECT_FALSE(datapath_->maps().putScope(EGRESSD_MAX_SCOPES, activeScope(EGRESSD_MODE_ALLOW_ANY)).ok());
}

// --fail-mode open: the same missing state passes, counted as audited (an
// `allowed` count under reason unknown_scope and an audited flow), never as a
// plain allow; raw sockets of a workload with no entry stay refused.
TEST_F(FailModeTest, FailOpenAuditsMissingState) {
  reopen(true);
  const auto web = tree_->make("web");
  const auto inactive = tree_->make("inactive");
  addWorkload(inactive, 9);
  fillWorkloads();
  ASSERT_TRUE(mark(web).ok());
  const Probe raw = {AF_INET, SOCK_RAW, "", 0, Op::kSocket, IPPROTO_UDP};
  expectProbes(web, {{"no room, fail open", kUnregistered, 0}, {"raw socket, no entry", raw, EPERM}});
  expectProbes(inactive, {{"inactive scope, fail open", kUnregistered, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_SCOPE).allowed, 2u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_SCOPE).denied, 0u);
  egressd_flow_value flow{};
  ASSERT_TRUE(lookupFlow(flowKey(idOf(web), kNetC, 443, IPPROTO_TCP), &flow));
  EXPECT_EQ(flow.connects_audited, 1u);
  EXPECT_EQ(flow.connects_allowed, 0u);

  reopen(false);  // closed again: a restarted agent's programs carry its flag
  ASSERT_TRUE(mark(web).ok());
  expectProbes(web, {{"fail closed again", kUnregistered, EPERM}});
}

// Every policy map the agent writes, filled to its capacity: the entry that
// no longer fits is not written, and what it would have allowed is denied
// and counted.
TEST_F(FailModeTest, FullDestinationMapsDenyWhatDidNotFit) {
  const auto web = tree_->make("web");
  addWorkload(web, kStrict);

  // dest_prefixes (LPM trie): /128s of 2001:db8:ffff::/48.
  const uint32_t prefixes = fill(EGRESSD_MAX_DEST_PREFIXES + 1, [&](uint32_t i) {
    auto key = prefixKey("2001:db8:ffff::/128");
    key.addr[12] = static_cast<uint8_t>(i >> 24);
    key.addr[13] = static_cast<uint8_t>(i >> 16);
    key.addr[14] = static_cast<uint8_t>(i >> 8);
    key.addr[15] = static_cast<uint8_t>(i);
    return datapath_->maps().putPrefix(key, {kAllowedClass});
  });
  // The trie already holds this test's two prefixes.
  EXPECT_EQ(prefixes + 2, uint32_t{EGRESSD_MAX_DEST_PREFIXES});
  ASSERT_FALSE(datapath_->maps().putPrefix(prefixKey("203.0.113.0/24"), {kAllowedClass}).ok());
  expectProbes(web, {{"prefix that did not fit", kUnregistered, EPERM}, {"prefixes in force", kAllowed, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).denied, 1u);

  // dest_ports (hash): classes no prefix names.
  const uint32_t ports = fill(EGRESSD_MAX_DEST_PORTS + 1, [&](uint32_t i) {
    egressd_port_key key{};
    key.class_id = 1000 + i;
    key.port = 443;
    key.protocol = IPPROTO_TCP;
    return datapath_->maps().putPort(key, portValue({kStrict}, 0));
  });
  EXPECT_EQ(ports + 2, uint32_t{EGRESSD_MAX_DEST_PORTS});
  egressd_port_key extra{};
  extra.class_id = kAllowedClass;
  extra.port = 8443;
  extra.protocol = IPPROTO_TCP;
  ASSERT_FALSE(datapath_->maps().putPort(extra, portValue({kStrict}, 0)).ok());
  expectProbes(web, {{"port that did not fit", {AF_INET, SOCK_STREAM, kNetA, 8443}, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).denied, 2u);

  // pods_parents (hash): the workload entries of workloads that found no
  // room in `workloads` live here, so it holds several times as many.
  const uint32_t parents = fill(EGRESSD_MAX_PODS_PARENTS + 1, [&](uint32_t i) {
    return datapath_->putCgroupMap(CgroupMap::kPodsParents, fakeCgroup(i), EGRESSD_PODS_WORKLOAD);
  });
  EXPECT_EQ(parents, uint32_t{EGRESSD_MAX_PODS_PARENTS});
  EXPECT_GE(EGRESSD_MAX_PODS_PARENTS, 2 * EGRESSD_MAX_WORKLOADS);
  expectProbes(web, {{"its own entry still decides", kAllowed, 0}});
}

}  // namespace
}  // namespace egressd::ktest
