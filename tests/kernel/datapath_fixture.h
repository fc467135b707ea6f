#pragma once
// One private datapath per test: a cgroup subtree, a bpffs directory, the
// real programs attached at the subtree root; all removed in TearDown.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/datapath.h"
#include "kernel/kernel_env.h"
#include "kernel/policy_builder.h"
#include "kernel/socket_probe.h"
#include "kernel/test_cgroup.h"

namespace egressd::ktest {

struct ProbeCase {
  std::string name;
  Probe probe;
  int expected_errno;  // 0 = allowed
};

class DatapathTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)opens the datapath on this test's bpffs dir; cgroup_root empty = the
  // test subtree's root.
  void openDatapath(const std::string& cgroup_root = "");
  bpf::DatapathOptions options(const std::string& cgroup_root = "") const;

  // Map writes through the real MapBackend; each asserts success.
  void addScope(uint32_t scope_id, egressd_outbound_mode mode);
  void addWorkload(const std::string& cgroup_dir, uint32_t scope_id, uint32_t flags = 0);
  void addPrefix(const std::string& cidr, uint32_t class_id);
  void addPort(uint32_t class_id, uint16_t port, uint8_t protocol, std::initializer_list<uint32_t> scopes,
               uint32_t flags = 0);

  // An egress gateway slot, and a (class, port) that redirects `scopes` to it.
  void addGateway(uint32_t gateway_id, const std::string& addr, uint16_t port);
  void addRedirect(uint32_t class_id, uint16_t port, std::initializer_list<uint32_t> scopes, uint32_t gateway_id);

  // Runs every case from a child in cgroup_dir and checks each errno.
  void expectProbes(const std::string& cgroup_dir, const std::vector<ProbeCase>& cases);

  // Summed counter for (hook, reason).
  egressd_counter counter(egressd_hook hook, egressd_reason reason);
  // A `flow_counters` slot, summed over CPUs.
  uint64_t flowCounter(egressd_flow_counter which);
  // A `flows` key; addr numeric, IPv4 or IPv6.
  egressd_flow_key flowKey(uint64_t cgroup, const std::string& addr, uint16_t port, uint8_t protocol) const;
  // The pinned `flows` map, as another agent or bpftool would open it.
  bool lookupFlow(const egressd_flow_key& key, egressd_flow_value* value);
  // A map's entries as mapFill() reports them; nullopt when it isn't listed.
  std::optional<uint32_t> mapFillEntries(const std::string& name);
  // Number of programs attached at cgroup_dir for the attach type.
  uint32_t attachedPrograms(const std::string& cgroup_dir, int attach_type);

  std::unique_ptr<TestCgroupTree> tree_;
  std::string bpffs_dir_;
  std::unique_ptr<bpf::Datapath> datapath_;
};

}  // namespace egressd::ktest
