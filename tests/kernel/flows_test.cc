// The `flows` map: exact per-flow counts after real connects, the workload's
// registered cgroup as key (not a child's), closes, and bpftool's named
// fields (the map carries BTF).
#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bpf/cgroup.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

std::array<uint8_t, 16> v4Mapped(const char* ip) {
  std::array<uint8_t, 16> out{};
  out[10] = out[11] = 0xff;
  inet_pton(AF_INET, ip, out.data() + 12);
  return out;
}

const egressd_flow_value* findFlow(const std::vector<bpf::FlowEntry>& flows, uint64_t cgroup, const char* ip,
                                   uint16_t port, uint8_t protocol) {
  const auto addr = v4Mapped(ip);
  for (const auto& f : flows) {
    if (f.key.cgroup_id == cgroup && std::equal(addr.begin(), addr.end(), f.key.addr) && f.key.port == port &&
        f.key.protocol == protocol)
      return &f.value;
  }
  return nullptr;
}

std::string run(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe.get())) out.append(buf, n);
  return out;
}

TEST_F(DatapathTest, FlowsCountEveryConnectExactly) {
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  addPrefix("192.0.2.0/24", 1);
  addPort(1, 443, IPPROTO_TCP, {1});
  const auto pod = tree_->make("pod");
  const auto container = tree_->make("pod/container");  // flows name the pod, not the child
  addWorkload(pod, 1);
  auto pod_id = bpf::cgroupIdOf(pod);
  ASSERT_TRUE(pod_id.ok()) << pod_id.error();

  std::vector<ProbeCase> cases;
  for (int i = 0; i < 5; ++i) cases.push_back({"allowed", {AF_INET, SOCK_STREAM, kNetA, 443}, 0});
  for (int i = 0; i < 3; ++i) cases.push_back({"denied", {AF_INET, SOCK_STREAM, kNetC, 443}, EPERM});
  cases.push_back({"denied v4-mapped", {AF_INET6, SOCK_STREAM, "::ffff:203.0.113.1", 443}, EPERM});
  cases.push_back({"udp denied", {AF_INET, SOCK_DGRAM, kNetC, 53, Op::kSendto}, EPERM});
  expectProbes(container, cases);

  auto flows = datapath_->readFlows();
  ASSERT_TRUE(flows.ok()) << flows.error();
  EXPECT_EQ(flows->size(), 3u);
  const auto* allowed = findFlow(*flows, *pod_id, kNetA, 443, IPPROTO_TCP);
  ASSERT_NE(allowed, nullptr);
  EXPECT_EQ(allowed->connects_allowed, 5u);
  EXPECT_EQ(allowed->connects_denied, 0u);
  EXPECT_EQ(allowed->scope_id, 1u);
  EXPECT_EQ(allowed->last_reason, uint32_t{EGRESSD_REASON_REGISTRY_MATCH});
  EXPECT_GT(allowed->last_seen_ns, 0u);
  // Five sockets were closed when the probe child exited.
  EXPECT_EQ(allowed->closes, 5u);
  const auto* denied = findFlow(*flows, *pod_id, kNetC, 443, IPPROTO_TCP);
  ASSERT_NE(denied, nullptr);
  EXPECT_EQ(denied->connects_denied, 4u);  // AF_INET and v4-mapped AF_INET6: one flow
  EXPECT_EQ(denied->last_reason, uint32_t{EGRESSD_REASON_NOT_IN_REGISTRY});
  const auto* udp = findFlow(*flows, *pod_id, kNetC, 53, IPPROTO_UDP);
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->connects_denied, 1u);

  auto counters = datapath_->readFlowCounters();
  ASSERT_TRUE(counters.ok()) << counters.error();
  EXPECT_EQ((*counters)[EGRESSD_FLOW_NEW_ENTRIES], 3u);
  // Three new flows; repeated denials inside a second are rate limited.
  EXPECT_EQ((*counters)[EGRESSD_FLOW_EVENTS], 3u);
  EXPECT_EQ((*counters)[EGRESSD_FLOW_EVENTS_LIMITED], 3u);
}

TEST_F(DatapathTest, AuditVerdictIsCountedAsAudited) {
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  const auto pod = tree_->make("pod");
  addWorkload(pod, 1, EGRESSD_WORKLOAD_F_AUDIT);
  auto pod_id = bpf::cgroupIdOf(pod);
  ASSERT_TRUE(pod_id.ok()) << pod_id.error();
  expectProbes(pod, {{"audited", {AF_INET, SOCK_STREAM, kNetC, 443}, 0},
                     {"audited", {AF_INET, SOCK_STREAM, kNetC, 443}, 0}});
  auto flows = datapath_->readFlows();
  ASSERT_TRUE(flows.ok()) << flows.error();
  const auto* f = findFlow(*flows, *pod_id, kNetC, 443, IPPROTO_TCP);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->connects_audited, 2u);
  EXPECT_EQ(f->connects_denied, 0u);
  EXPECT_EQ(f->connects_allowed, 0u);
}

TEST_F(DatapathTest, BpftoolPrintsNamedFlowFields) {
  addScope(1, EGRESSD_MODE_ALLOW_ANY);
  const auto pod = tree_->make("pod");
  addWorkload(pod, 1);
  expectProbes(pod, {{"allow any", {AF_INET, SOCK_STREAM, kNetB, 80}, 0}});
  const std::string pin = bpffs_dir_ + "/flows";
  const std::string plain = run("bpftool map dump pinned " + pin + " 2>&1");
  for (const char* field : {"cgroup_id", "addr", "port", "protocol", "connects_allowed", "connects_denied",
                            "connects_redirected", "connects_audited", "bytes_out", "packets_out", "bytes_in",
                            "packets_in", "last_seen_ns"}) {
    EXPECT_NE(plain.find(std::string("\"") + field + "\""), std::string::npos) << field << " in\n" << plain;
  }
  const auto dump = nlohmann::json::parse(run("bpftool -j map dump pinned " + pin), nullptr, false);
  ASSERT_TRUE(dump.is_array() && dump.size() == 1) << dump.dump();
  const auto& entry = dump[0]["formatted"];
  EXPECT_EQ(entry["key"]["port"], 80);
  EXPECT_EQ(entry["key"]["protocol"], IPPROTO_TCP);
  EXPECT_EQ(entry["value"]["connects_allowed"], 1);
}

}  // namespace
}  // namespace egressd::ktest
