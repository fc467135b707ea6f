// The start check's verdict and its table (the probes run in
// tests/kernel/kernel_features_test.cc).
#include "bpf/kernel_features.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

namespace egressd::bpf {
namespace {

TEST(KernelSupport, NothingMissingIsSupported) { EXPECT_TRUE(kernelSupport("6.1.0-57-amd64", {}).ok()); }

TEST(KernelSupport, NamesEveryMissingFeatureAndTheReleaseThatBringsThem) {
  const auto st = kernelSupport("5.4.0-150-generic", {{"BPF ring buffer", "5.8"},
                                                     {"bpf_ktime_get_coarse_ns (flow stats)", "5.11"},
                                                     {"cgroup/sock_release", "5.9"}});
  ASSERT_FALSE(st.ok());
  const std::string& msg = st.error();
  EXPECT_NE(msg.find("kernel 5.4.0-150-generic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("BPF ring buffer (5.8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bpf_ktime_get_coarse_ns (flow stats) (5.11)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cgroup/sock_release (5.9)"), std::string::npos) << msg;
  // 5.11 > 5.9 > 5.8: compared as numbers, not strings.
  EXPECT_NE(msg.find("come with Linux 5.11"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tested on is 6.1"), std::string::npos) << msg;
}

TEST(KernelSupport, OlderThanTestedReadsMajorAndMinor) {
  EXPECT_TRUE(olderThanTested("5.15.0-91-generic"));
  EXPECT_TRUE(olderThanTested("6.0.9"));
  EXPECT_FALSE(olderThanTested("6.1.0-57-amd64"));
  EXPECT_FALSE(olderThanTested("6.18.44-fc"));
  EXPECT_FALSE(olderThanTested("10.0.0"));
  EXPECT_FALSE(olderThanTested("not-a-release"));
}

// docs/KERNELS.md states the feature minimum: the newest release in the table.
TEST(KernelSupport, TableNamesEachFeatureOnceAndNeedsLinux511) {
  std::set<std::string> names;
  int newest_major = 0, newest_minor = 0;
  for (const auto& f : requiredKernelFeatures()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    int major = 0, minor = 0;
    ASSERT_EQ(std::sscanf(f.since.c_str(), "%d.%d", &major, &minor), 2) << f.name;
    if (major > newest_major || (major == newest_major && minor > newest_minor)) {
      newest_major = major;
      newest_minor = minor;
    }
  }
  EXPECT_EQ(newest_major, 5);
  EXPECT_EQ(newest_minor, 11);
}

}  // namespace
}  // namespace egressd::bpf
