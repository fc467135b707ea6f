// The start check's probes on the running kernel: every kernel the tests run
// on (the host's, and Debian 12's 6.1 in scripts/test-kernel.sh) has every
// feature, so a probe that reports one missing is a broken probe.
#include "bpf/kernel_features.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kernel_env.h"

namespace egressd::bpf {
namespace {

TEST(KernelFeaturesTest, ThisKernelHasEveryFeature) {
  EGRESSD_REQUIRE_KERNEL();
  auto missing = missingKernelFeatures();
  ASSERT_TRUE(missing.ok()) << missing.error();
  std::string names;
  for (const auto& f : *missing) names += f.name + " (" + f.since + "); ";
  EXPECT_TRUE(missing->empty()) << "reported missing: " << names;
}

// libbpf's probes read a refused load as "missing": without the privilege to
// load, the check must say it cannot tell, not name features as missing.
TEST(KernelFeaturesTest, WithoutPrivilegeItCannotTell) {
  EGRESSD_REQUIRE_KERNEL();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // nobody: a uid other than 0 drops every capability.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    auto missing = missingKernelFeatures();
    if (missing.ok()) ::_exit(3);
    ::_exit(missing.error().find("Operation not permitted") != std::string::npos ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2 setresuid, 3 a verdict without privilege, 4 another error";
}

}  // namespace
}  // namespace egressd::bpf
