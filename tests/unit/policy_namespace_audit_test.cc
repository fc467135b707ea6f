// Audit mode per namespace: the core v1 Namespace object (file mode), its
// egressd.io/audit label validated like every other field, last valid
// version kept; and the compiler's audit flag with where it came from
// (--audit, the Workload's label, its Namespace's label).
#include <gtest/gtest.h>

#include "compiler_test_util.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "policy_test_util.h"

namespace egressd {
namespace {

std::string namespaceYaml(const std::string& name, const std::string& labels) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels:\n" + labels;
}

TEST(PolicyNamespace, ParsesNameAndLabels) {
  const auto parsed = policy::parseYaml(
      namespaceYaml("production", "    egressd.io/audit: \"true\"\n    team: payments\n"), "ns.yaml");
  ASSERT_TRUE(parsed.rejected.empty()) << policy::testing::reasons(parsed);
  ASSERT_EQ(parsed.namespaces.size(), 1u);
  const auto& ns = parsed.namespaces[0];
  EXPECT_EQ(ns.meta.name, "production");
  EXPECT_EQ(ns.meta.namespace_, "");  // cluster-scoped
  EXPECT_EQ(ns.meta.labels.at("egressd.io/audit"), "true");
  EXPECT_EQ(ns.source.file, "ns.yaml");
  EXPECT_EQ(ns.source.line, 1);
}

struct RejectCase {
  std::string description;
  std::string yaml;
  std::string reason;  // the whole message after the subject
  int line;
};

TEST(PolicyNamespace, RejectsWithFileLineAndField) {
  const std::vector<RejectCase> cases = {
      {"audit value other than true/false", namespaceYaml("production", "    egressd.io/audit: \"yes\"\n"),
       "Namespace production (ns.yaml:6): metadata.labels.egressd.io/audit \"yes\" is not \"true\" or \"false\"", 6},
      {"audit value, unquoted YAML bool in another spelling",
       namespaceYaml("production", "    app: x\n    egressd.io/audit: True\n"),
       "Namespace production (ns.yaml:7): metadata.labels.egressd.io/audit \"True\" is not \"true\" or \"false\"", 7},
      {"not a namespace name", namespaceYaml("Prod_1", "    egressd.io/audit: \"true\"\n"),
       "Namespace Prod_1 (ns.yaml:4): metadata.name \"Prod_1\" is not a valid namespace name", 4},
      {"unsupported apiVersion", "apiVersion: v2\nkind: Namespace\nmetadata: {name: production}\n",
       "Namespace production (ns.yaml:1): apiVersion \"v2\" is not supported; use v1", 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    const auto parsed = policy::parseYaml(c.yaml, "ns.yaml");
    EXPECT_TRUE(parsed.namespaces.empty());
    ASSERT_EQ(parsed.rejected.size(), 1u);
    EXPECT_EQ(parsed.rejected[0].kind, "Namespace");
    EXPECT_EQ(parsed.rejected[0].source.line, c.line);
    EXPECT_EQ(policy::describe(parsed.rejected[0]), c.reason);
  }
}

TEST(PolicyNamespace, BadValueKeepsThePreviousValidVersion) {
  policy::PolicyStore store;
  store.apply(policy::parseYaml(namespaceYaml("production", "    egressd.io/audit: \"true\"\n"), "ns.yaml"));
  ASSERT_EQ(store.snapshot().namespaces.size(), 1u);
  const auto report =
      store.apply(policy::parseYaml(namespaceYaml("production", "    egressd.io/audit: \"on\"\n"), "ns.yaml"));
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].reason.find("stays in force"), std::string::npos) << report.rejected[0].reason;
  ASSERT_EQ(store.snapshot().namespaces.size(), 1u);
  EXPECT_EQ(store.snapshot().namespaces[0].meta.labels.at("egressd.io/audit"), "true");
  // Removed from the directory: gone.
  store.apply(policy::parseYaml("", "ns.yaml"));
  EXPECT_TRUE(store.snapshot().namespaces.empty());
}

