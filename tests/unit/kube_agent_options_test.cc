// The agent's Kubernetes flags: which source a command line selects.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "agent/options.h"

namespace egressd::agent {
namespace {

struct Parsed {
  Result<AgentOptions> options;
  int exit_code;
};

// In a pod, the DaemonSet's downward API gives NODE_NAME, POD_NAMESPACE and POD_NAME.
Parsed parse(std::vector<std::string> args, bool in_a_pod = false) {
  ::unsetenv("NODE_NAME");
  ::unsetenv("POD_NAMESPACE");
  ::unsetenv("POD_NAME");
  if (in_a_pod) {
    ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    ::setenv("NODE_NAME", "node-1", 1);
    ::setenv("POD_NAMESPACE", "egressd-system", 1);
    ::setenv("POD_NAME", "egressd-x7k2p", 1);
  } else {
    ::unsetenv("KUBERNETES_SERVICE_HOST");
  }
  args.insert(args.begin(), "egressd");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  int exit_code = 0;
  auto options = parseAgentOptions(static_cast<int>(argv.size()), argv.data(), exit_code);
  for (const char* env : {"KUBERNETES_SERVICE_HOST", "NODE_NAME", "POD_NAMESPACE", "POD_NAME"}) ::unsetenv(env);
  return {std::move(options), exit_code};
}

TEST(KubeAgentOptionsTest, KubeconfigSelectsTheApiWithIstioDefaults) {
  auto parsed = parse({"--kubeconfig", "/etc/kube/config", "--node-name", "node-7"});
  ASSERT_TRUE(parsed.options) << parsed.options.error();
  EXPECT_EQ(parsed.options->kubeconfig, "/etc/kube/config");
  EXPECT_FALSE(parsed.options->in_cluster);
  EXPECT_EQ(parsed.options->istio_namespace, "istio-system");
  EXPECT_EQ(parsed.options->istio_revision, "");
  auto revision =
      parse({"--in-cluster", "--istio-namespace", "mesh", "--istio-revision", "canary", "--node-name", "node-7"});
  ASSERT_TRUE(revision.options) << revision.options.error();
  EXPECT_TRUE(revision.options->in_cluster);
  EXPECT_EQ(revision.options->istio_namespace, "mesh");
  EXPECT_EQ(revision.options->istio_revision, "canary");
}

TEST(KubeAgentOptionsTest, InAPodTheApiIsTheDefaultUnlessAPolicyDirIsGiven) {
  auto pod = parse({}, true);
  ASSERT_TRUE(pod.options) << pod.options.error();
  EXPECT_TRUE(pod.options->in_cluster);
  auto dir = parse({"--policy-dir", "/policy"}, true);
  ASSERT_TRUE(dir.options);
  EXPECT_FALSE(dir.options->in_cluster);
  auto both = parse({"--policy-dir", "/policy", "--in-cluster"}, true);
  ASSERT_TRUE(both.options);
  EXPECT_TRUE(both.options->in_cluster);  // asked for: the directory adds to the API
}

TEST(KubeAgentOptionsTest, PodsOfThisNodeAndWhatIsLeftAlone) {
  auto pod = parse({}, true);
  ASSERT_TRUE(pod.options) << pod.options.error();
  EXPECT_EQ(pod.options->node_name, "node-1");
  EXPECT_EQ(pod.options->own_pod, "egressd-system/egressd-x7k2p");
  EXPECT_EQ(pod.options->exclude_namespaces, std::vector<std::string>{"kube-system"});
  auto flags = parse({"--node-name", "node-2", "--exclude-namespace", "monitoring", "--exclude-namespace", "legacy"}, true);
  ASSERT_TRUE(flags.options) << flags.options.error();
  EXPECT_EQ(flags.options->node_name, "node-2");
  EXPECT_EQ(flags.options->exclude_namespaces, (std::vector<std::string>{"monitoring", "legacy"}))
      << "given, the list replaces the default";
  auto none = parse({"--exclude-namespace", ""}, true);
  ASSERT_TRUE(none.options) << none.options.error();
  EXPECT_TRUE(none.options->exclude_namespaces.empty()) << "an empty name excludes nothing";

  // With the API, no node name is a clear error; a policy directory alone needs none.
  auto nameless = parse({"--kubeconfig", "/etc/kube/config"});
  ASSERT_FALSE(nameless.options);
  EXPECT_EQ(nameless.exit_code, 2);
  EXPECT_NE(nameless.options.error().find("--node-name NAME, or NODE_NAME"), std::string::npos)
      << nameless.options.error();
  EXPECT_TRUE(parse({"--policy-dir", "/policy"}).options);
  EXPECT_EQ(parse({"--policy-dir", "/policy"}).options->own_pod, "");
}

TEST(KubeAgentOptionsTest, NoSourceOrTwoWaysToTheApiAreErrors) {
  auto none = parse({});
  ASSERT_FALSE(none.options);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.options.error().find("--kubeconfig FILE or --in-cluster"), std::string::npos);
  auto twice = parse({"--kubeconfig", "k", "--in-cluster"});
  ASSERT_FALSE(twice.options);
  EXPECT_NE(twice.options.error().find("use one"), std::string::npos);
}

// Kernel BPF run-time stats cost every BPF program on the node: opt-in.
TEST(KubeAgentOptionsTest, BpfRunStatsAreOffUnlessAsked) {
  auto plain = parse({"--policy-dir", "/policy"});
  ASSERT_TRUE(plain.options) << plain.options.error();
  EXPECT_FALSE(plain.options->bpf_run_stats);
  auto asked = parse({"--policy-dir", "/policy", "--bpf-run-stats"});
  ASSERT_TRUE(asked.options) << asked.options.error();
  EXPECT_TRUE(asked.options->bpf_run_stats);
}

}  // namespace
}  // namespace egressd::agent
