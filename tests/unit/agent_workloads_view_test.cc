// egressctl workloads' view (agent/api_routes.h workloadsJson()): each pod's
// state from what the agent applied, the TC column's reasons, and the pod
// cgroups no Pod names (the table egressctl prints from it: e2e kube_pods).
#include <gtest/gtest.h>

#include "agent/api_routes.h"

namespace egressd::agent {
namespace {

using nlohmann::json;

policy::Workload pod(const std::string& ns, const std::string& name, const std::string& uid, bool host_network = false) {
  policy::Workload w;
  w.meta = {name, ns, {{"app", name}}, ""};
  w.pod = policy::PodInfo{uid, "BestEffort", "deploy-" + name, host_network};
  return w;
}

json rowOf(const json& view, const std::string& key, const std::string& value) {
  for (const auto& row : view["workloads"])
    if (row[key].is_string() && row[key] == value) return row;
  return nullptr;
}

TEST(WorkloadsViewTest, EveryPodWithItsStateAndTheUnknownCgroups) {
  AppliedPolicy applied;
  applied.generation = 7;
  applied.snapshot.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  applied.snapshot.workloads = {pod("prod", "web", "uid-web"), pod("prod", "node-agent", "uid-host", true),
                                pod("prod", "pending", "uid-pending"), pod("kube-system", "dns", "uid-dns"),
                                pod("prod", "tcless", "uid-tcless")};
  compiler::CompileOptions options;
  options.exclude_namespaces = {"kube-system"};
  const std::map<std::string, uint64_t> resolved = {
      {"prod/web", 11}, {"prod/node-agent", 12}, {"kube-system/dns", 13}, {"prod/tcless", 14}};
  applied.compiled = compiler::compilePolicy(applied.snapshot, resolved, options, {});
  applied.workload_cgroups = applied.compiled.workload_cgroups;
  applied.cgroup_paths = {{"prod/web", "/cg/web"}, {"prod/node-agent", "/cg/host"}, {"kube-system/dns", "/cg/dns"},
                          {"prod/tcless", "/cg/tcless"}};
  applied.unresolved_workloads = {{"prod/pending", "waiting for its cgroup (looked at /cg/x)"}};

  WorkloadsView view;
  view.tc = {{"prod/web", "veth1", 5, "tcx", "", false, 11}, {"prod/tcless", "", 0, "", "no process in its cgroup yet", false, 0}};
  view.pod_cgroups = {{"/cg/web", "uid-web"}, {"/cg/stray", "uid-stray"}};
  const json out = workloadsJson(applied, view);
  ASSERT_EQ(out["workloads"].size(), 6u) << out.dump(2);

  const json web = rowOf(out, "workload", "prod/web");
  EXPECT_EQ(web["state"], "enforced");
  EXPECT_EQ(web["kind"], "Pod");
  EXPECT_EQ(web["uid"], "uid-web");
  EXPECT_EQ(web["cgroup"], "/cg/web");
  EXPECT_EQ(web["cgroup_id"], 11);
  EXPECT_EQ(web["scope"], "prod|");
  EXPECT_EQ(web["mode"], "REGISTRY_ONLY");
  EXPECT_EQ(web["audit"], false);
  EXPECT_EQ(web["source_workload"], "deploy-web");
  EXPECT_EQ(web["tc"]["interface"], "veth1");
  EXPECT_EQ(web["tc"]["mode"], "tcx");

  const json host = rowOf(out, "workload", "prod/node-agent");
  EXPECT_EQ(host["state"], "enforced");
  EXPECT_EQ(host["host_network"], true);
  EXPECT_EQ(host["tc"]["none"], "hostNetwork: no interface of its own (the cgroup hooks enforce it)");

  EXPECT_EQ(rowOf(out, "workload", "prod/tcless")["tc"]["pending"], "no process in its cgroup yet");

  const json pending = rowOf(out, "workload", "prod/pending");
  EXPECT_EQ(pending["state"], "waiting for its cgroup");
  EXPECT_TRUE(pending["cgroup"].is_null());
  EXPECT_TRUE(pending["mode"].is_null());

  const json dns = rowOf(out, "workload", "kube-system/dns");
  EXPECT_EQ(dns["state"], "excluded");
  EXPECT_EQ(dns["reason"], "namespace kube-system is excluded (--exclude-namespace)");
  EXPECT_EQ(dns["cgroup"], "/cg/dns");
  EXPECT_TRUE(dns["tc"].is_null());

  // The pod cgroup no Pod names; the one web's uid names is not repeated.
  const json stray = rowOf(out, "uid", "uid-stray");
  EXPECT_EQ(stray["state"], "unknown cgroup");
  EXPECT_TRUE(stray["workload"].is_null());
  EXPECT_EQ(stray["cgroup"], "/cg/stray");
  EXPECT_NE(stray["mode"].get<std::string>().find("--unknown-pods deny"), std::string::npos);
  view.unknown_pods = "allow";
  view.tc_off = true;
  const json allowed = workloadsJson(applied, view);
  EXPECT_EQ(rowOf(allowed, "uid", "uid-stray")["mode"], "untouched (--unknown-pods allow)");
  EXPECT_EQ(rowOf(allowed, "workload", "prod/web")["tc"]["none"], "--tc-mode off");
}

}  // namespace
}  // namespace egressd::agent
