// A Pod of this node as a policy Workload: the workload name Istio's
// telemetry gives it (owner references), what it carries to the compiler
// (labels, uid, QoS class, hostNetwork), which phases leave the list, and
// which pods are left alone (compiler::podExclusion()).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "kube/pod_workload.h"

namespace egressd::kube {
namespace {

using json = nlohmann::json;

json owner(const std::string& kind, const std::string& name, bool controller = true) {
  return {{"apiVersion", kind == "ReplicaSet" || kind == "StatefulSet" || kind == "DaemonSet" ? "apps/v1" : "batch/v1"},
          {"kind", kind},
          {"name", name},
          {"uid", "owner-uid"},
          {"controller", controller}};
}

json pod(const std::string& name, json owners = json::array(), json labels = json::object(),
         const std::string& generate_name = "") {
  json metadata{{"name", name}, {"namespace", "prod"}, {"uid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
                {"labels", labels}};
  if (!owners.empty()) metadata["ownerReferences"] = owners;
  if (!generate_name.empty()) metadata["generateName"] = generate_name;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", metadata},
          {"spec", {{"nodeName", "node-1"}, {"containers", {{{"name", "app"}, {"image", "app"}}}}}},
          {"status", {{"phase", "Running"}, {"qosClass", "Burstable"}}}};
}

struct NameCase {
  const char* description;
  json pod;
  std::string expected;
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.description; }

const NameCase kNames[] = {
    {"Deployment through its ReplicaSet (pod-template-hash trimmed)",
     pod("web-7d4b9c8f6-x2x9z", {owner("ReplicaSet", "web-7d4b9c8f6")}, {{"pod-template-hash", "7d4b9c8f6"}},
         "web-7d4b9c8f6-"),
     "web"},
    {"ReplicaSet without pod-template-hash: the ReplicaSet",
     pod("rs-abcde", {owner("ReplicaSet", "rs")}, json::object(), "rs-"), "rs"},
    {"ReplicaSet whose name lacks the hash: the ReplicaSet",
     pod("rs-abcde", {owner("ReplicaSet", "rs")}, {{"pod-template-hash", "7d4b9c8f6"}}, "rs-"), "rs"},
    {"StatefulSet", pod("db-0", {owner("StatefulSet", "db")}, {{"apps.kubernetes.io/pod-index", "0"}}, "db-"), "db"},
    {"DaemonSet", pod("agent-q8k2m", {owner("DaemonSet", "agent")}, json::object(), "agent-"), "agent"},
    {"Job", pod("migrate-5xk2p", {owner("Job", "migrate")}, json::object(), "migrate-"), "migrate"},
    {"Job of a CronJob (name-<minutes>): the CronJob",
     pod("backup-28901520-abcde", {owner("Job", "backup-28901520")}, json::object(), "backup-28901520-"), "backup"},
    {"Job with a short number suffix: the Job",
     pod("batch-42-abcde", {owner("Job", "batch-42")}, json::object(), "batch-42-"), "batch-42"},
    {"another controller kind: its name", pod("x-abcde", {owner("Workflow", "wf")}, json::object(), "x-"), "wf"},
    {"an owner that is not the controller: the pod",
     pod("lone-abcde", {owner("ReplicaSet", "lone", false)}, json::object(), "lone-"), "lone-abcde"},
    {"a name not generated: the pod, whatever owns it",
     pod("static-web-node-1", {owner("ReplicaSet", "web-7d4b9c8f6")}, {{"pod-template-hash", "7d4b9c8f6"}}),
     "static-web-node-1"},
    {"no owner: the pod", pod("debug"), "debug"},
};

class IstioWorkloadNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(IstioWorkloadNameTest, FollowsIstio) {
  EXPECT_EQ(istioWorkloadName(GetParam().pod), GetParam().expected);
  auto workload = podWorkload(GetParam().pod);
  ASSERT_TRUE(workload) << workload.error();
  ASSERT_TRUE(workload->has_value());
  EXPECT_EQ(policy::telemetryName(**workload), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Owners, IstioWorkloadNameTest, ::testing::ValuesIn(kNames));

TEST(PodWorkloadTest, CarriesWhatTheCompilerAndTheCgroupLookupNeed) {
  json p = pod("web-1", json::array(), {{"app", "web"}, {"version", "v1"}});
  p["spec"]["hostNetwork"] = true;
  auto workload = podWorkload(p);
  ASSERT_TRUE(workload) << workload.error();
  ASSERT_TRUE(workload->has_value());
  const policy::Workload& w = **workload;
  EXPECT_EQ(w.meta.namespace_, "prod");
  EXPECT_EQ(w.meta.name, "web-1");
  EXPECT_EQ(w.meta.labels, (std::map<std::string, std::string>{{"app", "web"}, {"version", "v1"}}));
  EXPECT_TRUE(w.cgroup.empty()) << "a pod's cgroup is found from its uid, not named";
  ASSERT_TRUE(w.pod);
  EXPECT_EQ(w.pod->uid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
  EXPECT_EQ(w.pod->qos_class, "Burstable");
  EXPECT_TRUE(w.pod->host_network);

  p["spec"].erase("hostNetwork");
  p["status"].erase("qosClass");
  auto plain = podWorkload(p);
  ASSERT_TRUE(plain && plain->has_value());
  EXPECT_FALSE((*plain)->pod->host_network);
  EXPECT_EQ((*plain)->pod->qos_class, "") << "not set yet: every QoS layout is looked at";
}

TEST(PodWorkloadTest, PhasesThatRunNoMoreLeaveTheList) {
  const std::pair<const char*, bool> phases[] = {
      {"Pending", true}, {"Running", true}, {"Unknown", true}, {"Succeeded", false}, {"Failed", false}};
  for (const auto& [phase, listed] : phases) {
    json p = pod("web-1");
    p["status"]["phase"] = phase;
    auto workload = podWorkload(p);
    ASSERT_TRUE(workload) << phase << ": " << workload.error();
    EXPECT_EQ(workload->has_value(), listed) << phase;
  }
  json terminating = pod("web-1");
  terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  auto still = podWorkload(terminating);
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->has_value()) << "a terminating pod still runs: enforced until it is gone";
}

TEST(PodWorkloadTest, NotAPodOrWithoutIdentityIsAnError) {
  EXPECT_FALSE(podWorkload(json::array()));
  json service = pod("web-1");
  service["kind"] = "Service";
  EXPECT_FALSE(podWorkload(service));
  json no_uid = pod("web-1");
  no_uid["metadata"].erase("uid");
  auto missing = podWorkload(no_uid);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("prod/web-1 has no metadata.uid"), std::string::npos) << missing.error();
}

// Exclusion lives with the compiler's other per-workload decisions (audit):
// these rows run it on converted pods.
struct ExclusionCase {
  const char* description;
  std::string namespace_;
  std::string name;
  std::map<std::string, std::string> namespace_labels;  // of the pod's Namespace
  std::optional<std::string> why;                       // none: enforced
  bool local = false;                                   // a local Workload, not a pod
};

void PrintTo(const ExclusionCase& c, std::ostream* os) { *os << c.description; }

const ExclusionCase kExclusions[] = {
    {"a pod of an ordinary namespace is enforced", "prod", "web-1", {}, std::nullopt},
    {"kube-system (the default --exclude-namespace)", "kube-system", "coredns-1", {},
     "namespace kube-system is excluded (--exclude-namespace)"},
    {"another --exclude-namespace", "monitoring", "prom-0", {},
     "namespace monitoring is excluded (--exclude-namespace)"},
    {"Namespace labelled egressd.io/enforce: \"false\"", "legacy", "app-1", {{"egressd.io/enforce", "false"}},
     "Namespace legacy label egressd.io/enforce: \"false\""},
    {"egressd.io/enforce: \"true\" enforces", "prod", "web-1", {{"egressd.io/enforce", "true"}}, std::nullopt},
    {"a value other than \"false\" enforces (never fail open)", "prod", "web-1", {{"egressd.io/enforce", "no"}},
     std::nullopt},
    {"the agent's own pod", "egressd-system", "egressd-abcde", {}, "the agent's own pod"},
    {"another pod of the agent's namespace is enforced", "egressd-system", "debug", {}, std::nullopt},
    {"a local Workload is never excluded", "kube-system", "web", {}, std::nullopt, true},
};

class PodExclusionTest : public ::testing::TestWithParam<ExclusionCase> {};

TEST_P(PodExclusionTest, LeftAloneOrEnforced) {
  const ExclusionCase& c = GetParam();
  json p = pod(c.name);
  p["metadata"]["namespace"] = c.namespace_;
  auto converted = podWorkload(p);
  ASSERT_TRUE(converted && converted->has_value());
  policy::Workload workload = **converted;
  if (c.local) {
    workload.pod.reset();
    workload.cgroup = "kube-system/web";
  }
  policy::PolicySnapshot snapshot;
  policy::Namespace ns;
  ns.meta.name = c.namespace_;
  ns.meta.labels = c.namespace_labels;
  snapshot.namespaces.push_back(ns);
  snapshot.workloads.push_back(workload);
  compiler::CompileOptions options;
  options.exclude_namespaces = {"kube-system", "monitoring"};
  options.own_pod = "egressd-system/egressd-abcde";
  EXPECT_EQ(compiler::podExclusion(snapshot, workload, options), c.why);

  // The compiler writes no workload entry for an excluded pod and says why.
  const std::string id = c.namespace_ + "/" + c.name;
  auto out = compiler::compilePolicy(snapshot, {{id, 4242}}, options, {});
  EXPECT_EQ(out.workload_cgroups.count(id), c.why ? 0u : 1u);
  EXPECT_EQ(out.desired.workloads.count(egressd_workload_key{4242}), c.why ? 0u : 1u);
  if (c.why) {
    EXPECT_EQ(out.excluded_pods.at(id), *c.why);
  }
  EXPECT_TRUE(out.errors.empty()) << out.errors.front();
}

INSTANTIATE_TEST_SUITE_P(Rows, PodExclusionTest, ::testing::ValuesIn(kExclusions));

TEST(PodExclusionTest, APodWaitingForItsCgroupIsNoCompileError) {
  auto converted = podWorkload(pod("web-1"));
  ASSERT_TRUE(converted && converted->has_value());
  policy::PolicySnapshot snapshot;
  snapshot.workloads.push_back(**converted);
  policy::Workload local;
  local.meta = {"svc", "prod", {}, ""};
  local.cgroup = "prod/svc";
  snapshot.workloads.push_back(local);
  auto out = compiler::compilePolicy(snapshot, {}, {}, {});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0], "Workload prod/svc: no cgroup id known, not enforced");
}

}  // namespace
}  // namespace egressd::kube
