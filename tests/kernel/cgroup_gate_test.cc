// Cgroups the policy maps don't describe yet, on real sockets in real cgroups:
// raw and packet sockets of a workload whose TC backstop is not attached
// (bpf/lib/sock_create.h), and cgroups below a pods parent that no workload
// names (bpf/lib/identity.h, --unknown-pods deny).
#include <linux/if_ether.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

using CgroupMap = bpf::Datapath::CgroupMap;

constexpr uint32_t kStrict = 1;
constexpr uint32_t kAllowedClass = 3;
constexpr uint32_t kAlwaysClass = 4;

const Probe kRaw4 = {AF_INET, SOCK_RAW, "", 0, Op::kSocket, IPPROTO_UDP};
const Probe kRaw6 = {AF_INET6, SOCK_RAW, "", 0, Op::kSocket, IPPROTO_UDP};
const Probe kPacket = {AF_PACKET, SOCK_RAW, "", 0, Op::kSocket, htons(ETH_P_ALL)};
const Probe kTcpSocket = {AF_INET, SOCK_STREAM, "", 0, Op::kSocket};
const Probe kUdpSocket = {AF_INET6, SOCK_DGRAM, "", 0, Op::kSocket};
const Probe kUnregistered = {AF_INET, SOCK_STREAM, kNetC, 443};
const Probe kUnregisteredUdp = {AF_INET, SOCK_DGRAM, kNetC, 53, Op::kSendto};
const Probe kAllowed = {AF_INET, SOCK_STREAM, kNetA, 443};
const Probe kAlways = {AF_INET, SOCK_STREAM, kNetB, 8080};

uint64_t idOf(const std::string& dir) {
  auto id = bpf::cgroupIdOf(dir);
  EXPECT_TRUE(id.ok()) << id.error();
  return id.ok() ? *id : 0;
}

// socket(AF_INET, SOCK_RAW) from a child in cgroup_dir that stays in this
// process's network namespace (the agent's: host network). 0 or errno.
int rawSocketInOwnNetns(const std::string& cgroup_dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::ofstream procs(cgroup_dir + "/cgroup.procs");
    procs << ::getpid() << std::flush;
    if (!procs) ::_exit(255);
    const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    ::_exit(fd < 0 ? errno : 0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

class CgroupGateTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    openGated(true);
  }
  // Reopens the datapath as an agent that attaches TC backstops (or not).
  void openGated(bool gate) {
    datapath_.reset();
    auto opts = options();
    opts.raw_socket_gate = gate;
    auto opened = bpf::Datapath::open(opts);
    ASSERT_TRUE(opened.ok()) << opened.error();
    datapath_ = std::move(*opened);
    addScope(kStrict, EGRESSD_MODE_REGISTRY_ONLY);
    addPrefix("192.0.2.0/24", kAllowedClass);
    addPort(kAllowedClass, 443, IPPROTO_TCP, {kStrict});
    addPrefix("198.51.100.0/24", kAlwaysClass);
    addPort(kAlwaysClass, 8080, IPPROTO_TCP, {}, EGRESSD_PORT_F_ALWAYS);
  }
  void put(CgroupMap map, const std::string& dir, uint32_t value) {
    auto st = datapath_->putCgroupMap(map, idOf(dir), value);
    ASSERT_TRUE(st.ok()) << st.error();
  }
};

