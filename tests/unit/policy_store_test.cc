// PolicyStore: fresh input replaces the state, but invalid or unreadable
// input never removes a policy that was working.
#include <gtest/gtest.h>

#include "policy/parser.h"
#include "policy/policy_store.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::objectYaml;

std::string se(const std::string& name, const std::string& host) {
  return objectYaml("networking.istio.io/v1", "ServiceEntry",
                    "{hosts: [" + host + "], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}", name);
}

std::string sidecar(const std::string& name, const std::string& selector = "") {
  const std::string sel = selector.empty() ? "" : "workloadSelector: {labels: {app: " + selector + "}}, ";
  return objectYaml("networking.istio.io/v1", "Sidecar", "{" + sel + "egress: [{hosts: ['./*']}]}", name);
}

// Parses several (file, text) pairs as loadPolicyDir would merge them.
ParsedDocuments files(std::initializer_list<std::pair<std::string, std::string>> list) {
  ParsedDocuments all;
  for (const auto& [file, text] : list) mergeDocuments(all, parseYaml(text, file));
  return all;
}

const ServiceEntry* find(const PolicySnapshot& s, const std::string& name) {
  for (const ServiceEntry& e : s.service_entries) {
    if (e.meta.name == name) return &e;
  }
  return nullptr;
}

TEST(PolicyStore, AppliesFreshObjects) {
  PolicyStore store;
  const auto report = store.apply(files({{"a.yaml", se("api", "api.example.com") + "---\n" + sidecar("default")}}));
  EXPECT_EQ(report.objects, 2u);
  EXPECT_TRUE(report.rejected.empty());
  EXPECT_EQ(store.snapshot().service_entries.size(), 1u);
  EXPECT_EQ(store.snapshot().sidecars.size(), 1u);
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, OutboundMode::kAllowAny);
}

TEST(PolicyStore, KeepsPreviousValidVersionWhenObjectBecomesInvalid) {
  PolicyStore store;
  store.apply(files({{"a.yaml", se("api", "api.example.com") + "---\n" + se("other", "other.example.com")}}));
  const auto report = store.apply(files({{"a.yaml", se("api", "'*'") + "---\n" + se("other", "other2.example.com")}}));
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].reason.find("stays in force"), std::string::npos) << report.rejected[0].reason;
  const ServiceEntry* api = find(store.snapshot(), "api");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->hosts[0], "api.example.com");
  const ServiceEntry* other = find(store.snapshot(), "other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->hosts[0], "other2.example.com");  // valid update applied
  EXPECT_EQ(report.objects, 2u);
}

TEST(PolicyStore, InvalidObjectNeverValidBeforeStaysOut) {
  PolicyStore store;
  const auto report = store.apply(files({{"a.yaml", se("api", "'*'")}}));
  EXPECT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.rejected[0].reason.find("stays in force"), std::string::npos);
  EXPECT_TRUE(store.snapshot().service_entries.empty());
}

TEST(PolicyStore, DropsObjectsThatDisappeared) {
  PolicyStore store;
  store.apply(files({{"a.yaml", se("api", "api.example.com") + "---\n" + se("gone", "gone.example.com")}}));
  const auto report = store.apply(files({{"a.yaml", se("api", "api.example.com")}}));
  EXPECT_EQ(report.objects, 1u);
  EXPECT_EQ(find(store.snapshot(), "gone"), nullptr);
}

TEST(PolicyStore, UnreadableFileKeepsItsObjects) {
  PolicyStore store;
  store.apply(files({{"a.yaml", se("a", "a.example.com")}, {"b.yaml", se("b", "b.example.com")}}));
  const auto report = store.apply(files({{"a.yaml", "kind: [broken"}, {"b.yaml", se("b", "b2.example.com")}}));
  EXPECT_EQ(report.objects, 2u);
  ASSERT_NE(find(store.snapshot(), "a"), nullptr);
  EXPECT_EQ(find(store.snapshot(), "a")->hosts[0], "a.example.com");
  EXPECT_EQ(find(store.snapshot(), "b")->hosts[0], "b2.example.com");
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings[0].source.file, "a.yaml");

  // Once the file is fixed, its content replaces the kept versions.
  store.apply(files({{"a.yaml", ""}, {"b.yaml", se("b", "b2.example.com")}}));
  EXPECT_EQ(find(store.snapshot(), "a"), nullptr);
}

