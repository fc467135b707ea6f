// Which ServiceEntries a workload sees: exportTo (and the mesh default),
// Sidecar selection, Sidecar egress host import, and the outbound mode.
#include <gtest/gtest.h>

#include <set>

#include "compiler_test_util.h"

namespace egressd::compiler::testing {
namespace {

using policy::OutboundMode;

struct ExportCase {
  const char* name;
  std::vector<std::string> export_to;
  std::vector<std::string> mesh_default;
  std::string workload_namespace;
  bool visible;
};

class CompilerExportTo : public ::testing::TestWithParam<ExportCase> {};

TEST_P(CompilerExportTo, DecidesVisibility) {
  const auto& c = GetParam();
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.mesh.default_service_export_to = c.mesh_default;
  snap.service_entries.push_back(
      serviceEntry("ext", "api", {"api.example.com"}, {"192.0.2.10"}, {port(443)}, c.export_to));
  snap.workloads.push_back(workload(c.workload_namespace, "app"));
  auto out = compileAll(snap);
  EXPECT_TRUE(out.errors.empty());
  const std::string who = c.workload_namespace + "/app";
  expectProbes(out, {{who, "192.0.2.10", 443, kTcp, c.visible ? kAllowed : kDenied,
                      c.visible ? kMatch : kNotInRegistry, "ext/api"}});
  const auto* scope = scopeOf(out, who);
  ASSERT_NE(scope, nullptr);
  EXPECT_EQ(scope->visible_services.size(), c.visible ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerExportTo,
    ::testing::Values(ExportCase{"EmptyIsStar", {}, {}, "production", true},
                      ExportCase{"MeshDefaultDotOtherNs", {}, {"."}, "production", false},
                      ExportCase{"MeshDefaultDotOwnNs", {}, {"."}, "ext", true},
                      ExportCase{"MeshDefaultTilde", {}, {"~"}, "ext", false},
                      ExportCase{"MeshDefaultNamed", {}, {"production"}, "production", true},
                      ExportCase{"MeshDefaultNamedOther", {}, {"production"}, "staging", false},
                      ExportCase{"ExplicitStarBeatsMeshDefault", {"*"}, {"."}, "production", true},
                      ExportCase{"DotOtherNs", {"."}, {}, "production", false},
                      ExportCase{"DotOwnNs", {"."}, {}, "ext", true},
                      ExportCase{"TildeOwnNs", {"~"}, {}, "ext", false},
                      ExportCase{"NamedNs", {"production"}, {}, "production", true},
                      ExportCase{"NamedExcludesOwn", {"production"}, {}, "ext", false},
                      ExportCase{"NamedPlusDot", {"production", "."}, {}, "ext", true},
                      ExportCase{"NamedOwnNs", {"ext"}, {}, "ext", true}),
    [](const auto& info) { return std::string(info.param.name); });

struct ImportCase {
  const char* name;
  std::vector<std::string> sidecar_hosts;  // empty: Sidecar without egress
  std::string se_namespace;
  std::vector<std::string> se_hosts;
  bool visible;
};

class CompilerSidecarImport : public ::testing::TestWithParam<ImportCase> {};

TEST_P(CompilerSidecarImport, ImportsMatchingHosts) {
  const auto& c = GetParam();
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry(c.se_namespace, "se", c.se_hosts, {"192.0.2.10"}, {port(443)}));
  snap.sidecars.push_back(sidecar("production", "default", std::nullopt, c.sidecar_hosts));
  snap.workloads.push_back(workload("production", "app"));
  auto out = compileAll(snap);
  expectProbes(out, {{"production/app", "192.0.2.10", 443, kTcp, c.visible ? kAllowed : kDenied,
                      c.visible ? kMatch : kNotInRegistry, c.se_namespace + "/se"}});
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerSidecarImport,
    ::testing::Values(
        ImportCase{"NoEgressImportsAll", {}, "ext", {"api.example.com"}, true},
        ImportCase{"StarStar", {"*/*"}, "ext", {"api.example.com"}, true},
        ImportCase{"DotIsWorkloadNsOther", {"./*"}, "ext", {"api.example.com"}, false},
        ImportCase{"DotIsWorkloadNsOwn", {"./*"}, "production", {"api.example.com"}, true},
        ImportCase{"NamedNs", {"ext/*"}, "ext", {"api.example.com"}, true},
        ImportCase{"OtherNamedNs", {"other/*"}, "ext", {"api.example.com"}, false},
        ImportCase{"TildeImportsNothing", {"~/*"}, "ext", {"api.example.com"}, false},
        ImportCase{"ExactHost", {"*/api.example.com"}, "ext", {"api.example.com"}, true},
        ImportCase{"ExactHostMismatch", {"*/other.example.com"}, "ext", {"api.example.com"}, false},
        ImportCase{"WildcardDeeper", {"*/*.example.com"}, "ext", {"a.b.example.com"}, true},
        ImportCase{"WildcardNotApex", {"*/*.example.com"}, "ext", {"example.com"}, false},
        ImportCase{"SpecificImportOfWildcardEntry", {"*/api.example.com"}, "ext", {"*.example.com"}, true},
        ImportCase{"WildcardOfWildcard", {"*/*.example.com"}, "ext", {"*.api.example.com"}, true},
        ImportCase{"AnyHostOfEntry", {"ext/api.example.com"}, "ext", {"x.org", "api.example.com"}, true},
        ImportCase{"NsAndHostBothNeeded", {"other/api.example.com"}, "ext", {"api.example.com"}, false},
        ImportCase{"SeveralHosts", {"./*", "ext/api.example.com"}, "ext", {"api.example.com"}, true},
        // Istio 1.31 exclusions: "~ns/host", "~ns/*", "~/host" (every namespace).
        ImportCase{"ExcludedNamespace", {"*/*", "~ext/*"}, "ext", {"api.example.com"}, false},
        ImportCase{"ExcludedOtherNamespace", {"*/*", "~other/*"}, "ext", {"api.example.com"}, true},
        ImportCase{"ExcludedHostEveryNamespace", {"*/*", "~/api.example.com"}, "ext", {"api.example.com"}, false},
        ImportCase{"ExcludedHostOtherName", {"*/*", "~/other.example.com"}, "ext", {"api.example.com"}, true},
        ImportCase{"ExcludedWildcardCoversHost", {"*/*", "~/*.example.com"}, "ext", {"api.example.com"}, false},
        ImportCase{"ExclusionBeatsExactImport", {"ext/api.example.com", "~ext/api.example.com"}, "ext",
                   {"api.example.com"}, false},
        ImportCase{"ExcludedDotIsWorkloadNs", {"*/*", "~./*"}, "production", {"api.example.com"}, false},
        ImportCase{"OneHostExcludedOtherImported", {"*/*", "~/api.example.com"}, "ext",
                   {"api.example.com", "x.example.org"}, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CompilerSidecarImport, ListenerPortLimitsImportedPorts) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry("ext", "se", {"api.example.com"}, {"192.0.2.10"}, {port(443), port(8443)}));
  auto sc = sidecar("production", "default");
  sc.egress.push_back(egress({"*/*"}, 8443));
  snap.sidecars.push_back(sc);
  snap.workloads.push_back(workload("production", "app"));
  expectProbes(compileAll(snap), {
                                     {"production/app", "192.0.2.10", 8443, kTcp, kAllowed, kMatch, "ext/se"},
                                     {"production/app", "192.0.2.10", 443, kTcp, kDenied, kNotInRegistry},
                                 });
}

TEST(CompilerSidecarImport, WorkloadSelectorOnServiceEntryDoesNotLimitVisibility) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  auto se = serviceEntry("ext", "se", {"api.example.com"}, {"192.0.2.10"}, {port(443)});
  se.workload_selector = Labels{{"app", "backend"}};
  snap.service_entries.push_back(se);
  snap.workloads.push_back(workload("production", "web", {{"app", "web"}}));
  expectProbes(compileAll(snap), {{"production/web", "192.0.2.10", 443, kTcp, kAllowed, kMatch, "ext/se"}});
}

struct SelectionCase {
  const char* name;
  std::vector<policy::Sidecar> sidecars;
  Labels workload_labels;
  std::string expected_key;
  bool expect_warning = false;
};

class CompilerSidecarSelection : public ::testing::TestWithParam<SelectionCase> {};

TEST_P(CompilerSidecarSelection, PicksLikeIstio) {
  const auto& c = GetParam();
  policy::PolicySnapshot snap;
  snap.sidecars = c.sidecars;
  snap.workloads.push_back(workload("production", "web", c.workload_labels));
  auto out = compileAll(snap);
  const auto* scope = scopeOf(out, "production/web");
  ASSERT_NE(scope, nullptr);
  EXPECT_EQ(scope->key, c.expected_key);
  EXPECT_EQ(!out.warnings.empty(), c.expect_warning);
}

const Labels kWeb{{"app", "web"}, {"tier", "front"}};

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerSidecarSelection,
    ::testing::Values(
        SelectionCase{"None", {}, kWeb, "production|"},
        SelectionCase{"NamespaceDefault", {sidecar("production", "default")}, kWeb,
                      "production|production/default"},
        SelectionCase{"RootDefault", {sidecar("istio-system", "default")}, kWeb,
                      "production|istio-system/default"},
        SelectionCase{"RootWithSelectorIgnored", {sidecar("istio-system", "sel", Labels{{"app", "web"}})}, kWeb,
                      "production|"},
        SelectionCase{"OtherNamespaceIgnored", {sidecar("staging", "default")}, kWeb, "production|"},
        SelectionCase{"SelectorBeatsDefault",
                      {sidecar("production", "default"), sidecar("production", "web", Labels{{"app", "web"}})},
                      kWeb, "production|production/web"},
        SelectionCase{"SelectorNeedsAllLabels",
                      {sidecar("production", "default"),
                       sidecar("production", "web", Labels{{"app", "web"}, {"tier", "back"}})},
                      kWeb, "production|production/default"},
        SelectionCase{"NamespaceBeatsRoot", {sidecar("istio-system", "default"), sidecar("production", "ns")},
                      kWeb, "production|production/ns"},
        SelectionCase{"SelectorBeatsRoot",
                      {sidecar("istio-system", "default"), sidecar("production", "web", Labels{{"tier", "front"}})},
                      kWeb, "production|production/web"},
        SelectionCase{"EmptySelectorSelectsAll",
                      {sidecar("production", "a-default"), sidecar("production", "z", Labels{})}, kWeb,
                      "production|production/z"},
        SelectionCase{"SeveralMatchesLowestNameAndWarn",
                      {sidecar("production", "b", Labels{{"app", "web"}}),
                       sidecar("production", "a", Labels{{"tier", "front"}})},
                      kWeb, "production|production/a", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CompilerSidecarSelection, NoMergeWithRootSidecar) {
  // The namespace Sidecar imports only its own namespace; the root one would
  // import everything, but Sidecars are never merged.
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.sidecars = {sidecar("istio-system", "default", std::nullopt, {"*/*"}),
                   sidecar("production", "default", std::nullopt, {"./*"})};
  snap.service_entries = {serviceEntry("ext", "a", {"a.example.com"}, {"192.0.2.1"}, {port(443)}),
                          serviceEntry("production", "b", {"b.example.com"}, {"192.0.2.2"}, {port(443)})};
  snap.workloads = {workload("production", "web"), workload("staging", "web")};
  expectProbes(compileAll(snap), {
                                     {"production/web", "192.0.2.1", 443, kTcp, kDenied, kNotInRegistry},
                                     {"production/web", "192.0.2.2", 443, kTcp, kAllowed, kMatch, "production/b"},
                                     {"staging/web", "192.0.2.1", 443, kTcp, kAllowed, kMatch, "ext/a"},
                                     {"staging/web", "192.0.2.2", 443, kTcp, kAllowed, kMatch, "production/b"},
                                 });
}

TEST(CompilerSidecarSelection, WorkloadsShareScopeBySidecar) {
  policy::PolicySnapshot snap;
  snap.sidecars = {sidecar("production", "web", Labels{{"app", "web"}})};
  snap.workloads = {workload("production", "web-1", {{"app", "web"}}), workload("production", "web-2", {{"app", "web"}}),
                    workload("production", "db"), workload("staging", "web", {{"app", "web"}})};
  auto out = compileAll(snap);
  ASSERT_EQ(out.scopes.size(), 3u);
  EXPECT_EQ(scopeOf(out, "production/web-1"), scopeOf(out, "production/web-2"));
  EXPECT_NE(scopeOf(out, "production/web-1"), scopeOf(out, "production/db"));
  EXPECT_EQ(scopeOf(out, "staging/web")->key, "staging|");
  EXPECT_EQ(scopeOf(out, "production/web-1")->sidecar, "production/web");
}

struct ModeCase {
  const char* name;
  OutboundMode mesh;
  std::optional<OutboundMode> sidecar;  // nullopt: Sidecar without outboundTrafficPolicy
  bool has_sidecar;
  egressd_verdict verdict;
  egressd_reason reason;
};

class CompilerOutboundMode : public ::testing::TestWithParam<ModeCase> {};

TEST_P(CompilerOutboundMode, SidecarOverridesMesh) {
  const auto& c = GetParam();
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = c.mesh;
  if (c.has_sidecar) snap.sidecars.push_back(sidecar("production", "default", std::nullopt, {}, c.sidecar));
  snap.service_entries.push_back(serviceEntry("ext", "se", {"api.example.com"}, {"192.0.2.10"}, {port(443)}));
  snap.workloads.push_back(workload("production", "app"));
  auto out = compileAll(snap);
  expectProbes(out, {
                        {"production/app", "198.51.100.1", 443, kTcp, c.verdict, c.reason},
                        {"production/app", "192.0.2.10", 80, kTcp, c.verdict, c.reason},
                        {"production/app", "192.0.2.10", 443, kTcp, kAllowed, kMatch, "ext/se"},
                    });
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerOutboundMode,
    ::testing::Values(
        ModeCase{"MeshAllowAny", OutboundMode::kAllowAny, std::nullopt, false, kAllowed, kAllowAny},
        ModeCase{"MeshRegistryOnly", OutboundMode::kRegistryOnly, std::nullopt, false, kDenied, kNotInRegistry},
        ModeCase{"SidecarWithoutModeKeepsMesh", OutboundMode::kRegistryOnly, std::nullopt, true, kDenied,
                 kNotInRegistry},
        ModeCase{"SidecarRegistryOnlyOverrides", OutboundMode::kAllowAny, OutboundMode::kRegistryOnly, true,
                 kDenied, kNotInRegistry},
        ModeCase{"SidecarAllowAnyOverrides", OutboundMode::kRegistryOnly, OutboundMode::kAllowAny, true, kAllowed,
                 kAllowAny}),
    [](const auto& info) { return std::string(info.param.name); });

// An excluded host is denied by name too: its DNS-learned IPs are not
// granted, while the other host of the same entry still is.
TEST(CompilerSidecarImport, ExcludedHostIsNotLearned) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry("ext", "se", {"api.example.com", "ok.example.com"}, {},
                                              {port(443, policy::PortProtocol::kTls)}, {},
                                              policy::Resolution::kDns));
  snap.sidecars.push_back(sidecar("production", "default", std::nullopt, {"*/*", "~/api.example.com"}));
  snap.workloads.push_back(workload("production", "app"));
  auto out = compileAll(snap);
  std::set<std::string> granted;
  for (const auto& g : out.host_grants) granted.insert(g.host);
  EXPECT_EQ(granted, (std::set<std::string>{"ok.example.com"}));
}

