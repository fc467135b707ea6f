// The start check's probes on the running kernel: every kernel the tests run
// on (the host's, and Debian 12's 6.1 in scripts/test-kernel.sh) has every
// feature, so a probe that reports one missing is a broken probe.
#include "bpf/kernel_features.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace egressd::bpf
