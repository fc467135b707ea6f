// Restart safety: pins keep enforcement alive without the agent; a new agent
// adopts maps and swaps programs in place; ABI changes rebuild explicitly.
#include <bpf/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

class RestartTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    pod_ = tree_->make("pod");
    addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
    addPrefix("192.0.2.0/24", 1);
    addPort(1, 443, IPPROTO_TCP, {1});
    addWorkload(pod_, 1);
  }

  void expectEnforced(const std::string& when) {
    SCOPED_TRACE(when);
    expectProbes(pod_, {{"allowed", allowed_, 0}, {"denied", denied_, EPERM}});
  }

  uint32_t linkProgramId(const std::string& hook) {
    const int fd = bpf_obj_get((bpffs_dir_ + "/links/" + hook).c_str());
    if (fd < 0) return 0;
    bpf_link_info info{};
    __u32 len = sizeof(info);
    const int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    ::close(fd);
    return rc == 0 ? info.prog_id : 0;
  }

  void setPinnedAbiVersion(uint32_t version) {
    const int fd = bpf_obj_get((bpffs_dir_ + "/abi_info").c_str());
    ASSERT_GE(fd, 0);
    const uint32_t key = 0;
    const egressd_abi_info info{version, 0};
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &info, BPF_ANY), 0);
    ::close(fd);
  }

  std::string pod_;
  const Probe allowed_ = {AF_INET, SOCK_STREAM, kNetA, 443};
  const Probe denied_ = {AF_INET, SOCK_STREAM, kNetC, 443};
};

TEST_F(RestartTest, EnforcementSurvivesTheAgentAndIsAdopted) {
  EXPECT_FALSE(datapath_->adopted());
  expectEnforced("first agent");
  const auto first_programs = datapath_->programs();

  datapath_.reset();  // agent exits: only the pins hold programs and maps
  expectEnforced("no agent");

  // A second agent dies by SIGKILL after a map write: no destructor runs.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto opened = bpf::Datapath::open(options());
    if (!opened.ok() || !(*opened)->adopted()) ::_exit(2);
    egressd_port_key key{};
    key.class_id = 1;
    key.port = 8443;
    key.protocol = IPPROTO_TCP;
    if (!(*opened)->maps().putPort(key, portValue({1})).ok()) ::_exit(3);
    ::kill(::getpid(), SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  expectEnforced("after kill -9");
  expectProbes(pod_, {{"written by the killed agent", {AF_INET, SOCK_STREAM, kNetA, 8443}, 0}});

  openDatapath();
  EXPECT_TRUE(datapath_->adopted());
  auto live = datapath_->maps().readLive();
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_EQ(live->workloads.size(), 1u);
  EXPECT_EQ(live->scopes.size(), 1u);
  EXPECT_EQ(live->prefixes.size(), 1u);
  EXPECT_EQ(live->ports.size(), 2u);
  expectEnforced("third agent");

  // The pinned links now run this agent's programs, one per hook, no duplicates.
  for (const auto& prog : datapath_->programs()) {
    if (prog.attach_point.rfind("tc/", 0) == 0) continue;  // per interface: the TC e2e cases
    const std::string hook = prog.attach_point.substr(7, prog.attach_point.find(':') - 7);
    EXPECT_EQ(linkProgramId(hook), prog.id) << hook;
    for (const auto& old : first_programs) EXPECT_NE(old.id, prog.id);
  }
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_INET4_CONNECT), 1u);
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_UDP6_SENDMSG), 1u);
}

TEST_F(RestartTest, AbiVersionMismatchStartsFresh) {
  datapath_.reset();
  setPinnedAbiVersion(EGRESSD_ABI_VERSION + 1);
  openDatapath();
  EXPECT_FALSE(datapath_->adopted());
  auto live = datapath_->maps().readLive();
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_TRUE(live->workloads.empty());
  EXPECT_TRUE(live->ports.empty());
  // The new maps carry this build's version; the hook stayed attached once.
  const int fd = bpf_obj_get((bpffs_dir_ + "/abi_info").c_str());
  ASSERT_GE(fd, 0);
  const uint32_t key = 0;
  egressd_abi_info info{};
  ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &info), 0);
  ::close(fd);
  EXPECT_EQ(info.version, uint32_t{EGRESSD_ABI_VERSION});
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_INET4_CONNECT), 1u);
  // Empty maps: the pod is no workload until the agent writes it again.
  expectProbes(pod_, {{"unknown pod", denied_, 0}});
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  addWorkload(pod_, 1);
  expectProbes(pod_, {{"rewritten", denied_, EPERM}});
}

TEST_F(RestartTest, IncompatibleMapDefinitionStartsFresh) {
  datapath_.reset();
  // Same ABI version, but `workloads` pinned with another capacity.
  const std::string path = bpffs_dir_ + "/workloads";
  ASSERT_EQ(::unlink(path.c_str()), 0);
  const int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "workloads", sizeof(egressd_workload_key),
                                sizeof(egressd_workload_value), 7, nullptr);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0);
  ::close(fd);
  openDatapath();
  EXPECT_FALSE(datapath_->adopted());
  auto live = datapath_->maps().readLive();
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_TRUE(live->scopes.empty());
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  addWorkload(pod_, 1);
  expectProbes(pod_, {{"enforced on fresh maps", denied_, EPERM}});
}

TEST_F(RestartTest, NewCgroupRootMovesTheLinks) {
  const auto other_root = tree_->make("elsewhere");
  openDatapath(other_root);
  EXPECT_TRUE(datapath_->adopted());
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(attachedPrograms(other_root, BPF_CGROUP_INET4_CONNECT), 1u);
  // pod is outside the new root now: untouched.
  expectProbes(pod_, {{"outside the root", denied_, 0}});
  const auto inside = tree_->make("elsewhere/pod");
  addWorkload(inside, 1);
  expectProbes(inside, {{"inside the root", denied_, EPERM}});
}

TEST_F(RestartTest, UnpinAllUninstalls) {
  datapath_.reset();
  auto st = bpf::unpinAll(bpffs_dir_);
  ASSERT_TRUE(st.ok()) << st.error();
  struct stat sb {};
  EXPECT_NE(::stat(bpffs_dir_.c_str(), &sb), 0);
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(attachedPrograms(tree_->root(), BPF_CGROUP_UDP4_SENDMSG), 0u);
  expectProbes(pod_, {{"no longer enforced", denied_, 0}});
  EXPECT_TRUE(bpf::unpinAll(bpffs_dir_).ok()) << "idempotent";
}

}  // namespace
}  // namespace egressd::ktest