// Istio's sidecar scope keeps one namespace's copy of a hostname: the
// workload's own namespace if it has one, so another namespace's addresses
// for the same hostname are not reachable.
TEST(CompilerHostCollision, OwnNamespaceCopyWins) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry("production", "mine", {"api.example.com"}, {"192.0.2.10"}, {port(443)}));
  snap.service_entries.push_back(serviceEntry("other", "theirs", {"api.example.com"}, {"198.51.100.10"}, {port(443)}));
  snap.workloads.push_back(workload("production", "app"));
  snap.workloads.push_back(workload("third", "app"));
  auto out = compileAll(snap);
  expectProbes(out, {
                        {"production/app", "192.0.2.10", 443, kTcp, kAllowed, kMatch, "production/mine"},
                        {"production/app", "198.51.100.10", 443, kTcp, kDenied, kNotInRegistry},
                        // Neither namespace is the workload's: one copy (the lowest namespace) is kept.
                        {"third/app", "198.51.100.10", 443, kTcp, kAllowed, kMatch, "other/theirs"},
                        {"third/app", "192.0.2.10", 443, kTcp, kDenied, kNotInRegistry},
                    });
  bool warned = false;
  for (const auto& w : out.warnings) warned = warned || w.find("only that copy is used") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(CompilerHostCollision, DistinctHostnamesDoNotCollide) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry("production", "a", {"a.example.com"}, {"192.0.2.10"}, {port(443)}));
  snap.service_entries.push_back(serviceEntry("other", "b", {"b.example.com"}, {"198.51.100.10"}, {port(443)}));
  snap.workloads.push_back(workload("production", "app"));
  expectProbes(compileAll(snap), {
                                     {"production/app", "192.0.2.10", 443, kTcp, kAllowed, kMatch, "production/a"},
                                     {"production/app", "198.51.100.10", 443, kTcp, kAllowed, kMatch, "other/b"},
                                 });
}

// A partial wildcard ("*washingtonpost.com", accepted by Istio with a
// warning) matches whole labels nowhere in the kernel: nothing is learned.
TEST(CompilerSidecarImport, PartialWildcardHostIsNeverLearned) {
  policy::PolicySnapshot snap;
  snap.mesh.outbound_mode = OutboundMode::kRegistryOnly;
  snap.service_entries.push_back(serviceEntry("ext", "se", {"*washingtonpost.com"}, {},
                                              {port(443, policy::PortProtocol::kTls)}, {},
                                              policy::Resolution::kNone));
  snap.workloads.push_back(workload("production", "app"));
  EXPECT_TRUE(compileAll(snap).host_grants.empty());
}

}  // namespace
}  // namespace egressd::compiler::testing