TEST(PolicyStore, ObjectMovedOutOfUnreadableFileTakesTheFreshVersion) {
  PolicyStore store;
  store.apply(files({{"a.yaml", se("a", "a.example.com")}}));
  store.apply(files({{"a.yaml", "kind: [broken"}, {"b.yaml", se("a", "moved.example.com")}}));
  ASSERT_EQ(store.snapshot().service_entries.size(), 1u);
  EXPECT_EQ(store.snapshot().service_entries[0].hosts[0], "moved.example.com");
}

TEST(PolicyStore, UnreadableDirectoryKeepsEverythingUnderIt) {
  PolicyStore store;
  store.apply(files({{"/etc/egressd/a.yaml", se("a", "a.example.com")}}));
  ParsedDocuments none;
  none.unreadable_files.push_back("/etc/egressd");
  EXPECT_EQ(store.apply(none).objects, 1u);
}

TEST(PolicyStore, DuplicateObjectInTwoFilesRejectsTheLaterOne) {
  PolicyStore store;
  const auto report = store.apply(files({{"a.yaml", se("api", "a.example.com")}, {"b.yaml", se("api", "b.example.com")}}));
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.rejected[0].source.file, "b.yaml");
  EXPECT_NE(report.rejected[0].reason.find("already defined at a.yaml:1"), std::string::npos);
  ASSERT_EQ(store.snapshot().service_entries.size(), 1u);
  EXPECT_EQ(store.snapshot().service_entries[0].hosts[0], "a.example.com");
}

TEST(PolicyStore, OneSelectorlessSidecarPerNamespaceByNameOrder) {
  for (bool reversed : {false, true}) {
    PolicyStore store;
    const std::string first = sidecar("alpha"), second = sidecar("beta");
    const std::string text = reversed ? second + "---\n" + first : first + "---\n" + second;
    const auto report = store.apply(files({{"s.yaml", text + "---\n" + sidecar("web", "web")}}));
    ASSERT_EQ(report.rejected.size(), 1u);
    EXPECT_EQ(report.rejected[0].name, "beta");
    EXPECT_NE(report.rejected[0].reason.find("already has a Sidecar without workloadSelector (\"alpha\")"),
              std::string::npos);
    ASSERT_EQ(store.snapshot().sidecars.size(), 2u);
    EXPECT_EQ(store.snapshot().sidecars[0].meta.name, "alpha");
    EXPECT_EQ(store.snapshot().sidecars[1].meta.name, "web");
  }
}

TEST(PolicyStore, SnapshotIsSortedByNamespaceAndName) {
  PolicyStore store;
  store.apply(files({{"a.yaml", se("zeta", "z.example.com") + "---\n" + se("alpha", "a.example.com")}}));
  ASSERT_EQ(store.snapshot().service_entries.size(), 2u);
  EXPECT_EQ(store.snapshot().service_entries[0].meta.name, "alpha");
}

const char* kRegistryOnly =
    "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: cp}\n"
    "spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}\n";
const char* kBadMode =
    "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: cp}\n"
    "spec: {meshConfig: {outboundTrafficPolicy: {mode: NOPE}}}\n";

TEST(PolicyStore, MeshConfigKeptWhenRejectedOrUnreadableAndResetWhenRemoved) {
  PolicyStore store;
  store.apply(files({{"mesh.yaml", kRegistryOnly}}));
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, OutboundMode::kRegistryOnly);

  store.apply(files({{"mesh.yaml", kBadMode}}));
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, OutboundMode::kRegistryOnly);

  store.apply(files({{"mesh.yaml", "spec: [broken"}}));
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, OutboundMode::kRegistryOnly);

  store.apply(files({}));
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, OutboundMode::kAllowAny);
}

TEST(PolicyStore, WorkloadsFollowTheSameRules) {
  PolicyStore store;
  const std::string good =
      "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web, namespace: production}\nspec: {cgroup: /a}\n";
  const std::string bad =
      "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web, namespace: production}\nspec: {cgroup: ''}\n";
  store.apply(files({{"w.yaml", good}}));
  const auto report = store.apply(files({{"w.yaml", bad}}));
  EXPECT_EQ(report.rejected.size(), 1u);
  ASSERT_EQ(store.snapshot().workloads.size(), 1u);
  EXPECT_EQ(store.snapshot().workloads[0].cgroup, "/a");
}

}  // namespace
}  // namespace egressd::policy