TEST_F(CgroupGateTest, RawSocketsWaitForTheBackstop) {
  const auto pod = tree_->make("ns/pod");
  addWorkload(pod, kStrict);
  expectProbes(pod, {{"raw IPv4", kRaw4, EPERM},
                     {"raw IPv6", kRaw6, EPERM},
                     // No cgroup hook sees the AF_PACKET family (lib/sock_create.h).
                     {"AF_PACKET raw", kPacket, 0},
                     {"TCP socket", kTcpSocket, 0},
                     {"UDP socket", kUdpSocket, 0}});
  expectProbes(tree_->make("ns/pod/container"), {{"raw IPv4 in a container", kRaw4, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_SOCK_CREATE, EGRESSD_REASON_BACKSTOP_PENDING).denied, 3u);
  egressd_flow_value flow{};
  ASSERT_TRUE(lookupFlow(flowKey(idOf(pod), "::", 0, 255), &flow));
  EXPECT_EQ(flow.connects_denied, 3u);
  EXPECT_EQ(flow.last_reason, uint32_t{EGRESSD_REASON_BACKSTOP_PENDING});

  put(CgroupMap::kBackstops, pod, EGRESSD_BACKSTOP_ATTACHED);
  expectProbes(pod, {{"raw IPv4, backstop attached", kRaw4, 0},
                     {"raw IPv6, backstop attached", kRaw6, 0}});
  ASSERT_TRUE(datapath_->deleteCgroupMap(CgroupMap::kBackstops, idOf(pod)).ok());
  expectProbes(pod, {{"raw IPv4, backstop gone again", kRaw4, EPERM}});
  put(CgroupMap::kBackstops, pod, EGRESSD_BACKSTOP_NONE);
  expectProbes(pod, {{"raw IPv4, no backstop possible", kRaw4, 0}});
}

TEST_F(CgroupGateTest, LeftAloneOutsideWorkloadsInHostNetworkAndWithoutBackstops) {
  const auto pod = tree_->make("ns/pod");
  addWorkload(pod, kStrict);
  expectProbes(tree_->make("elsewhere"), {{"raw, no workload", kRaw4, 0}});
  // A workload process in the agent's own network namespace: no interface to
  // wait for.
  EXPECT_EQ(rawSocketInOwnNetns(pod), 0);
  // An audited workload's socket passes, counted as would-be denied.
  const auto audited = tree_->make("ns/audited");
  addWorkload(audited, kStrict, EGRESSD_WORKLOAD_F_AUDIT);
  expectProbes(audited, {{"raw, audited workload", kRaw4, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_SOCK_CREATE, EGRESSD_REASON_BACKSTOP_PENDING).allowed, 1u);
  // --tc-mode off: no backstops to wait for.
  openGated(false);
  addWorkload(pod, kStrict);
  expectProbes(pod, {{"raw, gate off", kRaw4, 0}});
}

TEST_F(CgroupGateTest, UnknownCgroupBelowAPodsParentGetsTheInitPolicy) {
  const auto qos = tree_->make("qos");
  const auto known = tree_->make("qos/known");
  const auto unknown = tree_->make("qos/unknown");
  const auto container = tree_->make("qos/unknown/container");
  addWorkload(known, kStrict);
  put(CgroupMap::kBackstops, known, EGRESSD_BACKSTOP_ATTACHED);
  put(CgroupMap::kPodsParents, qos, EGRESSD_PODS_PARENT);
  const std::vector<ProbeCase> init_policy = {
      {"unregistered destination", kUnregistered, EPERM},
      {"unregistered UDP sendto", kUnregisteredUdp, EPERM},
      {"a destination its future scope may allow", kAllowed, EPERM},
      {"ALWAYS entry (cluster CIDR, trusted DNS)", kAlways, 0},
      {"loopback", {AF_INET, SOCK_STREAM, "127.0.0.1", 443}, 0},
      {"raw socket: no backstop for it", kRaw4, EPERM},
  };
  expectProbes(unknown, init_policy);
  expectProbes(container, {{"below the unknown cgroup", kUnregistered, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_WORKLOAD).denied, 3u);
  EXPECT_EQ(counter(EGRESSD_HOOK_SENDMSG4, EGRESSD_REASON_UNKNOWN_WORKLOAD).denied, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_SOCK_CREATE, EGRESSD_REASON_UNKNOWN_WORKLOAD).denied, 1u);
  // Recorded under the pod-level cgroup (the parent's child), not the container.
  egressd_flow_value flow{};
  ASSERT_TRUE(lookupFlow(flowKey(idOf(unknown), kNetC, 443, IPPROTO_TCP), &flow));
  EXPECT_EQ(flow.connects_denied, 2u);
  EXPECT_EQ(flow.last_reason, uint32_t{EGRESSD_REASON_UNKNOWN_WORKLOAD});
  EXPECT_EQ(flow.scope_id, uint32_t{EGRESSD_SCOPE_NONE});

  // Untouched: the known workload (its own policy), the parent itself, a
  // cgroup outside every parent.
  expectProbes(known, {{"known workload, allowed", kAllowed, 0}, {"known workload, raw", kRaw4, 0}});
  expectProbes(qos, {{"in the parent itself", kUnregistered, 0}, {"raw in the parent", kRaw4, 0}});
  expectProbes(tree_->make("system"), {{"outside every parent", kUnregistered, 0}});

  // Tied to a workload: its policy from then on. Parent gone (--unknown-pods
  // allow): untouched.
  addWorkload(unknown, kStrict);
  expectProbes(unknown, {{"now known: allowed", kAllowed, 0}, {"now known: denied", kUnregistered, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_IN_REGISTRY).denied, 1u);
  ASSERT_TRUE(datapath_->deleteCgroupMap(CgroupMap::kPodsParents, idOf(qos)).ok());
  expectProbes(tree_->make("qos/other"), {{"no parent registered", kUnregistered, 0}});
}

// An excluded pod (kube-system, egressd.io/enforce: "false", the agent's
// own) sits below the same QoS parent as enforced ones: its entry leaves it
// and its containers untouched, while an unknown sibling is still denied.
TEST_F(CgroupGateTest, ExcludedPodBelowAPodsParentIsLeftAlone) {
  const auto qos = tree_->make("qos");
  const auto excluded = tree_->make("qos/excluded");
  const auto container = tree_->make("qos/excluded/container");
  const auto unknown = tree_->make("qos/unknown");
  put(CgroupMap::kPodsParents, qos, EGRESSD_PODS_PARENT);
  ASSERT_TRUE(datapath_->putCgroupMap(CgroupMap::kPodsParents, EGRESSD_PODS_EXCLUDED_KEY(idOf(excluded)),
                                      EGRESSD_PODS_EXCLUDED).ok());
  const std::vector<ProbeCase> untouched = {
      {"unregistered destination", kUnregistered, 0},
      {"unregistered UDP sendto", kUnregisteredUdp, 0},
      {"raw socket", kRaw4, 0},
  };
  expectProbes(excluded, untouched);
  expectProbes(container, {{"its container: unregistered", kUnregistered, 0}, {"its container: raw", kRaw4, 0}});
  expectProbes(unknown, {{"unknown sibling", kUnregistered, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_WORKLOAD).denied, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_WORKLOAD).allowed, 2u);
  egressd_flow_value flow{};
  EXPECT_FALSE(lookupFlow(flowKey(idOf(excluded), kNetC, 443, IPPROTO_TCP), &flow)) << "no flow for a pod left alone";

  // No longer excluded (its entry deleted), not a workload yet: unknown.
  ASSERT_TRUE(datapath_->deleteCgroupMap(CgroupMap::kPodsParents, EGRESSD_PODS_EXCLUDED_KEY(idOf(excluded))).ok());
  expectProbes(container, {{"entry deleted: unknown", kUnregistered, EPERM}});
}

// A service restarting: its cgroup removed and created at the same path gets
// a new id. Between the mkdir and the agent writing that id, the new cgroup
// is an unknown workload: denied, never untouched.
TEST_F(CgroupGateTest, RecreatedCgroupIsDeniedUntilItsNewIdIsWritten) {
  const auto slice = tree_->make("services");
  const auto service = tree_->make("services/web");
  addWorkload(service, kStrict);
  put(CgroupMap::kPodsParents, slice, EGRESSD_PODS_PARENT);
  const uint64_t old_id = idOf(service);
  expectProbes(service, {{"before the restart", kUnregistered, EPERM}});
  ASSERT_EQ(::rmdir(service.c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::mkdir(service.c_str(), 0755), 0) << std::strerror(errno);
  ASSERT_NE(idOf(service), old_id);
  expectProbes(service, {{"recreated, not written yet", kUnregistered, EPERM},
                         {"recreated, allowed destination waits too", kAllowed, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_WORKLOAD).denied, 2u);
  addWorkload(service, kStrict);
  ASSERT_TRUE(datapath_->maps().deleteWorkload({old_id}).ok());
  expectProbes(service, {{"new id written", kAllowed, 0}, {"new id, unregistered", kUnregistered, EPERM}});
}

}  // namespace
}  // namespace egressd::ktest
