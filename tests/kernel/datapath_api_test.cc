// The Datapath's reporting surface and its helpers.
#include <sys/stat.h>

#include <algorithm>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

TEST_F(DatapathTest, ReadLiveReturnsWhatWasWritten) {
  addScope(3, EGRESSD_MODE_ALLOW_ANY);
  addScope(5, EGRESSD_MODE_REGISTRY_ONLY);
  ASSERT_TRUE(datapath_->maps().putScope(5, egressd_scope_value{}).ok());  // "delete": inactive slot
  addWorkload(tree_->make("a"), 3);
  addPrefix("192.0.2.0/24", 9);
  addPrefix("2001:db8::/32", 10);
  addPort(9, 443, IPPROTO_TCP, {3, 200});
  auto live = datapath_->maps().readLive();
  ASSERT_TRUE(live.ok()) << live.error();
  ASSERT_EQ(live->scopes.size(), 1u);
  EXPECT_EQ(live->scopes.begin()->first, 3u);
  EXPECT_EQ(live->workloads.size(), 1u);
  ASSERT_EQ(live->prefixes.size(), 2u);
  EXPECT_EQ(live->prefixes.at(prefixKey("192.0.2.0/24")).class_id, 9u);
  EXPECT_EQ(live->prefixes.at(prefixKey("2001:db8::/32")).class_id, 10u);
  ASSERT_EQ(live->ports.size(), 1u);
  EXPECT_TRUE(abiEqual(live->ports.begin()->second, portValue({3, 200})));
  EXPECT_FALSE(datapath_->maps().putScope(EGRESSD_MAX_SCOPES, activeScope(EGRESSD_MODE_ALLOW_ANY)).ok());
  EXPECT_TRUE(datapath_->maps().deletePort(egressd_port_key{77, 1, 6, 0}).ok()) << "absent key is fine";
}

TEST_F(DatapathTest, MapFillCountsEntriesAgainstCapacity) {
  addScope(1, EGRESSD_MODE_ALLOW_ANY);
  addWorkload(tree_->make("a"), 1);
  addWorkload(tree_->make("b"), 1);
  addPrefix("192.0.2.0/24", 1);
  auto fill = datapath_->mapFill();
  auto find = [&](const std::string& name) {
    auto it = std::find_if(fill.begin(), fill.end(), [&](const auto& m) { return m.name == name; });
    EXPECT_NE(it, fill.end()) << name;
    return it == fill.end() ? bpf::MapFill{} : *it;
  };
  EXPECT_EQ(find("workloads").entries, 2u);
  EXPECT_EQ(find("workloads").capacity, uint32_t{EGRESSD_MAX_WORKLOADS});
  EXPECT_EQ(find("scopes").entries, 1u);
  EXPECT_EQ(find("scopes").capacity, uint32_t{EGRESSD_MAX_SCOPES});
  EXPECT_EQ(find("dest_prefixes").entries, 1u);
  EXPECT_EQ(find("dest_prefixes").capacity, uint32_t{EGRESSD_MAX_DEST_PREFIXES});
  EXPECT_EQ(find("dest_ports").entries, 0u);
  EXPECT_EQ(find("dest_ports").capacity, uint32_t{EGRESSD_MAX_DEST_PORTS});
  EXPECT_EQ(find("verdict_counters").capacity, uint32_t{EGRESSD_HOOK_COUNT} * EGRESSD_REASON_COUNT);
  EXPECT_EQ(find("abi_info").entries, 1u);
}

TEST_F(DatapathTest, ProgramsReportIdsAttachPointsAndVerifierBudget) {
  const auto programs = datapath_->programs();
  // connect4/6, sendmsg4/6, getpeername4/6, DNS egress/ingress, sock_create, sock_release,
  // then the TC pair (attached per workload interface, not at the root)
  ASSERT_EQ(programs.size(), 12u);
  for (const auto& p : programs) {
    EXPECT_GT(p.id, 0u) << p.name;
    EXPECT_GT(p.verified_insns, 0u) << p.name;
    // The DNS programs carry the parser (docs/DNS_LEARNING.md has the figures).
    const bool dns = p.name.find("dns") != std::string::npos;
    // connect4 took 9,830 on 6.18 before the missing-state walk (a pods_parents
    // entry of the workload's own: docs/LIMITS.md), 10,486 after it.
    EXPECT_LT(p.verified_insns, dns ? 300000u : 12000u) << p.name << ": verifier budget";
    const bool tc = p.attach_point.rfind("tc/", 0) == 0;
    EXPECT_NE(p.attach_point.find(tc ? "workload interfaces" : tree_->root()), std::string::npos) << p.attach_point;
    std::printf("[ verifier ] %s %s verified_insns=%u\n", p.name.c_str(), p.attach_point.c_str(), p.verified_insns);
  }
}

TEST_F(DatapathTest, ErrorsNameThePath) {
  auto opts = options(tree_->root() + "/does-not-exist");
  auto opened = bpf::Datapath::open(opts);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().find("does-not-exist"), std::string::npos) << opened.error();
  EXPECT_NE(opened.error().find("No such file"), std::string::npos) << opened.error();
}

TEST(CgroupHelpers, MountRootAndIds) {
  EGRESSD_REQUIRE_KERNEL();
  const auto root = bpf::cgroup2MountRoot();
  ASSERT_FALSE(root.empty());
  auto id = bpf::cgroupIdOf(root);
  ASSERT_TRUE(id.ok()) << id.error();
  struct stat st {};
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(*id, st.st_ino);
  EXPECT_FALSE(bpf::cgroupIdOf("/proc").ok()) << "not cgroup v2";
}

}  // namespace
}  // namespace egressd::ktest
