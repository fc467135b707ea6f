// Start-up checks: every flag and path is checked before the kernel is
// touched, and each problem names its flag and what was expected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/option_checks.h"

namespace egressd::testing {
namespace {

using agent::AgentOptions;
using agent::checkAgentOptions;
using agent::parseDnsServerFlag;
using ::testing::HasSubstr;

class OptionChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("egressd-option-checks-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "policy");
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  AgentOptions valid() const {
    AgentOptions options;
    options.policy_dir = (dir_ / "policy").string();
    return options;
  }
  std::string problems(const AgentOptions& options) const {
    auto checked = checkAgentOptions(options);
    return checked ? std::string() : checked.error();
  }

  std::filesystem::path dir_;
};

TEST_F(OptionChecksTest, DefaultsWithAReadablePolicyDirPass) { EXPECT_EQ(problems(valid()), ""); }

TEST_F(OptionChecksTest, PolicyDirMustExistAndBeADirectory) {
  auto options = valid();
  options.policy_dir = (dir_ / "does-not-exist").string();
  EXPECT_THAT(problems(options), HasSubstr("--policy-dir " + options.policy_dir + ": No such file or directory"));
  options.policy_dir = (dir_ / "kubeconfig").string();
  EXPECT_THAT(problems(options), HasSubstr("--policy-dir " + options.policy_dir + ": not a directory"));
}

TEST_F(OptionChecksTest, KubeconfigMustBeAReadableFile) {
  auto options = valid();
  options.kubeconfig = (dir_ / "kubeconfig").string();
  EXPECT_EQ(problems(options), "");
  options.kubeconfig = (dir_ / "policy").string();
  EXPECT_THAT(problems(options), HasSubstr("a directory, expected a file"));
  options.kubeconfig = (dir_ / "missing").string();
  EXPECT_THAT(problems(options), HasSubstr("--kubeconfig " + options.kubeconfig));
}

TEST_F(OptionChecksTest, CgroupRootMustBeOnCgroup2) {
  auto options = valid();
  options.cgroup_root = (dir_ / "policy").string();  // a tmpfs or disk directory
  EXPECT_THAT(problems(options), HasSubstr("not on a cgroup v2 filesystem"));
}

TEST_F(OptionChecksTest, AdminAddrIsHostColonPort) {
  for (const char* good : {"127.0.0.1:9477", "[::1]:9477", "localhost:80", "0.0.0.0:65535"}) {
    auto options = valid();
    options.admin_addr = good;
    EXPECT_EQ(problems(options), "") << good;
  }
  for (const char* bad : {"nonsense", ":9477", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "[::1:9477",
                          "127.0.0.1:94x7", "a b:80"}) {
    auto options = valid();
    options.admin_addr = bad;
    EXPECT_THAT(problems(options), HasSubstr(std::string("--admin-addr ") + bad + ": expected HOST:PORT")) << bad;
  }
}

TEST_F(OptionChecksTest, DnsServersParseOrNameTheFlag) {
  auto v4 = parseDnsServerFlag("10.96.0.10");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->ip, "10.96.0.10");
  EXPECT_EQ(v4->port, 53);
  auto port = parseDnsServerFlag("10.96.0.10:5353");
  ASSERT_TRUE(port);
  EXPECT_EQ(port->port, 5353);
  auto v6 = parseDnsServerFlag("[fd00::10]:54");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ip, "fd00::10");
  EXPECT_EQ(v6->port, 54);
  auto bare6 = parseDnsServerFlag("fd00::10");
  ASSERT_TRUE(bare6);
  EXPECT_EQ(bare6->port, 53);
  for (const char* bad : {"dns.local", "10.96.0.10:", "10.96.0.10:0", "10.96.0.10:x", "[fd00::10]x", "[fd00::10",
                          "300.1.1.1", ""}) {
    auto parsed = parseDnsServerFlag(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_THAT(parsed.error(), HasSubstr(std::string("--dns-server ") + bad + ": expected IP"));
    }
  }
}

TEST_F(OptionChecksTest, EveryProblemIsReportedAtOnce) {
  auto options = valid();
  options.policy_dir = (dir_ / "nope").string();
  options.admin_addr = "nonsense";
  options.dns_servers = {"10.0.0.1", "resolver"};
  options.cluster_cidrs = {"10.0.0.0/8", "10.0.0.0/33"};
  options.bpffs = "relative/bpf";
  options.access_log = (dir_ / "no-such-dir" / "access.log").string();
  const std::string text = problems(options);
  EXPECT_THAT(text, HasSubstr("--policy-dir"));
  EXPECT_THAT(text, HasSubstr("--admin-addr nonsense"));
  EXPECT_THAT(text, HasSubstr("--dns-server resolver"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("--dns-server 10.0.0.1")));
  EXPECT_THAT(text, HasSubstr("--cluster-cidr 10.0.0.0/33"));
  EXPECT_THAT(text, HasSubstr("--bpffs relative/bpf: expected an absolute path"));
  EXPECT_THAT(text, HasSubstr("--access-log (its directory)"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
}

}  // namespace
}  // namespace egressd::testing
