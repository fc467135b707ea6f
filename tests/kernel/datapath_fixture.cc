#include "kernel/datapath_fixture.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace egressd::ktest {
namespace {
std::atomic<int> sequence{0};
}

void DatapathTest::SetUp() {
  EGRESSD_REQUIRE_KERNEL();
  tree_ = std::make_unique<TestCgroupTree>();
  ASSERT_TRUE(tree_->ok()) << tree_->error();
  bpffs_dir_ = "/sys/fs/bpf/egressd-ktest-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++);
  ASSERT_TRUE(bpf::unpinAll(bpffs_dir_).ok());  // debris of an earlier run with our pid
  openDatapath();
}

void DatapathTest::TearDown() {
  datapath_.reset();
  if (!bpffs_dir_.empty()) {
    auto st = bpf::unpinAll(bpffs_dir_);
    EXPECT_TRUE(st.ok()) << st.error();
  }
  tree_.reset();
}

bpf::DatapathOptions DatapathTest::options(const std::string& cgroup_root) const {
  bpf::DatapathOptions opts;
  opts.bpffs_dir = bpffs_dir_;
  opts.cgroup_root = cgroup_root.empty() ? tree_->root() : cgroup_root;
  return opts;
}

void DatapathTest::openDatapath(const std::string& cgroup_root) {
  datapath_.reset();
  auto opened = bpf::Datapath::open(options(cgroup_root));
  ASSERT_TRUE(opened.ok()) << opened.error();
  datapath_ = std::move(*opened);
}

void DatapathTest::addScope(uint32_t scope_id, egressd_outbound_mode mode) {
  auto st = datapath_->maps().putScope(scope_id, activeScope(mode));
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::addWorkload(const std::string& cgroup_dir, uint32_t scope_id, uint32_t flags) {
  auto id = bpf::cgroupIdOf(cgroup_dir);
  ASSERT_TRUE(id.ok()) << id.error();
  auto st = datapath_->maps().putWorkload(egressd_workload_key{*id}, egressd_workload_value{scope_id, flags});
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::addPrefix(const std::string& cidr, uint32_t class_id) {
  auto st = datapath_->maps().putPrefix(prefixKey(cidr), egressd_prefix_value{class_id});
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::addPort(uint32_t class_id, uint16_t port, uint8_t protocol, std::initializer_list<uint32_t> scopes,
                           uint32_t flags) {
  egressd_port_key key{};
  key.class_id = class_id;
  key.port = port;
  key.protocol = protocol;
  auto st = datapath_->maps().putPort(key, portValue(scopes, flags));
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::addGateway(uint32_t gateway_id, const std::string& addr, uint16_t port) {
  const auto key = prefixKey(addr);  // a host address: /32 (v4-mapped) or /128
  egressd_gateway_value value{};
  std::memcpy(value.addr, key.addr, sizeof(value.addr));
  value.port = port;
  value.family = addr.find(':') == std::string::npos ? AF_INET : AF_INET6;
  value.flags = EGRESSD_GATEWAY_F_ACTIVE;
  auto st = datapath_->maps().putGateway(gateway_id, value);
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::addRedirect(uint32_t class_id, uint16_t port, std::initializer_list<uint32_t> scopes,
                               uint32_t gateway_id) {
  egressd_port_key key{};
  key.class_id = class_id;
  key.port = port;
  key.protocol = IPPROTO_TCP;
  egressd_port_value value = portValue(scopes);
  std::memcpy(value.redirect_scopes, value.allow_scopes, sizeof(value.redirect_scopes));
  value.gateway_id = gateway_id;
  auto st = datapath_->maps().putPort(key, value);
  ASSERT_TRUE(st.ok()) << st.error();
}

void DatapathTest::expectProbes(const std::string& cgroup_dir, const std::vector<ProbeCase>& cases) {
  std::vector<Probe> probes;
  for (const auto& c : cases) probes.push_back(c.probe);
  const auto run = runProbes(cgroup_dir, probes);
  ASSERT_TRUE(run.error.empty()) << run.error;
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(run.errnos[i], cases[i].expected_errno)
        << cases[i].name << ": " << describe(cases[i].probe) << " got " << std::strerror(run.errnos[i])
        << ", want " << std::strerror(cases[i].expected_errno);
  }
}

egressd_counter DatapathTest::counter(egressd_hook hook, egressd_reason reason) {
  auto counts = datapath_->readCounters();
  EXPECT_TRUE(counts.ok()) << counts.error();
  if (!counts.ok()) return {};
  for (const auto& c : *counts)
    if (c.hook == hook && c.reason == reason) return {c.allowed, c.denied};
  ADD_FAILURE() << "no counter for hook " << hook << " reason " << reason;
  return {};
}

uint64_t DatapathTest::flowCounter(egressd_flow_counter which) {
  auto counters = datapath_->readFlowCounters();
  EXPECT_TRUE(counters.ok()) << counters.error();
  return counters.ok() ? (*counters)[which] : 0;
}

egressd_flow_key DatapathTest::flowKey(uint64_t cgroup, const std::string& addr, uint16_t port,
                                       uint8_t protocol) const {
  egressd_flow_key k{};
  k.cgroup_id = cgroup;
  const auto mapped = prefixKey(addr);
  std::memcpy(k.addr, mapped.addr, sizeof(k.addr));
  k.port = port;
  k.protocol = protocol;
  return k;
}

bool DatapathTest::lookupFlow(const egressd_flow_key& key, egressd_flow_value* value) {
  const int fd = bpf_obj_get((bpffs_dir_ + "/flows").c_str());
  EXPECT_GE(fd, 0) << std::strerror(errno);
  if (fd < 0) return false;
  const bool found = bpf_map_lookup_elem(fd, &key, value) == 0;
  ::close(fd);
  return found;
}

std::optional<uint32_t> DatapathTest::mapFillEntries(const std::string& name) {
  for (const auto& m : datapath_->mapFill())
    if (m.name == name) return m.entries;
  return std::nullopt;
}

uint32_t DatapathTest::attachedPrograms(const std::string& cgroup_dir, int attach_type) {
  const int fd = ::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  __u32 ids[16];
  __u32 count = 16;
  __u32 attach_flags = 0;
  const int rc = bpf_prog_query(fd, static_cast<bpf_attach_type>(attach_type), 0, &attach_flags, ids, &count);
  ::close(fd);
  return rc == 0 ? count : 0;
}

}  // namespace egressd::ktest
