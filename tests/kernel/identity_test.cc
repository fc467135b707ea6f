// Who is a workload: the deepest registered cgroup on the task's path.
#include <cerrno>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint32_t kStrict = 1;
constexpr uint32_t kOpen = 2;

class IdentityTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(kStrict, EGRESSD_MODE_REGISTRY_ONLY);
    addScope(kOpen, EGRESSD_MODE_ALLOW_ANY);
  }
  const Probe unregistered_ = {AF_INET, SOCK_STREAM, kNetC, 443};
};

TEST_F(IdentityTest, ProcessOutsideEveryWorkloadIsUntouched) {
  const auto pod = tree_->make("pod");
  addWorkload(pod, kStrict);
  const auto outsider = tree_->make("outsider");
  expectProbes(outsider, {{"outsider", unregistered_, 0}, {"outsider v6", {AF_INET6, SOCK_STREAM, kNet6Other, 443}, 0}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_NOT_WORKLOAD).allowed, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_NOT_WORKLOAD).allowed, 1u);
  expectProbes(pod, {{"the workload itself", unregistered_, EPERM}});
}

TEST_F(IdentityTest, NestedCgroupInheritsItsWorkload) {
  const auto pod = tree_->make("pod");
  addWorkload(pod, kStrict);
  expectProbes(tree_->make("pod/container"), {{"one level down", unregistered_, EPERM}});
  expectProbes(tree_->make("pod/a/b/c"), {{"four levels down", unregistered_, EPERM}});
}

TEST_F(IdentityTest, DeepestWorkloadWins) {
  const auto outer = tree_->make("outer");
  const auto inner = tree_->make("outer/inner");
  addWorkload(outer, kOpen);
  addWorkload(inner, kStrict);
  expectProbes(outer, {{"outer itself", unregistered_, 0}});
  expectProbes(tree_->make("outer/sibling"), {{"below outer only", unregistered_, 0}});
  expectProbes(inner, {{"inner itself", unregistered_, EPERM}});
  expectProbes(tree_->make("outer/inner/leaf"), {{"below inner", unregistered_, EPERM}});

  // And the other way round: strict outside, open inside.
  addWorkload(outer, kStrict);
  addWorkload(inner, kOpen);
  expectProbes(tree_->make("outer/inner/leaf"), {{"below open inner", unregistered_, 0}});
  expectProbes(tree_->make("outer/sibling"), {{"below strict outer", unregistered_, EPERM}});
}

TEST_F(IdentityTest, UnknownScopeFailsClosedButKeepsAlwaysAndLoopback) {
  const auto pod = tree_->make("pod");
  addWorkload(pod, 7);  // scope 7 was never written
  addWorkload(tree_->make("far"), EGRESSD_MAX_SCOPES + 5);  // out of range
  addPrefix("198.51.100.0/24", 4);
  addPort(4, 8080, IPPROTO_TCP, {}, EGRESSD_PORT_F_ALWAYS);
  expectProbes(pod, {
      {"unknown scope", unregistered_, EPERM},
      {"ALWAYS entry needs no scope", {AF_INET, SOCK_STREAM, kNetB, 8080}, 0},
      {"loopback", {AF_INET, SOCK_STREAM, "127.0.0.1", 443}, 0},
  });
  expectProbes(tree_->make("far"), {{"scope id out of range", unregistered_, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_UNKNOWN_SCOPE).denied, 2u);
}

TEST_F(IdentityTest, RemovedWorkloadIsUntouchedAgain) {
  const auto pod = tree_->make("pod");
  addWorkload(pod, kStrict);
  expectProbes(pod, {{"registered", unregistered_, EPERM}});
  auto id = bpf::cgroupIdOf(pod);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(datapath_->maps().deleteWorkload({*id}).ok());
  expectProbes(pod, {{"removed", unregistered_, 0}});
}

}  // namespace
}  // namespace egressd::ktest