TEST(PolicyNamespace, WorkloadWithABadValueIsWarnedNotRejected) {
  const auto parsed = policy::parseYaml(R"(apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production, labels: {egressd.io/audit: "yes"}}
spec: {cgroup: /web}
)",
                                        "w.yaml");
  EXPECT_TRUE(parsed.rejected.empty()) << policy::testing::reasons(parsed);
  EXPECT_EQ(parsed.workloads.size(), 1u);  // rejecting it would leave it unenforced
  EXPECT_NE(policy::testing::warnings(parsed).find(
                "Workload production/web (w.yaml:3): metadata.labels.egressd.io/audit \"yes\" is not \"true\" or "
                "\"false\": ignored"),
            std::string::npos)
      << policy::testing::warnings(parsed);
}

struct AuditCase {
  std::string description;
  bool mesh_audit;
  std::optional<std::string> namespace_label;
  std::optional<std::string> workload_label;
  bool audit;
  std::string source_has;  // "" = no source
};

TEST(CompilerAudit, FlagAndWhereItCameFrom) {
  const std::vector<AuditCase> cases = {
      {"nothing set", false, std::nullopt, std::nullopt, false, ""},
      {"--audit", true, std::nullopt, std::nullopt, true, "--audit (mesh-wide)"},
      {"--audit has no opt-out", true, std::nullopt, "false", true, "--audit (mesh-wide)"},
      {"Namespace label", false, "true", std::nullopt, true,
       "Namespace production label egressd.io/audit: \"true\" (ns.yaml:1)"},
      {"Namespace label false", false, "false", std::nullopt, false, "Namespace production"},
      {"Workload label", false, std::nullopt, "true", true,
       "Workload production/web label egressd.io/audit: \"true\""},
      {"Workload opts out of its Namespace", false, "true", "false", false,
       "Workload production/web label egressd.io/audit: \"false\""},
      {"Workload opts in, Namespace off", false, "false", "true", true, "Workload production/web"},
      {"Workload's bad value reads as unset", false, "true", "yes", true, "Namespace production"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    policy::PolicySnapshot s;
    compiler::testing::Labels labels;
    if (c.workload_label) labels["egressd.io/audit"] = *c.workload_label;
    s.workloads = {compiler::testing::workload("production", "web", labels),
                   compiler::testing::workload("staging", "app")};
    if (c.namespace_label) {
      policy::Namespace ns;
      ns.meta.name = "production";
      ns.meta.labels["egressd.io/audit"] = *c.namespace_label;
      ns.source = {"ns.yaml", 1};
      s.namespaces = {ns};
    }
    compiler::CompileOptions options;
    options.audit = c.mesh_audit;
    const auto out = compiler::testing::compileAll(s, options);
    const auto flags = [&](const std::string& w) {
      return out.desired.workloads.at(egressd_workload_key{out.workload_cgroups.at(w)}).flags;
    };
    EXPECT_EQ((flags("production/web") & EGRESSD_WORKLOAD_F_AUDIT) != 0, c.audit);
    // Another namespace's label never leaks.
    EXPECT_EQ((flags("staging/app") & EGRESSD_WORKLOAD_F_AUDIT) != 0, c.mesh_audit);
    const auto& setting = out.workload_audit.at("production/web");
    EXPECT_EQ(setting.on, c.audit);
    if (c.source_has.empty()) {
      EXPECT_EQ(setting.source, "");
    } else {
      EXPECT_NE(setting.source.find(c.source_has), std::string::npos) << setting.source;
    }
  }
}

// From YAML to the verdict: a would-be denial of a workload in an audited
// Namespace is audit.
TEST(CompilerAudit, NamespaceLabelFromYamlAuditsDenials) {
  policy::PolicyStore store;
  store.apply(policy::parseYaml(R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: staging
  labels: {egressd.io/audit: "true"}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: staging}
spec: {cgroup: /app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: production}
spec: {cgroup: /web}
)",
                                "p.yaml"));
  const auto out = compiler::testing::compileAll(store.snapshot());
  auto app = compiler::explainConnection(out, "staging/app", "198.51.100.20", 80, compiler::testing::kTcp);
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->verdict, EGRESSD_VERDICT_AUDIT);
  auto web = compiler::explainConnection(out, "production/web", "198.51.100.20", 80, compiler::testing::kTcp);
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->verdict, EGRESSD_VERDICT_DENIED);
  EXPECT_EQ(out.workload_audit.at("staging/app").source,
            "Namespace staging label egressd.io/audit: \"true\" (p.yaml:5)");
}

}  // namespace
}  // namespace egressd
